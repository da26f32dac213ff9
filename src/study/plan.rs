//! Which tasks a study runs (`--tasks`, with what each needs), and how long it should take.
//!
//! **The estimate** is made before any work: a few training steps of each model are timed on
//! the chosen device ([`calibrate`]), and every unit's cost is counted in those steps — a
//! training run by its steps (times what its method costs over a plain step, measured once
//! and listed in [`method_factor`]) and its evaluation passes; an analysis by the number of
//! plain steps it cost when we measured it on a 2-core CPU (each task lists its own). It is an
//! estimate, printed as one; the study prints what each task really took at the end.

use super::StudyConfig;
use crate::data::{BiasedMnist, Split};
use crate::device::Device;
use crate::error::Result;
use crate::models::ModelKind;
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::train::{Batch, Method};
use std::collections::BTreeMap;
use std::time::Instant;

/// Seconds per training step (the study's batch, plain cross-entropy) of each model.
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    pub step_seconds: BTreeMap<&'static str, f64>,
}

impl Calibration {
    /// Seconds per training step of `kind` (0 when it was not timed).
    pub fn step(&self, kind: ModelKind) -> f64 {
        self.step_seconds.get(kind.name()).copied().unwrap_or(0.0)
    }
}

/// Time a few training steps of each model on `device` (after one untimed step that compiles
/// kernels and fills the buffer pools). About a second on a 2-core CPU.
pub fn calibrate(kinds: &[ModelKind], device: Device, batch: usize) -> Result<Calibration> {
    let mut cal = Calibration::default();
    let mut rng = Rng::new(0, 0);
    let x = Tensor::rand_uniform([batch, 3, 28, 28], 0.0, 1.0, &mut rng, device)?;
    let y: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let indices: Vec<usize> = (0..batch).collect();
    let step = Method::Plain.step(&crate::train::methods::StepContext {
        kind: ModelKind::Lazy,
        seed: 0,
        device,
        train_labels: Vec::new(),
    })?;
    for &kind in kinds {
        let model = kind.build(0, device)?;
        let mut opt = crate::optim::Adam::new(model.parameters(), 1e-3)?;
        // ShapeCNN's step is ~100× LazyCNN's: fewer repetitions keep the calibration short.
        let reps = if kind == ModelKind::Shape { 2 } else { 8 };
        let mut timed = 0.0;
        for r in 0..=reps {
            let start = Instant::now();
            crate::optim::Optimizer::zero_grad(&opt);
            let b = Batch {
                x: x.clone(),
                y: &y,
                indices: &indices,
                epoch: 0,
                seed: 0,
            };
            step.loss(model.as_ref(), &b)?.loss.backward()?;
            crate::optim::Optimizer::step(&mut opt)?;
            device.synchronize()?;
            if r > 0 {
                timed += start.elapsed().as_secs_f64();
            }
        }
        cal.step_seconds.insert(kind.name(), timed / reps as f64);
    }
    Ok(cal)
}

/// A method's training step over a plain cross-entropy step (measured on LazyCNN, 2-core CPU,
/// BENCHMARKS.md: consistency 2.15×, focal 1.0×, suppression 2.3×).
pub fn method_factor(method: &Method) -> f64 {
    match method {
        Method::Plain | Method::Focal { .. } => 1.0,
        Method::Consistency { .. } => 2.15,
        Method::Suppress { .. } => 2.3,
        // Two models trained, plus a per-sample loss read back every step (not measured yet:
        // the study does not train it).
        Method::Lff { .. } => 2.2,
    }
}

/// A forward pass of a batch over a training step (forward + backward + update).
const FORWARD_FRACTION: f64 = 0.3;

/// Estimated seconds of one training run.
pub fn training_seconds(
    cal: &Calibration,
    cfg: &StudyConfig,
    kind: ModelKind,
    method: &Method,
    epochs: usize,
    sizes: &SplitSizes,
) -> f64 {
    let step = cal.step(kind);
    let batches = |n: usize| n.div_ceil(cfg.batch) as f64;
    let train = epochs as f64 * batches(sizes.train) * step * method_factor(method);
    // Every epoch evaluates the hard and aligned splits; the end adds the final evaluations
    // and the conflict matrix (each test digit in each of the 10 colours).
    let per_epoch_eval = batches(sizes.hard) + batches(sizes.aligned);
    let final_eval = per_epoch_eval + 10.0 * batches(sizes.hard);
    train + (epochs as f64 * per_epoch_eval + final_eval) * step * FORWARD_FRACTION
}

/// Sizes of the three splits the study uses (after `--limit`).
#[derive(Clone, Copy, Debug)]
pub struct SplitSizes {
    pub train: usize,
    pub hard: usize,
    pub aligned: usize,
}

impl SplitSizes {
    /// The splits of `data` cut by `limit`.
    pub fn of(data: &BiasedMnist, limit: Option<usize>) -> SplitSizes {
        let n = |s| crate::train::split_len(data, s, limit);
        SplitSizes {
            train: n(Split::Train),
            hard: n(Split::Hard),
            aligned: n(Split::Aligned),
        }
    }
}

/// The estimate printed before the study starts (kept in `results.json`).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// Measured seconds per training step of each model on the chosen device.
    pub step_seconds: BTreeMap<String, f64>,
    /// Estimated seconds of each task's units still to do, by task number.
    pub task_seconds: BTreeMap<String, f64>,
    /// Units found finished (reused, not estimated).
    pub units_done: usize,
    pub units_to_do: usize,
    pub total_seconds: f64,
}

/// `93 s`, `14 min`, `2.3 h` (the progress bars and the report print durations alike).
pub use crate::progress::human;

/// The process's peak resident memory (MB) since the last call, then the peak is reset (Linux:
/// `VmHWM` in `/proc/self/status`, reset by writing 5 to `/proc/self/clear_refs`). `None` where
/// the system does not tell. The study calls it after each task: the peak of that task.
pub fn peak_rss_mb_since_last() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(42.0), "42 s");
        assert_eq!(human(600.0), "10 min");
        assert_eq!(human(3.0 * 3600.0), "3.0 h");
    }
}
