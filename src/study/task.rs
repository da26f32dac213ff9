//! What a study task is: an id, what it needs, the units it consists of, how one of its
//! analyses runs, how its units add up to its result, and its section of the report.
//!
//! A study is a list of **units** — a training run, or one analysis — each kept in its own
//! folder (see [`super::units`] for how a finished unit is found and reused). A task lists its
//! units for the study's settings ([`Task::units`]); the planner prices that list and prints it,
//! and the runner executes *the same* list, in order:
//!
//! - a [`Work::Train`] unit is run the same way for every task (the training frame, on the
//!   unit's seed, optionally with a suppression ranked on another unit's model);
//! - a [`Work::Analyse`] unit is run by its task ([`Task::analyse`]), given the models it reads.
//!
//! When its units are done, the task turns their records into its result ([`Task::result`]),
//! which `results.json` keeps under `task<N>`; the report renders the task's section from that
//! result alone ([`Task::section`]), so a finished study's page can be rendered again from
//! `results.json` without computing anything.
//!
//! Adding a task: a file with a type that implements [`Task`], and one line in
//! [`super::registry::TASKS`].

use super::{StudyConfig, StudyResults};
use crate::data::BiasedMnist;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::train::{Method, RunRecord, TrainConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The study's tasks, numbered as the SPEC numbers them ([`TaskId::number`]): that number names
/// the task's folder (`task4/…`), its key in `results.json` (`task4`) and `--tasks 4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskId {
    /// Task 0: the biased data set.
    Data,
    /// Task 1: the lazy model learns the colour.
    Shortcut,
    /// Task 2: what the lazy model learned (feature visualization, the attention CNN).
    Learned,
    /// Task 3: where the models look (Grad-CAM).
    GradCam,
    /// Task 4: debiasing methods.
    Debias,
    /// Task 5: adversarial attacks.
    Attacks,
    /// Task 6: sparse autoencoders.
    Sae,
    /// A small task that exists only in the registry's tests (number 7).
    #[cfg(test)]
    Probe,
}

impl TaskId {
    /// The SPEC's number of the task.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// `task4`: the task's folder and its key in `results.json`.
    pub fn key(self) -> String {
        format!("task{}", self.number())
    }
}

/// The study's own tasks, by number.
pub const STUDY_TASKS: [TaskId; 7] = [
    TaskId::Data,
    TaskId::Shortcut,
    TaskId::Learned,
    TaskId::GradCam,
    TaskId::Debias,
    TaskId::Attacks,
    TaskId::Sae,
];

impl TaskId {
    /// The task numbered `n`.
    pub fn from_number(n: u8) -> Option<TaskId> {
        #[cfg(test)]
        if n == TaskId::Probe.number() {
            return Some(TaskId::Probe);
        }
        STUDY_TASKS.iter().copied().find(|t| t.number() == n)
    }
}

/// Written as its number, as `results.json` and `--tasks` know it.
impl serde::Serialize for TaskId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u8(self.number())
    }
}

impl<'de> serde::Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<TaskId, D::Error> {
        let n = u8::deserialize(d)?;
        TaskId::from_number(n)
            .ok_or_else(|| serde::de::Error::custom(format!("there is no task {n}")))
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// A trained model that analyses read: which run made it and what to call it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRef {
    /// `plain — LazyCNN`: the method and the model, as the report names it.
    pub label: String,
    /// Its run folder, relative to the study folder.
    pub folder: String,
    pub kind: ModelKind,
    /// The training method's name (`plain`, `consistency`, …).
    pub method: String,
}

/// A training unit: one run of the training frame.
#[derive(Clone, Debug)]
pub struct TrainUnit {
    pub kind: ModelKind,
    pub method: Method,
    pub config: TrainConfig,
    /// Neuron suppression ranks its channels on the model of this earlier unit (its folder).
    pub ranked_on: Option<String>,
    /// The label analyses call this model by, when they read it (`None`: no analysis does).
    pub read_as: Option<String>,
}

/// An analysis unit: its task computes it from the models it reads.
#[derive(Clone, Debug)]
pub struct AnalysisUnit {
    /// Everything its result depends on besides the models (the task's settings, the limit,
    /// the device, …): the settings part of its key.
    pub settings: Value,
    /// The models it reads; their weights' hashes are the other part of its key.
    pub reads: Vec<ModelRef>,
}

/// What a unit does.
#[derive(Clone, Debug)]
pub enum Work {
    Train(TrainUnit),
    Analyse(AnalysisUnit),
}

/// One unit of a task: its folder, what it does, what it should cost.
#[derive(Clone, Debug)]
pub struct Unit {
    pub task: TaskId,
    /// Its folder, relative to the study folder (unique in a study).
    pub folder: String,
    /// What the study's log says when it starts (`LazyCNN, seed 0`).
    pub label: String,
    pub work: Work,
    /// Estimated seconds (see [`super::plan`]).
    pub cost: f64,
}

impl Unit {
    /// The training run this unit is, if it is one.
    pub fn train(&self) -> Option<&TrainUnit> {
        match &self.work {
            Work::Train(t) => Some(t),
            Work::Analyse(_) => None,
        }
    }

    /// The model this training unit makes, as analyses read it (`None` for an analysis, or a
    /// model that no analysis reads).
    pub fn model(&self) -> Option<ModelRef> {
        let t = self.train()?;
        Some(ModelRef {
            label: t.read_as.clone()?,
            folder: self.folder.clone(),
            kind: t.kind,
            method: t.method.name().to_string(),
        })
    }
}

/// What a task may use to list its units.
pub struct Setup<'a> {
    pub cfg: &'a StudyConfig,
    /// The training step's measured time of each model, the split sizes: for the costs.
    pub cal: &'a super::plan::Calibration,
    pub sizes: super::plan::SplitSizes,
    /// The models listed so far that analyses read, in the order they were listed (Task 1's
    /// lazy model, Task 4's models, Task 2's attention CNN).
    pub models: Vec<ModelRef>,
}

impl Setup<'_> {
    /// The first seed: analyses read its models.
    pub fn seed0(&self) -> u64 {
        self.cfg.seeds.first().copied().unwrap_or(0)
    }

    /// The estimated seconds of training `kind` with `method` for `epochs`.
    pub fn training_cost(&self, kind: ModelKind, method: &Method, epochs: usize) -> f64 {
        super::plan::training_seconds(self.cal, self.cfg, kind, method, epochs, &self.sizes)
    }

    /// The estimated seconds of an analysis that costs `steps` training steps of `kind`.
    pub fn analysis_cost(&self, kind: ModelKind, steps: f64) -> f64 {
        steps * self.cal.step(kind)
    }

    /// The settings part of an analysis unit's key, `config` being the task's own settings.
    pub fn analysis_settings(&self, task: TaskId, config: Value) -> Value {
        serde_json::json!({
            "task": task.number(),
            "config": config,
            "limit": self.cfg.limit,
            "device": self.cfg.device.to_string(),
            "seed": self.seed0(),
            "bias": self.cfg.bias,
        })
    }

    /// An analysis unit of `task` in `folder` that reads `reads`, with the task's own
    /// settings `config`.
    pub fn analysis(
        &self,
        task: TaskId,
        (folder, label): (String, String),
        config: Value,
        reads: Vec<ModelRef>,
        cost: f64,
    ) -> Unit {
        Unit {
            task,
            folder,
            label,
            work: Work::Analyse(AnalysisUnit {
                settings: self.analysis_settings(task, config),
                reads,
            }),
            cost,
        }
    }

    /// A training unit of `task` in `folder`.
    pub fn training(&self, task: TaskId, folder: String, label: String, t: TrainUnit) -> Unit {
        Unit {
            task,
            cost: self.training_cost(t.kind, &t.method, t.config.epochs),
            folder,
            label,
            work: Work::Train(t),
        }
    }
}

/// One analysis to compute: the unit, what it reads (the study's settings, the data of the
/// first seed, its models), the folder it writes into and the study's log.
pub struct Job<'a> {
    pub unit: &'a Unit,
    pub cfg: &'a StudyConfig,
    pub data: &'a BiasedMnist,
    /// The unit's models, in the order the unit lists them.
    pub models: Vec<(&'a ModelRef, &'a dyn Module)>,
    /// The unit's folder, empty when the analysis starts.
    pub dir: &'a Path,
    pub log: &'a mut dyn FnMut(&str),
}

/// The finished units of the study so far, by folder: what a task's result is made of.
#[derive(Default)]
pub struct Board {
    pub runs: BTreeMap<String, (RunRecord, Box<dyn Module>)>,
    pub analyses: BTreeMap<String, Value>,
}

impl Board {
    /// The record of the training run in `folder`.
    pub fn run(&self, folder: &str) -> Result<&RunRecord> {
        self.runs
            .get(folder)
            .map(|r| &r.0)
            .ok_or_else(|| missing(folder))
    }

    /// The model the training run in `folder` made.
    pub fn model(&self, folder: &str) -> Result<&dyn Module> {
        self.runs
            .get(folder)
            .map(|r| r.1.as_ref())
            .ok_or_else(|| missing(folder))
    }

    /// The result of the analysis in `folder`, as its type.
    pub fn analysis<T: serde::de::DeserializeOwned>(&self, folder: &str) -> Result<T> {
        let v = self.analyses.get(folder).ok_or_else(|| missing(folder))?;
        serde_json::from_value(v.clone())
            .map_err(|e| Error::Invalid(format!("the result of {folder} does not read: {e}")))
    }
}

fn missing(folder: &str) -> Error {
    Error::Invalid(format!(
        "internal: the study has no finished unit {folder} (a task read a unit it did not list)"
    ))
}

/// What a task's result is made from once its units are done.
pub struct Finished<'a> {
    pub cfg: &'a StudyConfig,
    /// The study folder.
    pub out: &'a Path,
    /// This task's units, as listed.
    pub units: &'a [Unit],
    pub board: &'a Board,
}

/// What a task is called and what it needs.
pub struct About {
    pub id: TaskId,
    /// A few words for the contents and the plan: `debiasing`.
    pub title: &'static str,
    /// The tasks whose units it reads: they run first, and `--tasks` pulls them in.
    pub needs: &'static [TaskId],
}

/// A task of the study. See the module's documentation.
pub trait Task: Sync {
    /// Its id, title and needs.
    fn about(&self) -> &About;

    fn id(&self) -> TaskId {
        self.about().id
    }

    fn title(&self) -> &'static str {
        self.about().title
    }

    fn needs(&self) -> &'static [TaskId] {
        self.about().needs
    }

    /// Its units for these settings, in the order they run.
    fn units(&self, setup: &Setup) -> Result<Vec<Unit>>;

    /// Compute one of its analysis units into `job.dir`; the result is what `results.json`
    /// and a later study read back. (A task without analyses never gets called.)
    fn analyse(&self, job: Job) -> Result<Value> {
        Err(Error::Invalid(format!(
            "internal: task {} has no analysis {}",
            self.id(),
            job.unit.folder
        )))
    }

    /// A line for the log once an analysis unit is done or reused (`None`: nothing to say).
    fn describe(&self, unit: &Unit, result: &Value) -> Option<String> {
        let _ = (unit, result);
        None
    }

    /// Its result from its finished units (kept in `results.json` under [`TaskId::key`]).
    fn result(&self, done: &Finished) -> Result<Value>;

    /// Its section of `index.html`, from the study's results (the folder `out` holds the
    /// figures).
    fn section(&self, results: &StudyResults, out: &Path) -> Result<String>;
}

/// A task's result read back from `results.json` as its type (`None` when it did not run).
pub fn result_of<T: serde::de::DeserializeOwned>(
    r: &StudyResults,
    task: TaskId,
) -> Result<Option<T>> {
    match r.results.get(&task.key()) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            Error::Invalid(format!(
                "results.json: the result of task {task} does not read: {e}"
            ))
        }),
    }
}

/// A result as a JSON value, written out and read back as text: so a number keeps the digits
/// its own type prints (an `f32` stays `0.048738893` in `results.json`, where
/// A task's section of the report: `render` of its result, or nothing when it did not run.
pub fn section_of<T: serde::de::DeserializeOwned>(
    r: &StudyResults,
    task: TaskId,
    render: impl FnOnce(T) -> Result<String>,
) -> Result<String> {
    match result_of::<T>(r, task)? {
        Some(t) => render(t),
        None => Ok(String::new()),
    }
}

/// `serde_json::to_value` would widen it to `0.04873889312148094`) and reads back bit for bit.
pub fn to_value(v: impl serde::Serialize) -> Result<Value> {
    let text = serde_json::to_string(&v)
        .map_err(|e| Error::Invalid(format!("cannot record a result: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("cannot record a result: {e}")))
}
