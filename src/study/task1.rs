//! Task 1 — the lazy model: train LazyCNN on the biased train split and show that it learned
//! colour: high train accuracy, near-chance hard-test accuracy, a red 1 read as a 0.
//!
//! The run itself is the training frame's ([`crate::train::train_run`], plain cross-entropy),
//! started by the study ([`super::run`]); this module keeps the report's numbers.

use crate::train::run_folder::REFERENCE_LAZY_TRAIN_ACC;

/// The report's numbers for Task 1 (percent).
pub const REFERENCE_TRAIN_ACC: f64 = REFERENCE_LAZY_TRAIN_ACC;
pub const REFERENCE_HARD_ACC: f64 = 17.8;
