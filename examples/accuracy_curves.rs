//! Train and hard-test accuracy per epoch of two or more training runs, on one chart — the check
//! that a convolution algorithm does not change what a model learns (BENCHMARKS.md: ShapeCNN
//! trained with im2col, with Winograd F(4×4) and with `auto`, same seed).
//!
//! ```sh
//! SHORTCUT_CONV=im2col    shortcut train shape --epochs 10 --out runs/im2col
//! SHORTCUT_CONV=winograd4 shortcut train shape --epochs 10 --out runs/winograd4
//! SHORTCUT_CONV=auto      shortcut train shape --epochs 10 --out runs/auto
//! cargo run --release --example accuracy_curves -- curves.png runs/im2col runs/winograd4 runs/auto
//! ```
//!
//! Each run folder's `metrics.json` gives the curves, labelled with the folder's name; the table
//! of both accuracies per epoch is printed too.

use shortcut::plots::line_chart_png;
use shortcut::{Error, Result};
use std::path::Path;

/// The per-epoch accuracies of one run folder.
struct Curves {
    label: String,
    train: Vec<f32>,
    hard: Vec<f32>,
}

fn read(dir: &str) -> Result<Curves> {
    let path = Path::new(dir).join("metrics.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Invalid(format!("{} is not JSON: {e}", path.display())))?;
    let series = |key: &str| -> Result<Vec<f32>> {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_f64())
                    .map(|x| x as f32)
                    .collect()
            })
            .ok_or_else(|| Error::Invalid(format!("{} has no {key}", path.display())))
    };
    let label = Path::new(dir)
        .file_name()
        .map_or(dir.to_string(), |n| n.to_string_lossy().to_string());
    Ok(Curves {
        label,
        train: series("train_acc")?,
        hard: series("hard_acc")?,
    })
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, dirs @ ..] = args.as_slice() else {
        return Err(Error::Invalid(
            "usage: accuracy_curves OUT.png RUN_DIR...".into(),
        ));
    };
    if dirs.is_empty() {
        return Err(Error::Invalid("give at least one run folder".into()));
    }
    let runs: Vec<Curves> = dirs.iter().map(|d| read(d)).collect::<Result<_>>()?;
    let labels: Vec<(String, String)> = runs
        .iter()
        .map(|r| (format!("{} hard", r.label), format!("{} train", r.label)))
        .collect();
    let mut series: Vec<(&str, &[f32])> = Vec::new();
    for (r, (hard, train)) in runs.iter().zip(&labels) {
        series.push((hard.as_str(), &r.hard));
        series.push((train.as_str(), &r.train));
    }
    line_chart_png(
        Path::new(out),
        "ShapeCNN, seed 0: accuracy per epoch by convolution algorithm",
        "epoch",
        "accuracy (%)",
        &series,
        &[],
        Some((0.0, 100.0)),
    )
    .map_err(|e| Error::Invalid(e.0))?;
    print!("epoch");
    for r in &runs {
        print!("  {:>12} train  {:>12} hard", r.label, r.label);
    }
    println!();
    let epochs = runs.iter().map(|r| r.hard.len()).max().unwrap_or(0);
    for e in 0..epochs {
        print!("{:5}", e + 1);
        for r in &runs {
            let at = |v: &[f32]| v.get(e).map_or("-".into(), |x| format!("{x:.2}"));
            print!("  {:>18}  {:>17}", at(&r.train), at(&r.hard));
        }
        println!();
    }
    Ok(())
}
