//! What several commands read the same way: the data folder, a checkpoint, a split, a class.

use crate::cli_args::DataArgs;
use shortcut::data::{self, fetch, mnist, BiasedMnist, Split};
use shortcut::train::run_folder::LoadedModel;
use shortcut::{Device, Error, Result};
use std::path::{Path, PathBuf};

/// Print a line of the command's output.
pub fn say(s: &str) {
    println!("{s}");
}

/// Find MNIST, or download it into ./data/mnist when no local copy exists.
pub fn resolve_data(args: &DataArgs) -> Result<PathBuf> {
    match data::find_data_dir(args.data_dir.as_deref()) {
        Ok(dir) => Ok(dir),
        Err(_) if args.data_dir.is_some() || std::env::var_os("SHORTCUT_DATA").is_some() => {
            let (flag, d) = match &args.data_dir {
                Some(d) => (format!("--data-dir {}", d.display()), d.clone()),
                None => {
                    let d = PathBuf::from(std::env::var_os("SHORTCUT_DATA").unwrap_or_default());
                    (format!("$SHORTCUT_DATA={}", d.display()), d)
                }
            };
            Err(Error::Invalid(format!(
                "{flag}: no MNIST there ({}); fix the path or run `shortcut data fetch --dir {}`",
                mnist::describe_absence(&d),
                d.display()
            )))
        }
        Err(tried) => {
            let dir = PathBuf::from("data/mnist");
            say(&format!(
                "MNIST not found in {}; downloading it into {}",
                tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                dir.display()
            ));
            fetch_into(&dir, &[])?;
            Ok(dir)
        }
    }
}

/// Download MNIST into `dir`, trying the `extra` mirrors first.
pub fn fetch_into(dir: &Path, extra: &[String]) -> Result<()> {
    let mut mirrors: Vec<String> = extra.to_vec();
    mirrors.extend(fetch::DEFAULT_MIRRORS.iter().map(|s| s.to_string()));
    fetch::fetch_mnist(dir, &mirrors, &mut |s| say(&format!("  {s}")))
        .map_err(|e| Error::Invalid(e.to_string()))
}

/// Biased MNIST of `seed` and `bias` (colours drawn anew every epoch when `redraw`).
pub fn load_data(args: &DataArgs, seed: u64, bias: f32, redraw: bool) -> Result<BiasedMnist> {
    let dir = resolve_data(args)?;
    BiasedMnist::new(mnist::load(&dir)?, seed, bias, redraw)
}

pub fn check_bias(bias: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&bias) {
        return Err(Error::Invalid(format!(
            "--bias must be between 0 and 1, got {bias}"
        )));
    }
    Ok(())
}

pub fn check_limit(limit: Option<usize>) -> Result<()> {
    if limit == Some(0) {
        return Err(Error::Invalid("--limit must be at least 1".into()));
    }
    Ok(())
}

/// Load a checkpoint of ours, saying so when it re-attaches a suppression hook.
pub fn load_checkpoint(path: &Path, device: Device) -> Result<LoadedModel> {
    let loaded = shortcut::train::run_folder::load_model(path, device)?;
    if let Some(s) = &loaded.suppression {
        say(&format!(
            "{}: applying its neuron-suppression hook on {} (colour channels {:?} × {}, shape channels {:?} × {})",
            path.display(),
            s.layer,
            s.color_channels,
            s.suppress,
            s.shape_channels,
            s.amplify
        ));
    }
    Ok(loaded)
}

/// `train`, `hard` or `aligned`.
pub fn parse_split(s: &str) -> Result<Split> {
    Split::ALL
        .into_iter()
        .find(|x| x.name() == s)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "unknown split '{s}': expected train, hard or aligned"
            ))
        })
}

/// A class given as `flag`: a digit 0–9.
pub fn class_arg(flag: &str, v: Option<i64>) -> Result<Option<usize>> {
    match v {
        Some(c) if !(0..10).contains(&c) => Err(Error::Invalid(format!(
            "{flag} {c}: classes are digits 0–9"
        ))),
        Some(c) => Ok(Some(c as usize)),
        None => Ok(None),
    }
}
