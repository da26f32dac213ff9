//! The study (SPEC Tasks 0–6), one file per task, plus the HTML report.
//!
//! [`run_study`] runs Tasks 0–6 (training Task 4's models before Tasks 2, 3, 5 and 6 explain,
//! attack and decompose them)
//! and writes one folder:
//! `index.html` (every figure inline, our numbers next to the report's), `results.json`, and a
//! sub-folder per task with its PNGs, metrics and checkpoints.

pub mod explain;
pub mod plan;
pub mod report;
pub mod summary;
pub mod task0;
pub mod task1;
pub mod task2;
pub mod task3;
pub mod task4;
pub mod task5;
pub mod task6;
pub mod units;

use crate::data::BiasedMnist;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    pub tasks: Vec<u8>,
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
            tasks: plan::ALL_TASKS.to_vec(),
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
        if self.tasks.is_empty() || self.tasks.iter().any(|t| !plan::ALL_TASKS.contains(t)) {
            return Err(Error::Invalid(
                "--tasks: the tasks are 0 to 6 (e.g. --tasks 0,1,4)".into(),
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

/// The study's results, serialized as `results.json` (every key: `docs/results.md`). A task
/// that was not run (`--tasks`) is `null`.
#[derive(Debug, Serialize)]
pub struct StudyResults {
    pub config: StudyConfig,
    /// Wall time of this invocation (s): reused units cost almost nothing.
    pub seconds: f64,
    /// The tasks run: the chosen ones and what they need.
    pub tasks: Vec<u8>,
    /// The estimate made before any work.
    pub estimate: plan::Estimate,
    /// Wall time of each task in this invocation (s), by task number.
    pub task_seconds: std::collections::BTreeMap<String, f64>,
    /// Peak resident memory of the process during each task (MB; Linux only, else empty).
    pub task_peak_mb: std::collections::BTreeMap<String, f64>,
    /// Every unit (training run or analysis): reused, resumed, run or redone, and its time.
    pub units: Vec<units::UnitLog>,
    pub task0: Option<task0::Task0>,
    pub task1: Option<Task1Summary>,
    pub task2: Option<Task2Summary>,
    /// Grad-CAM of every model (seed 0): (label, analysis), the lazy model first.
    pub task3: Option<Vec<(String, task3::Task3)>>,
    pub task4: Option<task4::Task4>,
    pub task5: Option<task5::Task5>,
    pub task6: Option<task6::Task6>,
}

/// Task 2 on the lazy model of the first seed, and the attention CNN's training run.
#[derive(Debug, Serialize)]
pub struct Task2Summary {
    pub lazy: task2::Task2,
    pub attention_run: crate::train::RunRecord,
    /// The attention CNN's run folder (relative to the study folder).
    pub attention_folder: String,
}

/// Task 1 over all seeds.
#[derive(Debug, Serialize)]
pub struct Task1Summary {
    pub runs: Vec<crate::train::RunRecord>,
    pub train_acc_mean_std: (f64, f64),
    pub hard_acc_mean_std: (f64, f64),
    pub aligned_acc_mean_std: (f64, f64),
    pub reference_train_acc: f64,
    pub reference_hard_acc: f64,
}

/// The settings of a plain cross-entropy run of `kind` (Task 1's LazyCNN, the attention CNN):
/// the profile's epochs or the SPEC's for the model.
fn plain_config(cfg: &StudyConfig, kind: ModelKind, seed: u64) -> crate::train::TrainConfig {
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

/// The training runs and analyses of the chosen tasks, each with its estimated cost: what the
/// study prints before it starts, and what its overall progress bar counts in.
struct Work {
    /// (task, folder relative to the study, estimated seconds, already done)
    units: Vec<(u8, String, f64, bool)>,
}

impl Work {
    fn cost(&self, folder: &str) -> f64 {
        self.units
            .iter()
            .find(|u| u.1 == folder)
            .map_or(0.0, |u| if u.3 { 0.0 } else { u.2 })
    }
}

/// The methods of Task 4 trained on LazyCNN, and (`full`) on ShapeCNN.
const TASK4_METHODS: [&str; 3] = ["consistency", "focal", "suppress"];

/// A training run's plan for the estimate (the suppression ranking is left out).
fn plan_for<'a>(
    kind: ModelKind,
    method: &'a crate::train::Method,
    tc: &'a crate::train::TrainConfig,
) -> crate::train::run_folder::RunPlan<'a> {
    crate::train::run_folder::RunPlan {
        kind,
        method,
        suppression: None,
        cfg: tc,
        mode: crate::train::run_folder::FolderMode::Overwrite,
    }
}

/// The settings part of an analysis unit's key (the models' hashes are the other part).
fn analysis_settings(
    cfg: &StudyConfig,
    task: u8,
    task_cfg: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "task": task,
        "config": task_cfg,
        "limit": cfg.limit,
        "device": cfg.device.to_string(),
        "seed": cfg.seeds.first().copied().unwrap_or(0),
        "bias": cfg.bias,
    })
}

fn task3_config(cfg: &StudyConfig) -> task3::Task3Config {
    if cfg.profile == Profile::Quick {
        task3::Task3Config::QUICK
    } else {
        task3::Task3Config::DEFAULT
    }
}

fn task5_config(cfg: &StudyConfig) -> task5::Task5Config {
    if cfg.profile == Profile::Quick {
        task5::Task5Config::QUICK
    } else {
        task5::Task5Config::DEFAULT
    }
}

fn task6_config(cfg: &StudyConfig) -> task6::Task6Config {
    if cfg.profile == Profile::Quick {
        task6::Task6Config::QUICK
    } else {
        task6::Task6Config::DEFAULT
    }
}

fn json(v: impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Enumerate the units of `tasks` with their estimated seconds, and which are done already.
fn list_work(
    cfg: &StudyConfig,
    tasks: &[u8],
    data: &BiasedMnist,
    cal: &plan::Calibration,
    out: &Path,
) -> Result<Work> {
    use crate::train::Method;
    let sizes = plan::SplitSizes::of(data, cfg.limit);
    let mut units = Vec::new();
    let seed0 = cfg.seeds.first().copied().unwrap_or(0);
    let mut train = |task: u8, kind: ModelKind, method: &Method, seed: u64, folder: String| {
        let tc = if task == 4 {
            task4::train_config(cfg, method, kind, seed)
        } else {
            plain_config(cfg, kind, seed)
        };
        let cost = plan::training_seconds(cal, cfg, kind, method, tc.epochs, &sizes);
        let done = !cfg.fresh
            && units::training_done(&out.join(&folder), &plan_for(kind, method, &tc), data);
        units.push((task, folder, cost, done));
    };
    let has = |t: u8| tasks.contains(&t);
    if has(1) {
        for &seed in &cfg.seeds {
            train(
                1,
                ModelKind::Lazy,
                &Method::Plain,
                seed,
                format!("task1/seed-{seed}"),
            );
        }
    }
    // The models Tasks 3, 5 and 6 read (first seed): Task 1's and Task 4's.
    let mut trained = vec![(
        ModelKind::Lazy,
        "plain".to_string(),
        format!("task1/seed-{seed0}"),
    )];
    if has(4) {
        let mut rows: Vec<(ModelKind, &str)> = TASK4_METHODS
            .iter()
            .map(|m| (ModelKind::Lazy, *m))
            .collect();
        rows.push((ModelKind::Shape, "plain"));
        if cfg.profile == Profile::Full {
            rows.extend(TASK4_METHODS.iter().map(|m| (ModelKind::Shape, *m)));
        }
        for (kind, name) in rows {
            let method = Method::with_defaults(name)?;
            for &seed in &cfg.seeds {
                let folder = task4::run_folder(kind, &method, seed);
                train(4, kind, &method, seed, folder);
            }
            trained.push((
                kind,
                name.to_string(),
                task4::run_folder(kind, &method, seed0),
            ));
        }
    }
    if has(2) {
        let folder = format!("task2/attention-seed-{seed0}");
        train(2, ModelKind::Attention, &Method::Plain, seed0, folder);
    }
    let mut analysis = |task: u8, folder: String, cost: f64, settings: serde_json::Value| {
        let done = !cfg.fresh && units::analysis_done(&out.join(&folder), &settings);
        units.push((task, folder, cost, done));
    };
    let a = |task, kind| plan::analysis_seconds(cal, task, kind, cfg.profile);
    if has(0) {
        analysis(
            0,
            "task0".into(),
            a(0, ModelKind::Lazy),
            analysis_settings(cfg, 0, json(())),
        );
    }
    if has(2) {
        let settings = analysis_settings(cfg, 2, json(cfg.profile == Profile::Quick));
        analysis(2, "task2/lazy".into(), a(2, ModelKind::Lazy), settings);
    }
    if has(3) {
        let settings = analysis_settings(cfg, 3, json(task3_config(cfg)));
        for (kind, _, folder) in &trained {
            let dir = format!("task3/{}", folder.replace('/', "_"));
            analysis(3, dir, a(3, *kind), settings.clone());
        }
        analysis(
            3,
            "task3/attention".into(),
            a(3, ModelKind::Attention),
            settings,
        );
    }
    if has(5) {
        let cost = trained.iter().map(|(k, _, _)| a(5, *k)).sum();
        let settings = analysis_settings(cfg, 5, json(task5_config(cfg)));
        analysis(5, "task5".into(), cost, settings);
    }
    if has(6) {
        // The first (lazy) model's unit trains four SAEs, every other model one.
        let cost = task6_models(&trained)
            .iter()
            .enumerate()
            .map(|(i, (k, _))| match (i, k) {
                (0, _) | (_, ModelKind::Shape) => a(6, *k),
                _ => a(6, *k) / 4.0,
            })
            .sum();
        let settings = analysis_settings(cfg, 6, json(task6_config(cfg)));
        analysis(6, "task6".into(), cost, settings);
    }
    Ok(Work { units })
}

/// The models Task 6 decomposes, of `trained` (kind, method, folder): the lazy model first
/// (the SPEC's SAE), then method 1 (the report's robust model), then the ShapeCNNs.
fn task6_models(trained: &[(ModelKind, String, String)]) -> Vec<(ModelKind, String)> {
    let wanted = [
        (ModelKind::Lazy, "plain"),
        (ModelKind::Lazy, "consistency"),
        (ModelKind::Shape, "plain"),
        (ModelKind::Shape, "consistency"),
    ];
    wanted
        .iter()
        .filter(|(k, m)| trained.iter().any(|(tk, tm, _)| tk == k && tm == m))
        .map(|(k, m)| (*k, m.to_string()))
        .collect()
}

/// The overall progress: counted in estimated seconds, advanced as units and epochs finish,
/// with the remaining time rescaled by how fast the estimate has proved to be so far.
struct Overall {
    bar: indicatif::ProgressBar,
    total: f64,
    done: f64,
    start: std::time::Instant,
}

impl Overall {
    fn new(total: f64, show: bool) -> Overall {
        let bar = if show {
            let b = crate::progress::bar(true, (total.max(1.0) * 10.0) as u64, "study");
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {percent:>3}% {msg} ({elapsed})",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        Overall {
            bar,
            total,
            done: 0.0,
            start: std::time::Instant::now(),
        }
    }

    fn advance(&mut self, seconds: f64) {
        self.done = (self.done + seconds).min(self.total);
        self.bar.set_position((self.done * 10.0) as u64);
        self.bar
            .set_message(format!("≈ {} left", plan::human(self.left())));
    }

    /// Estimated seconds left: what the estimate says remains, times how the estimate has
    /// compared with the clock so far (once enough is done to tell).
    fn left(&self) -> f64 {
        let rest = self.total - self.done;
        if self.done > 0.1 * self.total && self.done > 5.0 {
            rest * self.start.elapsed().as_secs_f64() / self.done
        } else {
            rest
        }
    }

    /// `[ 37 %, ≈ 21 min left]`
    fn status(&self) -> String {
        let pct = if self.total > 0.0 {
            100.0 * self.done / self.total
        } else {
            100.0
        };
        format!("[{pct:3.0} %, ≈ {} left]", plan::human(self.left()))
    }
}

/// Everything run_study's tasks share.
struct Ctx<'a> {
    cfg: &'a StudyConfig,
    out: &'a Path,
    units: units::Units,
    work: Work,
    overall: Overall,
    log: &'a mut dyn FnMut(&str),
}

impl Ctx<'_> {
    /// Log the start of a unit, with where the study stands.
    fn begin(&mut self, what: &str) {
        let line = format!("{} {what}", self.overall.status());
        (self.log)(&line);
    }

    /// Train (or reuse) one run, advancing the overall bar per epoch.
    fn training(
        &mut self,
        task: u8,
        plan: &crate::train::run_folder::RunPlan,
        data: &BiasedMnist,
        folder: &str,
    ) -> Result<(crate::train::RunRecord, Box<dyn crate::nn::Module>)> {
        let cost = self.work.cost(folder);
        let per_epoch = cost / plan.cfg.epochs.max(1) as f64;
        let dir = self.out.join(folder);
        let (units, overall, log) = (&mut self.units, &mut self.overall, &mut *self.log);
        let before = overall.done;
        let r = units.training(task, plan, data, &dir, &mut |s| {
            if s.starts_with("epoch ") {
                overall.advance(per_epoch);
            }
            log(&format!("    {s}"))
        });
        self.overall.done = before;
        self.overall.advance(cost);
        r
    }

    /// Run (or reuse) one analysis.
    fn analysis<T: Serialize + serde::de::DeserializeOwned>(
        &mut self,
        task: u8,
        folder: &str,
        settings: serde_json::Value,
        models: serde_json::Value,
        run: impl FnOnce(&Path, &mut dyn FnMut(&str)) -> Result<T>,
    ) -> Result<T> {
        let cost = self.work.cost(folder);
        let dir = self.out.join(folder);
        let key = serde_json::json!({ "settings": settings, "models": models });
        let log = &mut *self.log;
        let r = self.units.analysis(task, &dir, key, |d| run(d, log));
        self.overall.advance(cost);
        r
    }
}

/// Run the chosen tasks (and what they need) and write the report into `out`. Finished units
/// already in `out` with the same settings are reused (see [`units`]).
pub fn run_study(cfg: &StudyConfig, out: &Path, log: &mut dyn FnMut(&str)) -> Result<StudyResults> {
    let start = std::time::Instant::now();
    cfg.validate()?;
    if out.is_file() {
        return Err(Error::Invalid(format!(
            "--out {} is a file, not a folder",
            out.display()
        )));
    }
    crate::train::run_folder::ensure_writable(out)?;
    // One study at a time in a folder.
    let _lock = crate::files::lock_folder(out)?;
    let units = units::Units::open(out, cfg.fresh)?;
    let tasks = plan::with_needs(&cfg.tasks);
    log(&format!("loading MNIST from {}", cfg.data_dir.display()));
    let mnist = crate::data::mnist::load(&cfg.data_dir)?;
    let seed0 = cfg.seeds.first().copied().unwrap_or(0);
    let data0 = BiasedMnist::new(mnist.clone(), seed0, cfg.bias, true)?;

    let mut kinds = vec![ModelKind::Lazy];
    if tasks.contains(&4) {
        kinds.push(ModelKind::Shape);
    }
    if tasks.contains(&2) {
        kinds.push(ModelKind::Attention);
    }
    log(&format!(
        "timing a training step of {} on {} for the estimate",
        kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.device
    ));
    let cal = plan::calibrate(&kinds, cfg.device, cfg.batch)?;
    let work = list_work(cfg, &tasks, &data0, &cal, out)?;
    let estimate = describe_plan(cfg, &tasks, &work, &cal, log);
    let progress = cfg.progress.then(crate::progress::begin);
    let overall = Overall::new(estimate.total_seconds, progress.is_some());
    let mut ctx = Ctx {
        cfg,
        out,
        units,
        work,
        overall,
        log,
    };
    let result = run_tasks(&mut ctx, &tasks, &mnist, &data0, estimate, start);
    ctx.overall.bar.finish_and_clear();
    crate::progress::end();
    result.map_err(|e| match e {
        Error::Interrupted(_) => Error::Interrupted(format!(
            "stopped by Ctrl-C. Every finished run and analysis is kept in {}; run the same command again to continue from there (a training run continues from its last epoch)",
            out.display()
        )),
        other => other,
    })
}

/// Print what will run and the estimate; return the estimate.
fn describe_plan(
    cfg: &StudyConfig,
    tasks: &[u8],
    work: &Work,
    cal: &plan::Calibration,
    log: &mut dyn FnMut(&str),
) -> plan::Estimate {
    let mut est = plan::Estimate {
        step_seconds: cal.step_seconds.clone(),
        ..Default::default()
    };
    for (task, _, cost, done) in &work.units {
        if *done {
            est.units_done += 1;
        } else {
            est.units_to_do += 1;
            *est.task_seconds.entry(format!("task{task}")).or_default() += cost;
            est.total_seconds += cost;
        }
    }
    let pulled: Vec<String> = tasks
        .iter()
        .filter(|t| !cfg.tasks.contains(t))
        .map(|t| t.to_string())
        .collect();
    log(&format!(
        "plan: tasks {}{} on {}, profile {}, {} seed(s); {} unit(s) to do, {} found finished",
        tasks
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        if pulled.is_empty() {
            String::new()
        } else {
            format!(" (needed: {})", pulled.join(", "))
        },
        cfg.device,
        cfg.profile.name(),
        cfg.seeds.len(),
        est.units_to_do,
        est.units_done
    ));
    for (k, s) in &cal.step_seconds {
        log(&format!(
            "  a {k} training step takes {:.1} ms here",
            s * 1e3
        ));
    }
    for &t in tasks {
        let of_task: Vec<&(u8, String, f64, bool)> =
            work.units.iter().filter(|u| u.0 == t).collect();
        let to_do: Vec<&str> = of_task
            .iter()
            .filter(|u| !u.3)
            .map(|u| u.1.as_str())
            .collect();
        let secs = est
            .task_seconds
            .get(&format!("task{t}"))
            .copied()
            .unwrap_or(0.0);
        log(&format!(
            "  task {t}: {} to do{}, ≈ {}{}",
            to_do.len(),
            match of_task.len() - to_do.len() {
                0 => String::new(),
                done => format!(", {done} finished"),
            },
            plan::human(secs),
            if to_do.is_empty() {
                String::new()
            } else {
                format!(" ({})", to_do.join(", "))
            }
        ));
    }
    log(&format!(
        "estimated time: ≈ {} (an estimate from the timed steps; the end prints what each task took)",
        plan::human(est.total_seconds)
    ));
    est
}

/// A trained model the analyses read: its label, run folder, kind and method.
struct Trained {
    label: String,
    folder: String,
    kind: ModelKind,
    method: String,
    model: Box<dyn crate::nn::Module>,
}

impl Trained {
    /// What an analysis's key records of the model: its label and the MD5 of its weights.
    fn identity(&self, out: &Path) -> Result<serde_json::Value> {
        Ok(serde_json::json!([
            self.label,
            units::model_hash(&out.join(&self.folder))?
        ]))
    }
}

/// The tasks themselves, in the order they depend on each other (1, 4, then 0, 2, 3, 5, 6).
fn run_tasks(
    ctx: &mut Ctx,
    tasks: &[u8],
    mnist: &crate::data::mnist::Mnist,
    data: &BiasedMnist,
    estimate: plan::Estimate,
    start: std::time::Instant,
) -> Result<StudyResults> {
    let cfg = ctx.cfg;
    let out = ctx.out;
    let has = |t: u8| tasks.contains(&t);
    let mut seconds = std::collections::BTreeMap::new();
    let mut peaks = std::collections::BTreeMap::new();
    let mut clock = std::time::Instant::now();
    plan::peak_rss_mb_since_last();
    let mut lap = |task: u8, seconds: &mut std::collections::BTreeMap<String, f64>| {
        seconds.insert(format!("task{task}"), clock.elapsed().as_secs_f64());
        if let Some(mb) = plan::peak_rss_mb_since_last() {
            peaks.insert(format!("task{task}"), mb);
        }
        clock = std::time::Instant::now();
    };
    let quick = cfg.profile == Profile::Quick;

    let t0 = if has(0) {
        ctx.begin("Task 0: the data");
        let settings = analysis_settings(cfg, 0, json(()));
        let t0: task0::Task0 = ctx.analysis(0, "task0", settings, json(()), |dir, _| {
            task0::run(data, cfg.limit, dir)
        })?;
        (ctx.log)(&format!(
            "  train painted its dominant colour {:.2}% of the time, hard {:.2}%, aligned {:.2}%",
            t0.train_dominant_pct, t0.hard_dominant_pct, t0.aligned_dominant_pct
        ));
        lap(0, &mut seconds);
        Some(t0)
    } else {
        None
    };

    // Task 1 (every task but 0 needs it).
    let (mut runs, mut models, mut folders) = (Vec::new(), Vec::new(), Vec::new());
    if has(1) {
        for &seed in &cfg.seeds {
            ctx.begin(&format!("Task 1: LazyCNN, seed {seed}"));
            let seeded = BiasedMnist::new(mnist.clone(), seed, cfg.bias, true)?;
            let tc = plain_config(cfg, ModelKind::Lazy, seed);
            let folder = format!("task1/seed-{seed}");
            let plan = crate::train::run_folder::RunPlan {
                kind: ModelKind::Lazy,
                method: &crate::train::Method::Plain,
                suppression: None,
                cfg: &tc,
                mode: crate::train::run_folder::FolderMode::Overwrite,
            };
            let (run, model) = ctx.training(1, &plan, &seeded, &folder)?;
            runs.push(run);
            models.push(model);
            folders.push(folder);
        }
        lap(1, &mut seconds);
    }
    let t1 = has(1).then(|| {
        let finals = |f: &dyn Fn(&crate::train::RunRecord) -> f64| {
            mean_std(&runs.iter().map(f).collect::<Vec<_>>())
        };
        Task1Summary {
            train_acc_mean_std: finals(&|r| r.final_train_acc()),
            hard_acc_mean_std: finals(&|r| r.final_hard_acc()),
            aligned_acc_mean_std: finals(&|r| r.final_aligned_acc()),
            reference_train_acc: task1::REFERENCE_TRAIN_ACC,
            reference_hard_acc: task1::REFERENCE_HARD_ACC,
            runs: runs.clone(),
        }
    });

    let t4 = if has(4) {
        let t4 = task4::run(cfg, mnist, &runs, folders.clone(), &models, ctx)?;
        lap(4, &mut seconds);
        Some(t4)
    } else {
        None
    };

    // The models the analyses read (first seed): Task 1's, then Task 4's, from their folders.
    let mut trained = Vec::new();
    let rows: Vec<&task4::MethodRow> = t4
        .iter()
        .flat_map(|t| t.rows.iter().chain(&t.architecture_table))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (i, model) in models.into_iter().enumerate().take(1) {
        trained.push(Trained {
            label: "plain — LazyCNN".into(),
            folder: folders[i].clone(),
            kind: ModelKind::Lazy,
            method: "plain".into(),
            model,
        });
        seen.insert(folders[i].clone());
    }
    for row in rows {
        let Some(folder) = row.folders.first() else {
            continue;
        };
        if seen.insert(folder.clone()) {
            let loaded = crate::train::run_folder::load_model(
                &out.join(folder).join("model.safetensors"),
                cfg.device,
            )?;
            trained.push(Trained {
                label: format!("{} — {}", row.method, row.model),
                folder: folder.clone(),
                kind: loaded.kind,
                method: row.method.to_string(),
                model: loaded.model,
            });
        }
    }

    let mut attention = None;
    let t2 = if has(2) {
        let lazy = trained
            .first()
            .ok_or_else(|| Error::Invalid("Task 2 needs Task 1's model".into()))?;
        ctx.begin("Task 2: what the lazy model learned");
        let settings = analysis_settings(cfg, 2, json(quick));
        let ident = json([lazy.identity(out)?]);
        let t2: task2::Task2 = ctx.analysis(2, "task2/lazy", settings, ident, |dir, _| {
            task2::run(lazy.model.as_ref(), ModelKind::Lazy, quick, cfg.device, dir)
        })?;
        (ctx.log)(&format!(
            "  class visualizations: colour purity {:.2} (report 0.78); unit CSI mean {:.2}, max {:.2} (bound 3.00)",
            t2.purity_mean, t2.units.csi_mean, t2.units.csi_max
        ));
        ctx.begin("Task 2: the attention CNN");
        let attention_folder = format!("task2/attention-seed-{}", data.seed);
        let tc = plain_config(cfg, ModelKind::Attention, data.seed);
        let plan = crate::train::run_folder::RunPlan {
            kind: ModelKind::Attention,
            method: &crate::train::Method::Plain,
            suppression: None,
            cfg: &tc,
            mode: crate::train::run_folder::FolderMode::Overwrite,
        };
        let (attention_run, model) = ctx.training(2, &plan, data, &attention_folder)?;
        attention = Some(Trained {
            label: "plain — AttentionCNN".into(),
            folder: attention_folder.clone(),
            kind: ModelKind::Attention,
            method: "plain".into(),
            model,
        });
        lap(2, &mut seconds);
        Some(Task2Summary {
            lazy: t2,
            attention_run,
            attention_folder,
        })
    } else {
        None
    };

    let t3 = if has(3) {
        let settings = analysis_settings(cfg, 3, json(task3_config(cfg)));
        let mut t3 = Vec::new();
        for m in trained.iter().chain(attention.as_ref()) {
            ctx.begin(&format!("Task 3: Grad-CAM of {}", m.label));
            let folder = if m.kind == ModelKind::Attention {
                "task3/attention".to_string()
            } else {
                format!("task3/{}", m.folder.replace('/', "_"))
            };
            let ident = json([m.identity(out)?]);
            let r: task3::Task3 = ctx.analysis(3, &folder, settings.clone(), ident, |dir, _| {
                task3::run(
                    m.model.as_ref(),
                    m.kind,
                    data,
                    task3_config(cfg),
                    cfg.limit,
                    cfg.device,
                    dir,
                )
            })?;
            t3.push((m.label.clone(), r));
        }
        lap(3, &mut seconds);
        Some(t3)
    } else {
        None
    };

    let t5 = if has(5) {
        ctx.begin("Task 5: adversarial attacks on every model");
        let settings = analysis_settings(cfg, 5, json(task5_config(cfg)));
        let ident = json(
            trained
                .iter()
                .map(|m| m.identity(out))
                .collect::<Result<Vec<_>>>()?,
        );
        let attacked: Vec<(String, &dyn crate::nn::Module)> = trained
            .iter()
            .map(|m| (m.label.clone(), m.model.as_ref()))
            .collect();
        let t5: task5::Task5 = ctx.analysis(5, "task5", settings, ident, |dir, log| {
            task5::run(
                &attacked,
                data,
                task5_config(cfg),
                cfg.limit,
                cfg.device,
                dir,
                log,
            )
        })?;
        lap(5, &mut seconds);
        Some(t5)
    } else {
        None
    };

    let t6 = if has(6) {
        ctx.begin("Task 6: sparse autoencoders");
        let listed: Vec<(ModelKind, String, String)> = trained
            .iter()
            .map(|m| (m.kind, m.method.clone(), m.folder.clone()))
            .collect();
        let chosen: Vec<&Trained> = task6_models(&listed)
            .iter()
            .filter_map(|(k, meth)| trained.iter().find(|m| m.kind == *k && &m.method == meth))
            .collect();
        let settings = analysis_settings(cfg, 6, json(task6_config(cfg)));
        let ident = json(
            chosen
                .iter()
                .map(|m| m.identity(out))
                .collect::<Result<Vec<_>>>()?,
        );
        let decomposed: Vec<(String, ModelKind, &dyn crate::nn::Module)> = chosen
            .iter()
            .map(|m| (m.label.clone(), m.kind, m.model.as_ref()))
            .collect();
        let t6: task6::Task6 = ctx.analysis(6, "task6", settings, ident, |dir, log| {
            task6::run(
                &decomposed,
                data,
                task6_config(cfg),
                cfg.limit,
                cfg.device,
                dir,
                log,
            )
        })?;
        lap(6, &mut seconds);
        Some(t6)
    } else {
        None
    };

    let results = StudyResults {
        config: cfg.clone(),
        seconds: start.elapsed().as_secs_f64(),
        tasks: tasks.to_vec(),
        estimate,
        task_seconds: seconds,
        task_peak_mb: peaks,
        units: ctx.units.log.clone(),
        task0: t0,
        task1: t1,
        task2: t2,
        task3: t3,
        task4: t4,
        task5: t5,
        task6: t6,
    };
    write_json(&out.join("results.json"), &results)?;
    report::write_index(&results, out)?;
    (ctx.log)(&format!("report: {}", out.join("index.html").display()));
    Ok(results)
}
