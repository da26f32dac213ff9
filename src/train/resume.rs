//! Continuing a training run exactly where it stopped.
//!
//! After every epoch — and when the user interrupts, after the step in progress — a run writes
//! `resume.safetensors` (atomically, like every file of ours): the model's parameters
//! (`model.<name>`), the optimizer's state (`optimizer.<name>`: Adam's moments), what the
//! training step carries from batch to batch (`step.<name>`: LfF's biased model and loss
//! averages; nothing for the other methods), the epoch's
//! running loss and correct count (`progress.*`, as the exact f32 values the loop holds), and
//! as metadata the epoch and step reached, every finished epoch's record and the run's *key* —
//! its settings as JSON. Everything else a run depends on is a pure function of (seed, epoch,
//! sample index): the colours, the noise, the shuffle, the jitter. So a run continued from this
//! file computes the same batches in the same order from the same numbers, and ends with the
//! same bytes as one that never stopped (a test kills the real binary and compares).

use super::EpochRecord;
use crate::checkpoint;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::optim::{Optimizer, OptimizerState};
use crate::tensor::Tensor;
use std::path::Path;

/// The file's name inside a run folder.
pub const RESUME_FILE: &str = "resume.safetensors";

/// Where a run stands.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// The epoch in progress (0-based): `epoch == epochs` once training is done.
    pub epoch: usize,
    /// Batches of that epoch already done.
    pub step: usize,
    /// The epoch's running sums so far (the loop's own f32 accumulators).
    pub loss_sum: f32,
    pub correct: f32,
    pub seen: usize,
    /// Training seconds of that epoch so far.
    pub seconds: f64,
    /// Every finished epoch.
    pub records: Vec<EpochRecord>,
}

fn meta_err(path: &Path, what: &str) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        msg: format!("{what} is missing or malformed: not a resume file of this version"),
    }
}

/// Write the resume file of a run with settings `key`; `step_state` is what the training step
/// carries from batch to batch ([`super::Step::state`]; empty for most), kept as `step.<name>`.
pub fn save(
    path: &Path,
    model: &dyn Module,
    opt: &dyn Optimizer,
    step_state: &[(String, Tensor)],
    p: &Progress,
    key: &str,
) -> Result<()> {
    let dev = model
        .parameters()
        .first()
        .map(|t| t.device())
        .unwrap_or(Device::Cpu);
    let mut tensors: Vec<(String, Tensor)> = model
        .state_dict()
        .into_iter()
        .map(|(n, t)| (format!("model.{n}"), t))
        .collect();
    let state = opt.state();
    tensors.extend(
        state
            .tensors
            .into_iter()
            .map(|(n, t)| (format!("optimizer.{n}"), t)),
    );
    tensors.extend(
        step_state
            .iter()
            .map(|(n, t)| (format!("step.{n}"), t.clone())),
    );
    tensors.push((
        "progress.loss_sum".into(),
        Tensor::from_vec(vec![p.loss_sum], [1], dev)?,
    ));
    tensors.push((
        "progress.correct".into(),
        Tensor::from_vec(vec![p.correct], [1], dev)?,
    ));
    let meta = vec![
        ("shortcut.resume.key".to_string(), key.to_string()),
        ("shortcut.resume.epoch".to_string(), p.epoch.to_string()),
        ("shortcut.resume.step".to_string(), p.step.to_string()),
        ("shortcut.resume.seen".to_string(), p.seen.to_string()),
        ("shortcut.resume.seconds".to_string(), p.seconds.to_string()),
        ("shortcut.resume.records".to_string(), to_json(&p.records)?),
        (
            "shortcut.resume.counters".to_string(),
            to_json(&state.counters)?,
        ),
    ];
    checkpoint::save_with_metadata(path, &tensors, &meta)
}

/// What a resume file says about its run, without loading the tensors: (key, epoch, step).
pub fn peek(path: &Path) -> Result<(String, usize, usize)> {
    let meta = checkpoint::load_metadata(path)?;
    let get = |k: &str| meta.get(k).ok_or_else(|| meta_err(path, k));
    let num = |k: &str| -> Result<usize> { get(k)?.parse().map_err(|_| meta_err(path, k)) };
    Ok((
        get("shortcut.resume.key")?.clone(),
        num("shortcut.resume.epoch")?,
        num("shortcut.resume.step")?,
    ))
}

/// Restore `model` and `opt` from the resume file of a run with settings `key`, and return
/// where the run stands. A file of a run with other settings is refused: continuing it would
/// give neither run.
pub fn load(
    path: &Path,
    model: &dyn Module,
    opt: &mut dyn Optimizer,
    key: &str,
) -> Result<Progress> {
    let (saved_key, epoch, step) = peek(path)?;
    if saved_key != key {
        return Err(Error::Invalid(format!(
            "{} belongs to a run with other settings ({saved_key}); this run is {key}. \
Use the same settings to resume, or --overwrite to start over",
            path.display()
        )));
    }
    let meta = checkpoint::load_metadata(path)?;
    let dev = model
        .parameters()
        .first()
        .map(|t| t.device())
        .unwrap_or(Device::Cpu);
    let tensors = checkpoint::load(path, dev)?;
    let model_part: std::collections::HashMap<String, Tensor> = tensors
        .iter()
        .filter_map(|(n, t)| n.strip_prefix("model.").map(|s| (s.to_string(), t.clone())))
        .collect();
    let counters: Vec<(String, u64)> = meta
        .get("shortcut.resume.counters")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| meta_err(path, "shortcut.resume.counters"))?;
    let state = OptimizerState {
        tensors: tensors
            .iter()
            .filter_map(|(n, t)| {
                n.strip_prefix("optimizer.")
                    .map(|s| (s.to_string(), t.clone()))
            })
            .collect(),
        counters,
    };
    let records: Vec<EpochRecord> = meta
        .get("shortcut.resume.records")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| meta_err(path, "shortcut.resume.records"))?;
    let scalar = |name: &str| -> Result<f32> {
        tensors
            .get(name)
            .ok_or_else(|| meta_err(path, name))?
            .to_scalar()
    };
    let num = |k: &str| -> Result<f64> {
        meta.get(k)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| meta_err(path, k))
    };
    let progress = Progress {
        epoch,
        step,
        loss_sum: scalar("progress.loss_sum")?,
        correct: scalar("progress.correct")?,
        seen: num("shortcut.resume.seen")? as usize,
        seconds: num("shortcut.resume.seconds")?,
        records,
    };
    if progress.records.len() != epoch {
        return Err(meta_err(path, "the epoch records"));
    }
    model
        .load_state_dict(&model_part)
        .map_err(|e| Error::Checkpoint {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?;
    opt.load_state(&state)?;
    Ok(progress)
}

/// The training step's state in a resume file (the `step.*` tensors, without the prefix; empty
/// for a step that keeps none).
pub fn load_step_state(
    path: &Path,
    device: Device,
) -> Result<std::collections::HashMap<String, Tensor>> {
    Ok(checkpoint::load(path, device)?
        .into_iter()
        .filter_map(|(n, t)| n.strip_prefix("step.").map(|s| (s.to_string(), t)))
        .collect())
}

fn to_json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(e.to_string()))
}
