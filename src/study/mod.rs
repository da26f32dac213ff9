//! The study (SPEC Tasks 0–6), one file per task, plus the HTML report.
//!
//! [`run_study`] runs Tasks 0–6 (training Task 1's and Task 4's models before Tasks 2, 3, 5 and
//! 6 explain, attack and decompose them) and writes one folder: `index.html` (every figure
//! inline, our numbers next to the report's), `results.json`, and a sub-folder per task with
//! its PNGs, metrics and checkpoints.
//!
//! | module | what it does |
//! | --- | --- |
//! | [`task`] | what a task is: its id, needs, units, analyses, result and report section |
//! | [`registry`] | the list of tasks, in running order; `--tasks` |
//! | [`plan`] | the calibration and cost model of the estimate |
//! | [`work`] | the units the chosen tasks consist of, which are finished, the plan printed first |
//! | [`run`] | runs those units in order with the overall progress bar, then writes the report |
//! | [`units`] | keeps each finished unit with its key, and reuses or redoes it |
//! | `task0` … `task6` | each task: its units, its computation and its part of `index.html` |
//! | [`report`], [`summary`] | the page: head, summary, contents, sections, timing |

pub mod explain;
pub mod plan;
pub mod registry;
pub mod report;
pub mod rerender;
pub mod run;
pub mod summary;
pub mod task;
pub mod task0;
pub mod task1;
pub mod task2;
pub mod task3;
pub mod task4;
pub mod task5;
pub mod task6;
pub mod units;
pub mod work;

#[cfg(test)]
mod extension_test;

pub use run::{run_study, run_study_with};

/// The study's results, in its folder.
pub const RESULTS_FILE: &str = "results.json";
pub use task::{Task, TaskId};

use crate::device::Device;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How much of the study to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A few minutes or less: 2 epochs of every run on 5,000 samples per split, one seed. For
    /// smoke tests.
    Quick,
    /// The SPEC's settings (every run's own epochs, all samples), one seed.
    Default,
    /// The SPEC's settings over three seeds (mean ± std), plus the method × architecture table.
    Full,
}

impl Profile {
    /// The name `--profile` takes.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Default => "default",
            Profile::Full => "full",
        }
    }

    /// The value for this profile of a `(the SPEC's settings, quick)` pair (`full` runs the
    /// SPEC's settings).
    pub fn pick<T>(self, (spec, quick): (T, T)) -> T {
        match self {
            Profile::Quick => quick,
            Profile::Default | Profile::Full => spec,
        }
    }

    /// Parse `quick`, `default` or `full`.
    pub fn parse(s: &str) -> Result<Profile> {
        match s {
            "quick" => Ok(Profile::Quick),
            "default" => Ok(Profile::Default),
            "full" => Ok(Profile::Full),
            other => Err(Error::Invalid(format!(
                "unknown profile '{other}': expected quick, default or full"
            ))),
        }
    }
}

/// Settings of a study run (the profile's defaults, possibly overridden from the CLI).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudyConfig {
    pub profile: Profile,
    #[serde(with = "crate::device::serde_name")]
    pub device: Device,
    pub seeds: Vec<u64>,
    /// Epochs of every run; `None`: each run's SPEC epochs (LazyCNN 10, consistency 25, …).
    pub epochs: Option<usize>,
    pub limit: Option<usize>,
    pub batch: usize,
    pub lr: f32,
    pub bias: f32,
    pub data_dir: PathBuf,
    /// The tasks asked for (`--tasks`; what they need is added when the study runs).
    pub tasks: Vec<TaskId>,
    /// Redo every unit, reusing nothing (`--fresh`).
    pub fresh: bool,
    #[serde(skip)]
    pub progress: bool,
}

impl StudyConfig {
    /// The defaults of a profile.
    pub fn for_profile(profile: Profile, device: Device, data_dir: PathBuf) -> StudyConfig {
        let (seeds, epochs, limit) = match profile {
            Profile::Quick => (vec![0], Some(2), Some(5000)),
            Profile::Default => (vec![0], None, None),
            Profile::Full => (vec![0, 1, 2], None, None),
        };
        StudyConfig {
            profile,
            device,
            seeds,
            epochs,
            limit,
            batch: 64,
            lr: 1e-3,
            bias: 0.95,
            data_dir,
            tasks: registry::ids(&registry::TASKS),
            fresh: false,
            progress: false,
        }
    }
}

/// The most seeds a study runs (each is a full set of training runs).
pub const MAX_SEEDS: usize = 100;

impl StudyConfig {
    /// Check every setting before any work, so a mistake never leaves half a report behind.
    pub fn validate(&self) -> Result<()> {
        if self.seeds.is_empty() || self.seeds.len() > MAX_SEEDS {
            return Err(Error::Invalid(format!(
                "--seeds must be between 1 and {MAX_SEEDS}"
            )));
        }
        if let Some(e) = self.epochs {
            if e == 0 || e > crate::train::MAX_EPOCHS {
                return Err(Error::Invalid(format!(
                    "--epochs must be between 1 and {}, got {e}",
                    crate::train::MAX_EPOCHS
                )));
            }
        }
        if self.tasks.is_empty() {
            return Err(Error::Invalid(
                "--tasks: choose at least one task (e.g. --tasks 0,1,4)".into(),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::Invalid(format!(
                "--lr must be a positive number, got {}",
                self.lr
            )));
        }
        if self.limit == Some(0) {
            return Err(Error::Invalid("--limit must be at least 1".into()));
        }
        Ok(())
    }
}

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}

pub use crate::files::{write_atomic, write_json};

/// The study's results, serialized as `results.json` (every key: `docs/results.md`). Each
/// task's result is kept under its key (`task0` … `task6`, written by the task: see
/// [`task::Task::result`]); a task that was not run (`--tasks`) is `null`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StudyResults {
    pub config: StudyConfig,
    /// The study folder, as it was named (`--out`): the paths below begin with it, and
    /// `shortcut report` reads them from wherever the folder is now.
    pub folder: String,
    /// Wall time of this invocation (s): reused units cost almost nothing.
    pub seconds: f64,
    /// The tasks run: the chosen ones and what they need.
    pub tasks: Vec<TaskId>,
    /// The estimate made before any work.
    pub estimate: plan::Estimate,
    /// Wall time of each task in this invocation (s), by task number.
    pub task_seconds: std::collections::BTreeMap<String, f64>,
    /// Peak resident memory of the process during each task (MB; Linux only, else empty).
    pub task_peak_mb: std::collections::BTreeMap<String, f64>,
    /// Every unit (training run or analysis): reused, resumed, run or redone, and its time.
    pub units: Vec<units::UnitLog>,
    /// Each task's result by its key (`task4`), `null` for a task of the registry not run.
    #[serde(flatten)]
    pub results: std::collections::BTreeMap<String, serde_json::Value>,
}

impl StudyResults {
    /// The result of `task` as its type (`None` when it did not run).
    pub fn result<T: serde::de::DeserializeOwned>(&self, task: TaskId) -> Result<Option<T>> {
        task::result_of(self, task)
    }
}

pub use task1::Task1Summary;
pub use task2::Task2Summary;

/// The settings of a plain cross-entropy run of `kind` (Task 1's LazyCNN, the attention CNN):
/// the profile's epochs or the SPEC's for the model.
pub(crate) fn plain_config(
    cfg: &StudyConfig,
    kind: ModelKind,
    seed: u64,
) -> crate::train::TrainConfig {
    crate::train::TrainConfig {
        epochs: cfg
            .epochs
            .unwrap_or_else(|| crate::train::Method::Plain.default_epochs(kind)),
        batch: cfg.batch,
        lr: cfg.lr,
        seed,
        limit: cfg.limit,
        device: cfg.device,
        progress: cfg.progress,
    }
}
