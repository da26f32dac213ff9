//! SPEC Task 6's SAE training (64 → 256, λ = 5e-4 mean L1, Adam 1e-3, batch 128) on 60,000
//! activation vectors: the workload of `benches/pytorch_sae.py`, for a side-by-side ratio
//! (BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example sae_speed -- [--epochs 10] [--samples 60000] [--device cpu]
//! ```
//!
//! The activations are ReLU(N(0, 1)) (speed does not depend on their values). Prints one JSON
//! line: the epochs, the seconds and the seconds per epoch.

use shortcut::interp::sae::{train, Sae, SaeConfig};
use shortcut::{Device, Result, Rng, Tensor};

#[path = "support/args.rs"]
mod support;

use support::{arg, count};

fn main() {
    support::exit_on_error(run);
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |name: &str, default: &str| count(&args, name, default);
    let (epochs, samples) = (parse("--epochs", "10")?, parse("--samples", "60000")?);
    let device = Device::parse(&arg(&args, "--device", "cpu"))?;
    let mut rng = Rng::new(0, 0);
    let data: Vec<f32> = (0..samples * 64).map(|_| rng.normal().max(0.0)).collect();
    let x = Tensor::from_vec(data, [samples, 64], device)?;
    let cfg = SaeConfig {
        epochs,
        ..SaeConfig::SPEC
    };
    let sae = Sae::new(64, cfg.width, cfg.kind, cfg.seed, device)?;
    let log = train(&sae, &x, &cfg, &mut |_, _| {})?;
    println!(
        "{{\"engine\": \"shortcut\", \"epochs\": {epochs}, \"samples\": {samples}, \"seconds\": {:.3}, \"seconds_per_epoch\": {:.4}, \"final_loss\": {:.4e}}}",
        log.seconds,
        log.seconds / epochs.max(1) as f64,
        log.loss.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
