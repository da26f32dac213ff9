//! Task 1 — the lazy model: train LazyCNN on the biased train split and show that it learned
//! colour: high train accuracy, near-chance hard-test accuracy, a red 1 read as a 0.
//!
//! The run itself is the training frame's ([`crate::train::train_run`], plain cross-entropy);
//! this task names it and keeps the report's numbers.

use crate::data::BiasedMnist;
use crate::error::Result;
use crate::models::ModelKind;
use crate::nn::Module;
use crate::train::run_folder::{RunPlan, REFERENCE_LAZY_TRAIN_ACC};
use crate::train::{train_run, Method, RunRecord, TrainConfig};
use std::path::Path;

/// The report's numbers for Task 1 (percent).
pub const REFERENCE_TRAIN_ACC: f64 = REFERENCE_LAZY_TRAIN_ACC;
pub const REFERENCE_HARD_ACC: f64 = 17.8;

/// Train one LazyCNN with plain cross-entropy and write its outputs into `out`.
pub fn run(
    data: &BiasedMnist,
    cfg: &TrainConfig,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<(RunRecord, Box<dyn Module>)> {
    let plan = RunPlan {
        kind: ModelKind::Lazy,
        method: &Method::Plain,
        suppression: None,
        cfg,
        // The study owns its folders: a re-run replaces them.
        mode: crate::train::run_folder::FolderMode::Overwrite,
    };
    train_run(&plan, data, out, log)
}
