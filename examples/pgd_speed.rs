//! Targeted L∞ PGD-40 (α = ε/10) on 1,000 images, per model: the workload of
//! `benches/pytorch_pgd.py`, for a side-by-side ratio (BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example pgd_speed -- [--images 1000] [--repeats 3] [--models lazy,shape] [--device cpu]
//! ```
//!
//! Random weights and random images in [0, 1] (speed does not depend on them), batches of 250,
//! the parameters frozen so backward computes only the input gradient. Prints one JSON line per
//! model: the seconds of each repeat and images per second (median).

use shortcut::interp::attack::{pgd, Goal, Pgd};
use shortcut::models::ModelKind;
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
    let (images, repeats, batch) = (parse("--images", "1000")?, parse("--repeats", "3")?, 250);
    if images == 0 || repeats == 0 {
        return Err(shortcut::Error::Invalid(
            "--images and --repeats must be at least 1".into(),
        ));
    }
    let device = Device::parse(&arg(&args, "--device", "cpu"))?;
    let models = arg(&args, "--models", "lazy,shape");
    let mut rng = Rng::new(0, 0);
    let x = Tensor::rand_uniform([images, 3, 28, 28], 0.0, 1.0, &mut rng, device)?;
    let t = vec![3usize; images];
    for kind in [ModelKind::Lazy, ModelKind::Shape] {
        if !models.contains(kind.slug()) {
            continue;
        }
        let model = kind.build(0, device)?;
        model.set_training(false);
        pgd(
            model.as_ref(),
            &x.slice(0, 0, batch.min(images))?,
            &t[..batch.min(images)],
            Goal::Targeted,
            Pgd {
                steps: 2,
                ..Pgd::spec(0.05)
            },
        )?;
        let mut secs = Vec::new();
        for _ in 0..repeats {
            let s = std::time::Instant::now();
            let mut i = 0;
            while i < images {
                let n = batch.min(images - i);
                let adv = pgd(
                    model.as_ref(),
                    &x.slice(0, i, n)?,
                    &t[i..i + n],
                    Goal::Targeted,
                    Pgd::spec(0.05),
                )?;
                adv.to_vec()?; // wait for the device
                i += n;
            }
            secs.push(s.elapsed().as_secs_f64());
        }
        let mut sorted = secs.clone();
        sorted.sort_by(f64::total_cmp);
        let med = sorted[sorted.len() / 2];
        println!(
            "{{\"model\": \"{}\", \"device\": \"{device}\", \"images\": {images}, \"seconds\": {:?}, \"images_per_second\": {:.1}}}",
            kind.name(),
            secs.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            images as f64 / med
        );
    }
    Ok(())
}
