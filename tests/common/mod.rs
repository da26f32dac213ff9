//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod winograd_bounds;

use shortcut::{Device, Rng, Tensor};

/// A tensor of values uniform in [lo, hi).
pub fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed, 1);
    Tensor::rand_uniform(shape.to_vec(), lo, hi, &mut rng, Device::Cpu).unwrap()
}

/// Values whose magnitude is in [0.1, 1] with random signs: never within 0.1 of zero, so a
/// finite difference with h = 0.01 never crosses the kink of relu/abs/sign-dependent ops.
pub fn away_from_zero(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed, 2);
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| {
            let m = rng.uniform_range(0.1, 1.0);
            if rng.uniform() < 0.5 {
                -m
            } else {
                m
            }
        })
        .collect();
    Tensor::from_vec(v, shape.to_vec(), Device::Cpu).unwrap()
}

/// Distinct values (a shuffled grid spaced 0.05 apart, scaled into [-1, 1]) so that max-type ops
/// have no ties and a step of h = 0.01 never changes which element wins.
pub fn distinct(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let perm = Rng::new(seed, 3).permutation(n);
    let v = perm
        .iter()
        .map(|&i| (i as f32 - n as f32 / 2.0) * 0.05)
        .collect();
    Tensor::from_vec(v, shape.to_vec(), Device::Cpu).unwrap()
}

/// Largest |a − b| relative to (1 + |b|).
pub fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0.0, f32::max)
}

/// MNIST for the tests, found the way the CLI finds it — `$SHORTCUT_DATA`, `./data/mnist`,
/// `../shared/data/mnist` (the tests run in the package root) — or fetched, checksummed, into
/// `./data/mnist` when no copy exists. `None` only when there is no copy and the download
/// fails: the caller then skips, and this prints why. Under `CI=true` that is a failure
/// instead: CI must test on the real data.
pub fn mnist_dir() -> Option<std::path::PathBuf> {
    static FOUND: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            if let Ok(dir) = shortcut::data::find_data_dir(None) {
                return Some(std::fs::canonicalize(&dir).unwrap_or(dir));
            }
            let dir = std::path::PathBuf::from("data/mnist");
            let mirrors: Vec<String> = shortcut::data::fetch::DEFAULT_MIRRORS
                .iter()
                .map(|s| s.to_string())
                .collect();
            match shortcut::data::fetch::fetch_mnist(&dir, &mirrors, &mut |s| eprintln!("  {s}")) {
                Ok(()) => Some(std::fs::canonicalize(&dir).unwrap_or(dir)),
                Err(e) => {
                    let why = format!(
                        "no MNIST copy ($SHORTCUT_DATA, ./data/mnist, ../shared/data/mnist) and the download failed: {e}"
                    );
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!("{why}");
                    }
                    eprintln!("skipping a test that needs MNIST: {why}");
                    None
                }
            }
        })
        .clone()
}

/// Command-line arguments as owned strings.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}
