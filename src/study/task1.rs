//! Task 1 — the lazy model: train LazyCNN on the biased train split and show that it learned
//! colour: high train accuracy, near-chance hard-test accuracy, a red 1 read as a 0.

use super::plots::{heatmap_png, line_chart_png};
use super::train::{
    conflict_matrix, evaluate, red1_probe, train_classifier, EpochRecord, Evaluation, Red1Probe,
    TrainConfig,
};
use crate::checkpoint::save_module;
use crate::data::{BiasedMnist, Split, COLOR_NAMES};
use crate::error::{Error, Result};
use crate::loss;
use crate::models::LazyCNN;
use crate::rng::Rng;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The report's numbers for Task 1 (percent).
pub const REFERENCE_TRAIN_ACC: f64 = 96.3;
pub const REFERENCE_HARD_ACC: f64 = 17.8;

/// Everything one LazyCNN training run produced; serialized as `metrics.json`.
#[derive(Clone, Debug, Serialize)]
pub struct LazyRun {
    pub model: &'static str,
    pub config: TrainConfig,
    pub bias: f32,
    pub redraw_per_epoch: bool,
    pub train_acc: Vec<f64>,
    pub train_loss: Vec<f64>,
    pub hard_acc: Vec<f64>,
    pub aligned_acc: Vec<f64>,
    pub epoch_seconds: Vec<f64>,
    /// Final hard-test evaluation; `confusion_hard[true][predicted]`.
    pub confusion_hard: Vec<Vec<u32>>,
    pub aligned: Evaluation,
    /// Accuracy (%) per (digit row, colour column) on test digits painted that colour.
    pub conflict_matrix: Vec<Vec<f64>>,
    pub conflict_colors: Vec<&'static str>,
    pub red1_probe: Red1Probe,
    pub reference: serde_json::Value,
    /// Files written (relative names inside the run's folder).
    pub files: Vec<String>,
}

impl LazyRun {
    pub fn final_train_acc(&self) -> f64 {
        *self.train_acc.last().unwrap_or(&0.0)
    }
    pub fn final_hard_acc(&self) -> f64 {
        *self.hard_acc.last().unwrap_or(&0.0)
    }
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(e.to_string())
}

/// Train one LazyCNN and write its outputs into `out`.
pub fn run(
    data: &BiasedMnist,
    cfg: &TrainConfig,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<(LazyRun, LazyCNN)> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
    let model = LazyCNN::new(&mut Rng::new(cfg.seed, 1), cfg.device)?;
    let records: Vec<EpochRecord> = train_classifier(
        &model,
        data,
        cfg,
        "LazyCNN",
        &|l, y| loss::cross_entropy(l, y),
        |r| {
            log(&format!(
                "epoch {:>2}: train {:5.1}%  hard {:5.1}%  aligned {:5.1}%  loss {:.4}  ({:.2} s)",
                r.epoch, r.train_acc, r.hard_acc, r.aligned_acc, r.train_loss, r.seconds
            ))
        },
    )?;
    let hard = evaluate(&model, data, Split::Hard, cfg.limit, cfg.device)?;
    let aligned = evaluate(&model, data, Split::Aligned, cfg.limit, cfg.device)?;
    let conflict = conflict_matrix(&model, data, cfg.limit, cfg.device)?;
    let probe = red1_probe(&model, data, cfg.device)?;

    let mut files = Vec::new();
    let ckpt = out.join("model.safetensors");
    save_module(&ckpt, &model)?;
    files.push("model.safetensors".to_string());

    let train: Vec<f32> = records.iter().map(|r| r.train_acc as f32).collect();
    let hard_curve: Vec<f32> = records.iter().map(|r| r.hard_acc as f32).collect();
    let aligned_curve: Vec<f32> = records.iter().map(|r| r.aligned_acc as f32).collect();
    line_chart_png(
        &out.join("curves.png"),
        "LazyCNN accuracy per epoch",
        "epoch",
        "accuracy (%)",
        &[
            ("train (biased)", &train),
            ("aligned test", &aligned_curve),
            ("hard test", &hard_curve),
        ],
        &[
            ("report: train 96.3%", REFERENCE_TRAIN_ACC as f32),
            ("report: hard 17.8%", REFERENCE_HARD_ACC as f32),
        ],
        Some((0.0, 100.0)),
    )
    .map_err(plot_err)?;
    files.push("curves.png".to_string());

    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let confusion_f: Vec<Vec<f32>> = hard
        .confusion
        .iter()
        .map(|r| r.iter().map(|&v| v as f32).collect())
        .collect();
    heatmap_png(
        &out.join("confusion_hard.png"),
        "Hard test: confusion matrix (counts)",
        "true digit",
        "predicted digit",
        &digits,
        &digits,
        &confusion_f,
        None,
        true,
        0,
    )
    .map_err(plot_err)?;
    files.push("confusion_hard.png".to_string());

    let colors: Vec<String> = COLOR_NAMES.iter().map(|s| s.to_string()).collect();
    let conflict_f: Vec<Vec<f32>> = conflict
        .iter()
        .map(|r| r.iter().map(|&v| v as f32).collect())
        .collect();
    heatmap_png(
        &out.join("conflict_matrix.png"),
        "Accuracy (%) on test digits painted each colour",
        "digit",
        "painted colour",
        &digits,
        &colors,
        &conflict_f,
        Some((0.0, 100.0)),
        true,
        0,
    )
    .map_err(plot_err)?;
    files.push("conflict_matrix.png".to_string());

    let run = LazyRun {
        model: "LazyCNN",
        config: cfg.clone(),
        bias: data.bias,
        redraw_per_epoch: data.redraw_per_epoch,
        train_acc: records.iter().map(|r| r.train_acc).collect(),
        train_loss: records.iter().map(|r| r.train_loss).collect(),
        hard_acc: records.iter().map(|r| r.hard_acc).collect(),
        aligned_acc: records.iter().map(|r| r.aligned_acc).collect(),
        epoch_seconds: records.iter().map(|r| r.seconds).collect(),
        confusion_hard: hard.confusion,
        aligned,
        conflict_matrix: conflict,
        conflict_colors: COLOR_NAMES.to_vec(),
        red1_probe: probe,
        reference: serde_json::json!({"train_acc": REFERENCE_TRAIN_ACC, "hard_acc": REFERENCE_HARD_ACC, "red1_probe": "predicts 0 (on mnist[1], which is a 0)"}),
        files: files.clone(),
    };
    files.push("metrics.json".to_string());
    let mut run = run;
    run.files = files;
    super::write_json(&out.join("metrics.json"), &run)?;
    Ok((run, model))
}

/// The files of a run, as absolute paths.
pub fn run_files(out: &Path, run: &LazyRun) -> Vec<PathBuf> {
    run.files.iter().map(|f| out.join(f)).collect()
}
