//! Seconds per training epoch of LazyCNN and ShapeCNN on one device, with the accuracies the
//! epochs reach — the whole-process numbers BENCHMARKS.md compares with PyTorch eager
//! (`benches/pytorch_eager.py` times the same epochs in PyTorch).
//!
//! ```sh
//! cargo run --release --example epoch_timing -- --device cuda --model both --epochs 3
//! cargo run --release --example epoch_timing -- --device cuda --model shape --epochs 20   # SPEC 4.3
//! ```
//!
//! Options: `--device cpu|cuda|wgpu|auto`, `--model lazy|shape|both`, `--epochs N`,
//! `--limit N` (first N samples of each split), `--data DIR` (MNIST; default: the CLI's search).
//! Every epoch prints its training seconds (evaluation excluded) and train/hard/aligned accuracy;
//! ShapeCNN's SPEC reference is 95.84 % on the hard split after 20 epochs (77 % by epoch 7),
//! LazyCNN's is ≈ 1 % on the hard split (it learns the colour).

use shortcut::data::{mnist, BiasedMnist};
use shortcut::models::ModelKind;
use shortcut::optim::Adam;
use shortcut::train::{fit, CrossEntropyStep, TrainConfig};
use shortcut::{Device, Result};
use std::path::PathBuf;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let device = Device::parse(&arg(&args, "--device").unwrap_or_else(|| "auto".into()))?;
    let which = arg(&args, "--model").unwrap_or_else(|| "both".into());
    let epochs: usize = arg(&args, "--epochs").map_or(3, |v| v.parse().unwrap_or(3));
    let limit: Option<usize> = arg(&args, "--limit").and_then(|v| v.parse().ok());
    let dir = arg(&args, "--data")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("SHORTCUT_DATA").map(PathBuf::from))
        .unwrap_or_else(|| {
            ["data/mnist", "../shared/data/mnist"]
                .iter()
                .map(PathBuf::from)
                .find(|p| mnist::is_present(p))
                .unwrap_or_else(|| PathBuf::from("data/mnist"))
        });
    let data = BiasedMnist::new(mnist::load(&dir)?, 0, 0.95, true)?;
    let cfg = TrainConfig {
        epochs,
        batch: 64,
        lr: 1e-3,
        seed: 0,
        limit,
        device,
        progress: false,
    };
    println!("device: {}", device.describe());
    let kinds = match which.as_str() {
        "lazy" => vec![ModelKind::Lazy],
        "shape" => vec![ModelKind::Shape],
        _ => vec![ModelKind::Lazy, ModelKind::Shape],
    };
    for kind in kinds {
        let (name, model) = (kind.name(), kind.build(0, device)?);
        let mut opt = Adam::new(model.parameters(), cfg.lr)?;
        let records = fit(
            model.as_ref(),
            &data,
            &cfg,
            &CrossEntropyStep,
            &mut opt,
            name,
            |r, _| {
                println!(
                    "{name} epoch {:>2}: {:.2} s  train {:5.1}%  hard {:5.1}%  aligned {:5.1}%  loss {:.4}",
                    r.epoch, r.seconds, r.train_acc, r.hard_acc, r.aligned_acc, r.train_loss
                );
                Ok(())
            },
        )?;
        let mut secs: Vec<f64> = records.iter().map(|r| r.seconds).collect();
        secs.sort_by(f64::total_cmp);
        println!(
            "{name}: median {:.2} s per epoch over {} epochs",
            secs[secs.len() / 2],
            secs.len()
        );
    }
    Ok(())
}
