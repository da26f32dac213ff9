//! One training run that writes its folder: every model, method and task goes through here.
//!
//! | file | when | content |
//! | --- | --- | --- |
//! | `model.safetensors` | after every epoch (atomic) | the weights under PyTorch's names; metadata `shortcut.model`, `shortcut.method` and, for suppression, `shortcut.suppression` (the hook `eval` re-attaches) |
//! | `curves.png` | at the end | train / aligned / hard accuracy per epoch, the report's numbers dashed |
//! | `confusion_hard.png` | at the end | hard-test confusion matrix |
//! | `conflict_matrix.png` | at the end | accuracy per (digit, painted colour) |
//! | `metrics.json` | last | [`RunRecord`]: per-epoch metrics, best and final hard accuracy, the method and its hyper-parameters, the evaluations |
//!
//! | `resume.safetensors` | after every epoch, and on Ctrl-C (atomic) | model, optimizer state and progress: `--resume` continues from it ([`super::resume`]); removed once the run is complete |
//! | `manifest.json` | very last | every file of the finished run with its MD5: readers trust only a folder that has one |
//!
//! **A folder is one unit.** Before any training the folder is checked: writable, room for the
//! checkpoints, temporary files of a killed run removed, and no other run's files in it (unless
//! `--overwrite` deletes them, or `--resume` continues that very run — its settings must be the
//! same). Every file is written to a temporary name and renamed; the manifest comes last. A loss
//! that becomes NaN stops the run; the last good epoch's checkpoint and resume file stay.

use super::methods::{Method, StepContext};
use super::resume::{self, Progress, RESUME_FILE};
use super::suppression::Suppression;
use super::{fit_from, EpochRecord, TrainConfig};
use crate::checkpoint::save_with_metadata;
use crate::data::{BiasedMnist, Split, COLOR_NAMES};
use crate::error::{Error, Result};
use crate::files::{write_manifest, MANIFEST};
use crate::measure::eval::{conflict_matrix, evaluate, red1_probe, Evaluation, Red1Probe};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::optim::Adam;
use crate::plots::{heatmap_png, line_chart_png};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The report's Task 1 train accuracy (%), drawn on the plain LazyCNN's curves.
pub const REFERENCE_LAZY_TRAIN_ACC: f64 = 96.3;

/// Everything one training run produced; serialized as `metrics.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub model: String,
    /// The method and its hyper-parameters (`{"method": "focal", "gamma": 2.0}`).
    pub method: Method,
    /// The training step's own description of its hyper-parameters.
    pub step: serde_json::Value,
    pub config: TrainConfig,
    pub bias: f32,
    pub redraw_per_epoch: bool,
    pub train_acc: Vec<f64>,
    pub train_loss: Vec<f64>,
    pub hard_acc: Vec<f64>,
    pub aligned_acc: Vec<f64>,
    pub epoch_seconds: Vec<f64>,
    /// The best hard-test accuracy over the epochs and its epoch (1-based). Selected on the
    /// test split, as the original report did: read it beside the final accuracy.
    pub best_hard_acc: f64,
    pub best_epoch: usize,
    /// Final hard-test evaluation; `confusion_hard[true][predicted]`.
    pub confusion_hard: Vec<Vec<u32>>,
    pub aligned: Evaluation,
    /// Accuracy (%) per (digit row, colour column) on test digits painted that colour.
    pub conflict_matrix: Vec<Vec<f64>>,
    pub conflict_colors: Vec<String>,
    pub red1_probe: Red1Probe,
    /// The neuron-suppression hook, when the method has one (attached in training and in
    /// every evaluation).
    pub suppression: Option<Suppression>,
    /// The report's numbers for this run, where it has them.
    pub reference: serde_json::Value,
    /// Files written (relative names inside the run's folder).
    pub files: Vec<String>,
}

impl RunRecord {
    pub fn final_train_acc(&self) -> f64 {
        *self.train_acc.last().unwrap_or(&0.0)
    }
    pub fn final_hard_acc(&self) -> f64 {
        *self.hard_acc.last().unwrap_or(&0.0)
    }
    pub fn final_aligned_acc(&self) -> f64 {
        *self.aligned_acc.last().unwrap_or(&0.0)
    }
    /// Mean training seconds per epoch.
    pub fn seconds_per_epoch(&self) -> f64 {
        self.epoch_seconds.iter().sum::<f64>() / self.epoch_seconds.len().max(1) as f64
    }
}

/// What to train.
pub struct RunPlan<'a> {
    pub kind: ModelKind,
    pub method: &'a Method,
    /// The ranked suppression hook (required by, and only used with, `Method::Suppress`).
    pub suppression: Option<&'a Suppression>,
    pub cfg: &'a TrainConfig,
    /// What to do when the folder already holds a run.
    pub mode: FolderMode,
}

/// What to do with an output folder that already holds a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FolderMode {
    /// Refuse (the default: a run never silently replaces another).
    #[default]
    Fresh,
    /// Delete the earlier run's files and start over.
    Overwrite,
    /// Continue the run whose resume file is there (same settings required).
    Resume,
}

/// The files a run writes into its folder, in the order `--overwrite` deletes them: first the
/// manifest (so a kill midway never leaves one listing deleted files), then the resume file.
const RUN_FILES: [&str; 7] = [
    MANIFEST,
    RESUME_FILE,
    "model.safetensors",
    "metrics.json",
    "curves.png",
    "confusion_hard.png",
    "conflict_matrix.png",
];

/// Is `f` in `out` a file of one of our runs? (A `manifest.json` of another tool is not.)
fn ours(out: &Path, f: &str) -> bool {
    if f == MANIFEST {
        crate::files::has_our_manifest(out)
    } else {
        out.join(f).exists()
    }
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(e.to_string())
}

/// Get `out` ready before any training: create it, remove temporaries a killed run left, make
/// sure a file can be written there, and decide what to do with a run already in it (see
/// [`FolderMode`]). Returns true when the run is to be resumed.
pub fn prepare_folder(out: &Path, mode: FolderMode, key: &str) -> Result<(bool, std::fs::File)> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
    // Held until the run ends: a second process cannot start in the folder meanwhile.
    let lock = crate::files::lock_folder(out)?;
    precheck(out, mode)?;
    let resuming = match mode {
        FolderMode::Fresh => false,
        FolderMode::Resume => {
            let (saved, _, _) = resume::peek(&out.join(RESUME_FILE))?;
            if saved != key {
                return Err(Error::Invalid(format!(
                    "{} holds a run with other settings ({}): resume it with those, or --overwrite to start over",
                    out.display(),
                    key_difference(&saved, key)
                )));
            }
            true
        }
        FolderMode::Overwrite => {
            for f in RUN_FILES
                .iter()
                .filter(|f| ours(out, f))
                .map(|f| out.join(f))
            {
                std::fs::remove_file(&f)
                    .map_err(|e| Error::Invalid(format!("cannot remove {}: {e}", f.display())))?;
            }
            false
        }
    };
    Ok((resuming, lock))
}

/// The settings that differ between two run keys: `epochs 3 there, 4 here; …`.
pub fn key_difference(there: &str, here: &str) -> String {
    let parse = |k: &str| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(k);
    match (parse(there), parse(here)) {
        (Ok(a), Ok(b)) => {
            let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
            names.sort();
            names.dedup();
            let none = serde_json::Value::Null;
            names
                .into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| {
                    format!(
                        "{k} {} there, {} here",
                        a.get(k).unwrap_or(&none),
                        b.get(k).unwrap_or(&none)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
        _ => format!("saved as {there}"),
    }
}

/// Why a fresh run may not start in `out` (None: it may).
fn refusal(out: &Path) -> Option<Error> {
    let has = |f: &str| out.join(f).exists();
    if has(RESUME_FILE) {
        let (_, epoch, _) = resume::peek(&out.join(RESUME_FILE)).unwrap_or_default();
        return Some(Error::Invalid(format!(
            "{} holds an unfinished run ({epoch} epoch(s) done): --resume continues it, --overwrite starts over",
            out.display()
        )));
    }
    if ours(out, MANIFEST) {
        return Some(Error::Invalid(format!(
            "{} holds a finished run: choose another --out, or --overwrite to replace it",
            out.display()
        )));
    }
    RUN_FILES.iter().find(|f| ours(out, f)).map(|f| {
        Error::Invalid(format!(
            "{} holds files of an earlier run ({f}, …): choose another --out, or --overwrite to replace them",
            out.display()
        ))
    })
}

/// The checks of [`prepare_folder`] that need no run settings, changing nothing: for a
/// command to make before any slow preparation (ranking channels, loading data).
pub fn precheck(out: &Path, mode: FolderMode) -> Result<()> {
    crate::files::ensure_writable(out)?;
    if out.join(MANIFEST).exists() && !ours(out, MANIFEST) {
        return Err(Error::Invalid(format!(
            "{} holds a {MANIFEST} that is not a shortcut run's; a run would write over it: choose another --out",
            out.display()
        )));
    }
    match mode {
        FolderMode::Fresh => refusal(out).map_or(Ok(()), Err),
        FolderMode::Resume if !out.join(RESUME_FILE).exists() => {
            if ours(out, MANIFEST) {
                Err(Error::Invalid(format!(
                    "the run in {} already finished: nothing to resume",
                    out.display()
                )))
            } else {
                Err(Error::Invalid(format!(
                    "nothing to resume in {}: it has no {RESUME_FILE}",
                    out.display()
                )))
            }
        }
        _ => Ok(()),
    }
}

/// Refuse to save weights that are not finite (a file we would refuse to load): the last good
/// files stay as they are.
fn check_finite(model: &dyn Module, epoch: usize) -> Result<()> {
    for (name, t) in model.state_dict() {
        if t.to_vec()?.iter().any(|v| !v.is_finite()) {
            return Err(Error::Numeric(format!(
                "the weights became non-finite ({name}, {epoch} epoch(s) done); nothing was saved over the last good files"
            )));
        }
    }
    Ok(())
}

/// Refuse to start when the folder's disk cannot hold the checkpoints: the model file, and the
/// resume file (the model again and Adam's two moments), twice each while a new one is written.
fn check_room(out: &Path, parameters: usize) -> Result<()> {
    let need = (2 * (4 * parameters * 4) + (1 << 20)) as u64;
    match crate::files::free_bytes(out) {
        Some(free) if free < need => Err(Error::Invalid(format!(
            "{} has {:.1} MB free; the run's checkpoints need {:.1} MB",
            out.display(),
            free as f64 / 1e6,
            need as f64 / 1e6
        ))),
        _ => Ok(()),
    }
}

/// A run's settings as one JSON line: a resume file records it, only a run with the same key
/// may continue from it, and the study reuses a finished run only when its key is the same.
pub fn run_key(plan: &RunPlan, data: &BiasedMnist) -> String {
    key_of(
        plan.kind.name(),
        plan.method,
        plan.cfg,
        data.bias,
        data.redraw_per_epoch,
        plan.suppression,
    )
}

/// The key of the run a finished folder's `metrics.json` describes (see [`run_key`]).
pub fn record_key(r: &RunRecord) -> String {
    key_of(
        &r.model,
        &r.method,
        &r.config,
        r.bias,
        r.redraw_per_epoch,
        r.suppression.as_ref(),
    )
}

fn key_of(
    model: &str,
    method: &Method,
    cfg: &TrainConfig,
    bias: f32,
    redraw_per_epoch: bool,
    suppression: Option<&Suppression>,
) -> String {
    serde_json::json!({
        "model": model,
        "method": method,
        "epochs": cfg.epochs,
        "batch": cfg.batch,
        "lr": cfg.lr,
        "seed": cfg.seed,
        "limit": cfg.limit,
        "device": cfg.device.to_string(),
        "bias": bias,
        "redraw_per_epoch": redraw_per_epoch,
        "suppression": suppression,
    })
    .to_string()
}

/// Train one model with one method and write its folder `out`. Returns the record and the
/// trained model (with the suppression hook still attached, when there is one).
pub fn train_run(
    plan: &RunPlan,
    data: &BiasedMnist,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<(RunRecord, Box<dyn Module>)> {
    let cfg = plan.cfg;
    cfg.validate()?;
    plan.method.validate()?;
    let suppression = match (plan.method, plan.suppression) {
        (Method::Suppress { .. }, Some(s)) => Some(s.clone()),
        (Method::Suppress { .. }, None) => {
            return Err(Error::Invalid(
                "the suppress method needs its channels ranked on a trained model first".into(),
            ))
        }
        _ => None,
    };
    let key = run_key(plan, data);
    let (resuming, _lock) = prepare_folder(out, plan.mode, &key)?;
    let model = plan.kind.build(cfg.seed, cfg.device)?;
    check_room(out, model.num_parameters())?;
    if let Some(s) = &suppression {
        // The handle is not kept: the hook stays on the returned model, as it is part of it.
        s.attach(model.as_ref())?;
    }
    let n_train = crate::measure::eval::split_len(data, Split::Train, cfg.limit);
    let step = plan.method.step(&StepContext {
        kind: plan.kind,
        seed: cfg.seed,
        device: cfg.device,
        train_labels: (0..n_train).map(|i| data.label(Split::Train, i)).collect(),
    })?;
    let mut meta = vec![
        ("shortcut.model".to_string(), plan.kind.name().to_string()),
        (
            "shortcut.method".to_string(),
            serde_json::to_string(plan.method).unwrap_or_default(),
        ),
    ];
    if let Some(s) = &suppression {
        meta.push(s.metadata()?);
    }
    let ckpt = out.join("model.safetensors");
    let label = format!("{} {}", plan.kind.name(), plan.method.name());
    // The step's own parameters (LfF's biased model) after the model's: one Adam steps both.
    let mut params = model.parameters();
    params.extend(step.extra_parameters());
    let mut opt = Adam::new(params, cfg.lr)?;
    let resume_path = out.join(RESUME_FILE);
    let start = if resuming {
        let p = resume::load(&resume_path, model.as_ref(), &mut opt, &key)?;
        step.restore(&resume::load_step_state(&resume_path, cfg.device)?)?;
        log(&format!(
            "resuming {label} in {}: {} of {} epochs done, {} steps into the next",
            out.display(),
            p.epoch,
            cfg.epochs,
            p.step
        ));
        p
    } else {
        // From the first moment the folder says "a run is in progress here": a kill before
        // the first epoch ends leaves nothing a reader would take for a finished run.
        resume::save(
            &resume_path,
            model.as_ref(),
            &opt,
            &step.state()?,
            &Progress::default(),
            &key,
        )?;
        Progress::default()
    };
    let mut last_saved = start.epoch;
    let records: Vec<EpochRecord> = fit_from(
        model.as_ref(),
        data,
        cfg,
        step.as_ref(),
        &mut opt,
        &label,
        start,
        |r, m| {
            log(&format!(
                "epoch {:>2}: train {:5.1}%  hard {:5.1}%  aligned {:5.1}%  loss {:.4}  ({:.2} s)",
                r.epoch, r.train_acc, r.hard_acc, r.aligned_acc, r.train_loss, r.seconds
            ));
            check_finite(m, r.epoch)?;
            save_with_metadata(&ckpt, &m.state_dict(), &meta)?;
            last_saved = r.epoch;
            Ok(())
        },
        &mut |p, m, o| {
            check_finite(m, p.epoch)?;
            resume::save(&resume_path, m, o, &step.state()?, p, &key)
        },
    )
    .map_err(|e| match e {
        Error::Interrupted(msg) => Error::Interrupted(format!(
            "{msg}; saved in {}. Run the same command with --resume to continue",
            out.display()
        )),
        Error::Numeric(msg) if last_saved > 0 => Error::Numeric(format!(
            "{msg}. The weights after epoch {last_saved} are kept in {} (copy the file out of the \
folder to use it); resuming would meet the same numbers: start over with a smaller --lr and --overwrite",
            ckpt.display()
        )),
        Error::Numeric(msg) => Error::Numeric(format!(
            "{msg}. No epoch finished: start over with a smaller --lr and --overwrite"
        )),
        other => other,
    })?;
    // The last epoch evaluated these very weights (unless it ran before a resume).
    let (hard, aligned) = match records.last().and_then(|r| r.evaluations.as_deref()) {
        Some((h, a)) => (h.clone(), a.clone()),
        None => (
            evaluate(model.as_ref(), data, Split::Hard, cfg.limit, cfg.device)?,
            evaluate(model.as_ref(), data, Split::Aligned, cfg.limit, cfg.device)?,
        ),
    };
    let conflict = conflict_matrix(model.as_ref(), data, cfg.limit, cfg.device)?;
    let probe = red1_probe(model.as_ref(), data, cfg.device)?;

    let reference_hard = plan.method.reference_hard_acc(plan.kind);
    let reference_train = (plan.kind == ModelKind::Lazy && *plan.method == Method::Plain)
        .then_some(REFERENCE_LAZY_TRAIN_ACC);
    let (best_epoch, best_hard_acc) = records
        .iter()
        .map(|r| (r.epoch, r.hard_acc))
        .fold((0, f64::NEG_INFINITY), |b, x| if x.1 > b.1 { x } else { b });
    let mut files = vec!["model.safetensors".to_string()];
    files.extend(write_figures(
        out,
        &label,
        &records,
        &hard,
        &conflict,
        reference_train,
        reference_hard,
    )?);
    files.push("metrics.json".to_string());
    let run = RunRecord {
        model: plan.kind.name().to_string(),
        method: plan.method.clone(),
        step: step.hyper(),
        config: cfg.clone(),
        bias: data.bias,
        redraw_per_epoch: data.redraw_per_epoch,
        train_acc: records.iter().map(|r| r.train_acc).collect(),
        train_loss: records.iter().map(|r| r.train_loss).collect(),
        hard_acc: records.iter().map(|r| r.hard_acc).collect(),
        aligned_acc: records.iter().map(|r| r.aligned_acc).collect(),
        epoch_seconds: records.iter().map(|r| r.seconds).collect(),
        best_hard_acc,
        best_epoch,
        confusion_hard: hard.confusion,
        aligned,
        conflict_matrix: conflict,
        conflict_colors: COLOR_NAMES.iter().map(|c| c.to_string()).collect(),
        red1_probe: probe,
        suppression,
        reference: serde_json::json!({
            "train_acc": reference_train,
            "hard_acc": reference_hard,
        }),
        files,
    };
    crate::files::write_json(&out.join("metrics.json"), &run)?;
    // The manifest marks the folder complete; only then is the resume file dropped.
    write_manifest(out, &run.files)?;
    if resume_path.exists() {
        std::fs::remove_file(&resume_path)
            .map_err(|e| Error::Invalid(format!("cannot remove {}: {e}", resume_path.display())))?;
    }
    Ok((run, model))
}

/// The run's three figures; returns their file names.
fn write_figures(
    out: &Path,
    label: &str,
    records: &[EpochRecord],
    hard: &Evaluation,
    conflict: &[Vec<f64>],
    reference_train: Option<f64>,
    reference_hard: Option<f64>,
) -> Result<Vec<String>> {
    let curve =
        |f: fn(&EpochRecord) -> f64| -> Vec<f32> { records.iter().map(|r| f(r) as f32).collect() };
    let (train, aligned, hard_curve) = (
        curve(|r| r.train_acc),
        curve(|r| r.aligned_acc),
        curve(|r| r.hard_acc),
    );
    let mut refs: Vec<(String, f32)> = Vec::new();
    if let Some(t) = reference_train {
        refs.push((format!("report: train {t}%"), t as f32));
    }
    if let Some(h) = reference_hard {
        refs.push((format!("report: hard {h}%"), h as f32));
    }
    let refs: Vec<(&str, f32)> = refs.iter().map(|(s, v)| (s.as_str(), *v)).collect();
    line_chart_png(
        &out.join("curves.png"),
        &format!("{label}: accuracy per epoch"),
        "epoch",
        "accuracy (%)",
        &[
            ("train (biased)", &train),
            ("aligned test", &aligned),
            ("hard test", &hard_curve),
        ],
        &refs,
        Some((0.0, 100.0)),
    )
    .map_err(plot_err)?;

    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let to_f32 = |m: Vec<Vec<f64>>| -> Vec<Vec<f32>> {
        m.into_iter()
            .map(|r| r.into_iter().map(|v| v as f32).collect())
            .collect()
    };
    let confusion: Vec<Vec<f64>> = hard
        .confusion
        .iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    heatmap_png(
        &out.join("confusion_hard.png"),
        "Hard test: confusion matrix (counts)",
        "true digit",
        "predicted digit",
        &digits,
        &digits,
        &to_f32(confusion),
        None,
        true,
        0,
    )
    .map_err(plot_err)?;
    let colors: Vec<String> = COLOR_NAMES.iter().map(|s| s.to_string()).collect();
    heatmap_png(
        &out.join("conflict_matrix.png"),
        "Accuracy (%) on test digits painted each colour",
        "digit",
        "painted colour",
        &digits,
        &colors,
        &to_f32(conflict.to_vec()),
        Some((0.0, 100.0)),
        true,
        0,
    )
    .map_err(plot_err)?;
    Ok(vec![
        "curves.png".into(),
        "confusion_hard.png".into(),
        "conflict_matrix.png".into(),
    ])
}

/// A model read back from a checkpoint of ours.
pub struct LoadedModel {
    pub kind: ModelKind,
    pub model: Box<dyn Module>,
    /// The neuron-suppression hook the checkpoint's metadata asked for, already attached.
    pub suppression: Option<Suppression>,
}

/// Load `path` (a `model.safetensors` written by a run): the model kind is told by the
/// parameter names, the weights are checked name by name and shape by shape, a suppression
/// hook saved in the metadata is re-attached, and the model is put in evaluation mode.
pub fn load_model(path: &Path, device: crate::device::Device) -> Result<LoadedModel> {
    if crate::files::check_against_manifest(path, RESUME_FILE)?
        == crate::files::FolderState::Unfinished
    {
        let dir = path.parent().unwrap_or(Path::new("."));
        let done = resume::peek(&dir.join(RESUME_FILE))
            .map(|(_, e, _)| e)
            .unwrap_or(0);
        return Err(Error::Invalid(format!(
            "{} belongs to an unfinished run ({done} epoch(s) done, no manifest): finish it with --resume, or copy the file out of the folder to use it as it is",
            path.display()
        )));
    }
    let tensors = crate::checkpoint::load(path, device)?;
    let Some(kind) = ModelKind::of_checkpoint(&tensors) else {
        let mut names: Vec<&String> = tensors.keys().collect();
        names.sort();
        return Err(Error::Invalid(format!(
            "{} is not a checkpoint of a known model (LazyCNN, ShapeCNN or AttentionCNN); it holds {:?}",
            path.display(),
            names
        )));
    };
    let model = kind.build(0, device)?;
    model
        .load_state_dict(&tensors)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let suppression = Suppression::from_metadata(&crate::checkpoint::load_metadata(path)?)?;
    if let Some(s) = &suppression {
        s.attach(model.as_ref())?;
    }
    model.set_training(false);
    Ok(LoadedModel {
        kind,
        model,
        suppression,
    })
}
