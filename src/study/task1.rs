//! Task 1 — the lazy model: train LazyCNN on the biased train split and show that it learned
//! colour: high train accuracy, near-chance hard-test accuracy, a red 1 read as a 0.
//!
//! Its units are one training run per seed (the training frame, [`crate::train::train_run`],
//! plain cross-entropy); this module turns them into the task's numbers beside the report's.

use super::task::{section_of, About, Finished, Setup, Task, TaskId, TrainUnit, Unit};
use super::{mean_std, plain_config, StudyResults};
use crate::data::COLOR_NAMES;
use crate::error::Result;
use crate::models::ModelKind;
use crate::report::render;
use crate::train::run_folder::REFERENCE_LAZY_TRAIN_ACC;
use crate::train::{Method, RunRecord};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The report's numbers for Task 1 (percent).
pub const REFERENCE_TRAIN_ACC: f64 = REFERENCE_LAZY_TRAIN_ACC;
pub const REFERENCE_HARD_ACC: f64 = 17.8;

/// Task 1 over all seeds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Task1Summary {
    pub runs: Vec<RunRecord>,
    pub train_acc_mean_std: (f64, f64),
    pub hard_acc_mean_std: (f64, f64),
    pub aligned_acc_mean_std: (f64, f64),
    pub reference_train_acc: f64,
    pub reference_hard_acc: f64,
}

/// The run folder of the lazy model of `seed`, relative to the study folder (Task 4's baseline
/// row and the analyses read it too).
pub fn run_folder(seed: u64) -> String {
    format!("task1/seed-{seed}")
}

/// Task 1 in the study: one training unit per seed.
pub struct ShortcutTask;

impl Task for ShortcutTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::Shortcut,
            title: "the lazy model",
            needs: &[],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let units = s.cfg.seeds.iter().map(|&seed| {
            let train = TrainUnit {
                kind: ModelKind::Lazy,
                method: Method::Plain,
                config: plain_config(s.cfg, ModelKind::Lazy, seed),
                ranked_on: None,
                // The analyses read the first seed's lazy model.
                read_as: (seed == s.seed0()).then(|| "plain — LazyCNN".to_string()),
            };
            let label = format!("LazyCNN, seed {seed}");
            s.training(self.id(), run_folder(seed), label, train)
        });
        Ok(units.collect())
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        let runs = done
            .units
            .iter()
            .map(|u| done.board.run(&u.folder).cloned())
            .collect::<Result<Vec<_>>>()?;
        super::task::to_value(summary(runs))
    }

    fn section(&self, r: &StudyResults, out: &Path) -> Result<String> {
        section_of(r, self.id(), |t1: Task1Summary| section_html(&t1, out))
    }
}

/// The final epoch's accuracies over the seeds' runs.
fn summary(runs: Vec<RunRecord>) -> Task1Summary {
    let finals = |f: &dyn Fn(&RunRecord) -> f64| mean_std(&runs.iter().map(f).collect::<Vec<_>>());
    Task1Summary {
        train_acc_mean_std: finals(&|r| r.final_train_acc()),
        hard_acc_mean_std: finals(&|r| r.final_hard_acc()),
        aligned_acc_mean_std: finals(&|r| r.final_aligned_acc()),
        reference_train_acc: REFERENCE_TRAIN_ACC,
        reference_hard_acc: REFERENCE_HARD_ACC,
        runs,
    }
}

/// Task 1's section: the lazy model's accuracies beside the report's, the red-1 probe, a row
/// per seed, and the first seed's curves, confusion and conflict matrices.
fn section_html(t1: &Task1Summary, out: &Path) -> Result<String> {
    #[derive(Serialize)]
    struct View<'a> {
        t: &'a Task1Summary,
        n: usize,
        probe_predictions: String,
        first: Option<FirstSeed>,
        seeds: Vec<SeedRow>,
        colour_names: String,
    }
    /// The first seed's red-1 probe over all test 1s, and its figures.
    #[derive(Serialize)]
    struct FirstSeed {
        ones: usize,
        seed: u64,
        top_digit: usize,
        top_count: u32,
        top_pct: f64,
        curves: PathBuf,
        confusion: PathBuf,
        conflict: PathBuf,
    }
    #[derive(Serialize)]
    struct SeedRow {
        seed: u64,
        train: f64,
        hard: f64,
        aligned: f64,
        seconds_per_epoch: f64,
    }
    let probe_predictions: Vec<String> = t1
        .runs
        .iter()
        .map(|run| {
            format!(
                "{} ({:.0} % confident)",
                run.red1_probe.predicted,
                100.0 * run.red1_probe.probabilities[run.red1_probe.predicted]
            )
        })
        .collect();
    let first = t1.runs.first().map(|run| {
        let p = &run.red1_probe;
        let (top_digit, top_count) = p
            .all_ones_predicted
            .iter()
            .enumerate()
            .max_by_key(|(_, &n)| n)
            .map(|(d, &n)| (d, n))
            .unwrap_or((0, 0));
        let dir = out.join(format!("task1/seed-{}", run.config.seed));
        FirstSeed {
            ones: p.all_ones_count,
            seed: run.config.seed,
            top_digit,
            top_count,
            top_pct: 100.0 * top_count as f64 / p.all_ones_count.max(1) as f64,
            curves: dir.join("curves.png"),
            confusion: dir.join("confusion_hard.png"),
            conflict: dir.join("conflict_matrix.png"),
        }
    });
    let seeds = t1
        .runs
        .iter()
        .map(|run| SeedRow {
            seed: run.config.seed,
            train: run.final_train_acc(),
            hard: run.final_hard_acc(),
            aligned: *run.aligned_acc.last().unwrap_or(&0.0),
            seconds_per_epoch: run.epoch_seconds.iter().sum::<f64>()
                / run.epoch_seconds.len().max(1) as f64,
        })
        .collect();
    render(
        "task1.html",
        View {
            t: t1,
            n: t1.runs.len(),
            probe_predictions: probe_predictions.join(", "),
            first,
            seeds,
            colour_names: COLOR_NAMES.join(", "),
        },
    )
}
