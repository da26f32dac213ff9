//! What a colour-consistency step costs next to a plain LazyCNN step (SPEC Task 4.1; goal: at
//! most 2.2×), measured interleaved — plain, consistency, plain, … — so that a machine whose
//! speed drifts during the run slows both alike. Prints the median of each and their ratio,
//! and the jitter's own time.
//!
//! ```sh
//! cargo run --release --example consistency_cost -- [--device cpu] [--rounds 200]
//! ```

use shortcut::models::ModelKind;
use shortcut::ops::color_jitter::ColorJitter;
use shortcut::optim::{Adam, Optimizer};
use shortcut::train::{Batch, ConsistencyStep, CrossEntropyStep, Step};
use shortcut::{Device, Result, Rng, Tensor};
use std::time::Instant;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let device = Device::parse(&arg(&args, "--device").unwrap_or_else(|| "cpu".into()))?;
    let rounds: usize = arg(&args, "--rounds").map_or(200, |v| v.parse().unwrap_or(200));
    let model = ModelKind::Lazy.build(0, device)?;
    let mut opt = Adam::new(model.parameters(), 1e-3)?;
    let x = Tensor::rand_uniform([64, 3, 28, 28], 0.0, 1.0, &mut Rng::new(1, 0), device)?;
    let y: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let indices: Vec<usize> = (0..64).collect();
    let consistency = ConsistencyStep {
        lambda: 5.0,
        jitter: ColorJitter::default(),
    };
    let steps: [&dyn Step; 2] = [&CrossEntropyStep, &consistency];
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..rounds + 10 {
        for (k, step) in steps.iter().enumerate() {
            let start = Instant::now();
            let batch = Batch {
                x: x.clone(),
                y: &y,
                indices: &indices,
                epoch: 0,
                seed: 0,
            };
            opt.zero_grad();
            step.loss(model.as_ref(), &batch)?.loss.backward()?;
            opt.step()?;
            device.synchronize()?;
            if round >= 10 {
                times[k].push(start.elapsed().as_secs_f64());
            }
        }
        let start = Instant::now();
        x.color_jitter(&consistency.jitter, ColorJitter::key(0, round), &indices)?;
        device.synchronize()?;
        if round >= 10 {
            times[2].push(start.elapsed().as_secs_f64());
        }
    }
    let [plain, cons, jitter] = times.map(median);
    println!("device: {}", device.describe());
    println!("LazyCNN step, batch 64, median of {rounds} (interleaved):");
    println!("  plain cross-entropy   {:8.3} ms", plain * 1e3);
    println!(
        "  colour consistency    {:8.3} ms   = {:.2} × plain",
        cons * 1e3,
        cons / plain
    );
    println!(
        "  of which the jitter   {:8.3} ms   ({:.0} images/s)",
        jitter * 1e3,
        64.0 / jitter
    );
    Ok(())
}
