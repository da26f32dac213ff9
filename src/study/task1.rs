//! Task 1 — the lazy model: train LazyCNN on the biased train split and show that it learned
//! colour: high train accuracy, near-chance hard-test accuracy, a red 1 read as a 0.
//!
//! Its units are one training run per seed (the training frame, [`crate::train::train_run`],
//! plain cross-entropy); this module turns them into the task's numbers beside the report's.

use super::task::{section_of, About, Finished, Setup, Task, TaskId, TrainUnit, Unit};
use super::{mean_std, plain_config, StudyResults};
use crate::error::Result;
use crate::models::ModelKind;
use crate::train::run_folder::REFERENCE_LAZY_TRAIN_ACC;
use crate::train::{Method, RunRecord};
use serde::{Deserialize, Serialize};
use std::path::Path;

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
        section_of(r, self.id(), |t1: Task1Summary| {
            super::report::task1_html(&t1, out)
        })
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
