//! Task 5 (every attack of the study, the curves, the colour attack and the transfer matrix) on
//! any set of our checkpoints, without retraining them — what `shortcut study` does with the
//! models it trained.
//!
//! ```sh
//! cargo run --release --example task5 -- --out task5-out runs/lazy-plain-seed0/model.safetensors \
//!     runs/lazy-consistency-seed0/model.safetensors runs/shape-plain-seed0/model.safetensors
//! ```
//!
//! Options: `--out DIR` (default `task5-out`), `--quick` (the quick profile's sizes),
//! `--device cpu|cuda|wgpu|auto` (default cpu), `--data DIR`. Writes `task5.json`, `task5.html` and the figures.

use shortcut::data::{mnist, BiasedMnist};
use shortcut::study::task5::{self, Task5Config};
use shortcut::train::run_folder::load_model;
use shortcut::{Device, Result};
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = PathBuf::from("task5-out");
    let (mut quick, mut device, mut data, mut ckpts) = (false, Device::Cpu, None, Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = it.next().map(PathBuf::from).unwrap_or(out),
            "--quick" => quick = true,
            "--device" => device = Device::parse(it.next().map(String::as_str).unwrap_or("auto"))?,
            "--data" => data = it.next().map(PathBuf::from),
            p => ckpts.push(PathBuf::from(p)),
        }
    }
    let dir = shortcut::data::find_data_dir(data.as_deref())
        .map_err(|_| shortcut::Error::Invalid("MNIST not found: pass --data DIR".into()))?;
    let d = BiasedMnist::new(mnist::load(&dir)?, 0, 0.95, true)?;
    let mut models = Vec::new();
    for p in &ckpts {
        let m = load_model(p, device)?;
        let label = p
            .parent()
            .and_then(|f| f.file_name())
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_else(|| m.kind.name().to_string());
        models.push((label, m));
    }
    let refs: Vec<(String, &dyn shortcut::nn::Module)> = models
        .iter()
        .map(|(l, m)| (l.clone(), m.model.as_ref()))
        .collect();
    let cfg = if quick {
        Task5Config::QUICK
    } else {
        Task5Config::DEFAULT
    };
    let t = task5::run(&refs, &d, cfg, None, device, &out, &mut |s| println!("{s}"))?;
    shortcut::files::write_json(&out.join("task5.json"), &t)?;
    let html = shortcut::report::page("Task 5", task5::section_html(&t)?)?;
    shortcut::files::write_atomic(&out.join("task5.html"), html.as_bytes())?;
    for m in &t.models {
        println!(
            "{}: smallest ε (PGD ≥ 90 %) {:?}, clean {:.1} %, median minimal ε {:?}, colour attack {:.0} % / {:.1} % ({:.0} s)",
            m.model,
            m.smallest_eps_pgd,
            100.0 * m.clean_accuracy,
            m.median_minimal_eps,
            100.0 * m.colour_source_success,
            100.0 * m.colour_targeted_success,
            m.seconds
        );
    }
    Ok(())
}
