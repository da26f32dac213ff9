//! Running a study: the units the planner listed ([`super::work`]), task by task in the
//! registry's order, each reused, resumed or computed through [`super::units`], with an overall
//! progress bar; then each task's result, `results.json` and `index.html`.

use super::registry::{self, TASKS};
use super::task::{AnalysisUnit, Board, Finished, Job, Task, TrainUnit, Unit, Work};
use super::work::{describe_plan, list_units, Planned};
use super::{plan, report, units, write_json, StudyConfig, StudyResults};
use crate::data::BiasedMnist;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::train::run_folder::{FolderMode, RunPlan};
use crate::train::{Method, Suppression};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

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

/// Everything the units of a study share while it runs.
struct Ctx<'a> {
    cfg: &'a StudyConfig,
    out: &'a Path,
    units: units::Units,
    planned: Planned,
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
        unit: &Unit,
        plan: &RunPlan,
        data: &BiasedMnist,
    ) -> Result<(crate::train::RunRecord, Box<dyn crate::nn::Module>)> {
        let cost = self.planned.cost(&unit.folder);
        let per_epoch = cost / plan.cfg.epochs.max(1) as f64;
        let dir = self.out.join(&unit.folder);
        let (units, overall, log) = (&mut self.units, &mut self.overall, &mut *self.log);
        let before = overall.done;
        let r = units.training(unit.task, plan, data, &dir, &mut |s| {
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
    fn analysis(
        &mut self,
        unit: &Unit,
        settings: Value,
        models: Value,
        run: impl FnOnce(&Path, &mut dyn FnMut(&str)) -> Result<Value>,
    ) -> Result<Value> {
        let cost = self.planned.cost(&unit.folder);
        let dir = self.out.join(&unit.folder);
        let key = serde_json::json!({ "settings": settings, "models": models });
        let log = &mut *self.log;
        let r = self.units.analysis(unit.task, &dir, key, |d| run(d, log));
        self.overall.advance(cost);
        r
    }
}

/// Run the chosen tasks (and what they need) and write the report into `out`. Finished units
/// already in `out` with the same settings are reused (see [`units`]).
pub fn run_study(cfg: &StudyConfig, out: &Path, log: &mut dyn FnMut(&str)) -> Result<StudyResults> {
    run_study_with(&TASKS, cfg, out, log)
}

/// [`run_study`] with the tasks of `registry` (in running order; see [`registry::TASKS`]).
pub fn run_study_with(
    registry: &[&dyn Task],
    cfg: &StudyConfig,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<StudyResults> {
    let start = std::time::Instant::now();
    cfg.validate()?;
    registry::check(registry)?;
    if out.is_file() {
        return Err(Error::Invalid(format!(
            "--out {} is a file, not a folder",
            out.display()
        )));
    }
    crate::files::ensure_writable(out)?;
    // One study at a time in a folder.
    let _lock = crate::files::lock_folder(out)?;
    let units = units::Units::open(out, cfg.fresh, &registry::ids(registry))?;
    let tasks = registry::with_needs(registry, &cfg.tasks)?;
    log(&format!("loading MNIST from {}", cfg.data_dir.display()));
    let mnist = crate::data::mnist::load(&cfg.data_dir)?;
    let seed0 = cfg.seeds.first().copied().unwrap_or(0);
    let data0 = BiasedMnist::new(mnist.clone(), seed0, cfg.bias, true)?;

    let cal = calibrate(cfg, &tasks, &data0, log)?;
    let planned = list_units(cfg, &tasks, &data0, &cal, Some(out))?;
    let estimate = describe_plan(cfg, &tasks, &planned, &cal, log);
    let progress = cfg.progress.then(crate::progress::begin);
    let overall = Overall::new(estimate.total_seconds, progress.is_some());
    let mut ctx = Ctx {
        cfg,
        out,
        units,
        planned,
        overall,
        log,
    };
    let data = Data {
        mnist: &mnist,
        first_seed: &data0,
    };
    let result = run_tasks(&mut ctx, registry, &tasks, &data, estimate, start);
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

/// Time a few training steps of every model that `tasks` train, for the estimate.
fn calibrate(
    cfg: &StudyConfig,
    tasks: &[&dyn Task],
    data: &BiasedMnist,
    log: &mut dyn FnMut(&str),
) -> Result<plan::Calibration> {
    // The models the tasks train: their units, listed before anything is timed.
    let probe = list_units(cfg, tasks, data, &plan::Calibration::default(), None)?;
    let mut kinds = vec![ModelKind::Lazy];
    for (unit, _) in &probe.units {
        if let Some(t) = unit.train() {
            if !kinds.contains(&t.kind) {
                kinds.push(t.kind);
            }
        }
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
    plan::calibrate(&kinds, cfg.device, cfg.batch)
}

/// Each task's wall time and peak memory, lap by lap.
struct Clock {
    seconds: BTreeMap<String, f64>,
    peaks: BTreeMap<String, f64>,
    since: Instant,
}

impl Clock {
    fn start() -> Clock {
        plan::peak_rss_mb_since_last();
        Clock {
            seconds: BTreeMap::new(),
            peaks: BTreeMap::new(),
            since: Instant::now(),
        }
    }

    /// Close `key`'s lap: its time and its peak memory since the last lap.
    fn lap(&mut self, key: String) {
        self.seconds
            .insert(key.clone(), self.since.elapsed().as_secs_f64());
        if let Some(mb) = plan::peak_rss_mb_since_last() {
            self.peaks.insert(key, mb);
        }
        self.since = Instant::now();
    }
}

/// The data the units read: MNIST for the training runs (painted per seed), and the biased
/// data set of the first seed for the analyses.
struct Data<'a> {
    mnist: &'a crate::data::mnist::Mnist,
    first_seed: &'a BiasedMnist,
}

/// The tasks, in running order: every unit, then the task's result.
fn run_tasks(
    ctx: &mut Ctx,
    registry: &[&dyn Task],
    tasks: &[&dyn Task],
    data: &Data,
    estimate: plan::Estimate,
    start: Instant,
) -> Result<StudyResults> {
    let mut clock = Clock::start();
    let mut board = Board::default();
    let mut results = BTreeMap::new();
    for t in registry {
        results.insert(t.id().key(), Value::Null);
    }
    for &task in tasks {
        let units = ctx.planned.of(task.id());
        for unit in &units {
            ctx.begin(&format!("Task {}: {}", task.id(), unit.label));
            match &unit.work {
                Work::Train(t) => run_training(ctx, &mut board, unit, t, data)?,
                Work::Analyse(a) => run_analysis(ctx, &mut board, task, unit, a, data)?,
            }
        }
        let done = Finished {
            cfg: ctx.cfg,
            out: ctx.out,
            units: &units,
            board: &board,
        };
        results.insert(task.id().key(), task.result(&done)?);
        clock.lap(task.id().key());
    }
    let mut ids: Vec<_> = tasks.iter().map(|t| t.id()).collect();
    ids.sort_unstable();
    let results = StudyResults {
        config: ctx.cfg.clone(),
        folder: ctx.out.to_string_lossy().to_string(),
        seconds: start.elapsed().as_secs_f64(),
        tasks: ids,
        estimate,
        task_seconds: clock.seconds,
        task_peak_mb: clock.peaks,
        units: ctx.units.log.clone(),
        results,
    };
    write_json(&ctx.out.join(super::RESULTS_FILE), &results)?;
    super::rerender::seal(ctx.out)?;
    report::write_index_with(registry, &results, ctx.out)?;
    (ctx.log)(&format!("report: {}", ctx.out.join("index.html").display()));
    Ok(results)
}

/// Train (or reuse) a training unit on its seed's data; a suppression is ranked on the model
/// of the unit it names.
fn run_training(
    ctx: &mut Ctx,
    board: &mut Board,
    unit: &Unit,
    t: &TrainUnit,
    data: &Data,
) -> Result<()> {
    let seeded = BiasedMnist::new(data.mnist.clone(), t.config.seed, ctx.cfg.bias, true)?;
    let suppression = match (&t.method, &t.ranked_on) {
        (Method::Suppress { suppress, amplify }, Some(on)) => Some(Suppression::rank(
            board.model(on)?,
            *suppress,
            *amplify,
            ctx.cfg.device,
        )?),
        (Method::Suppress { .. }, None) => {
            return Err(Error::Invalid(
                "neuron suppression needs the plain model of its seed".into(),
            ))
        }
        _ => None,
    };
    let plan = RunPlan {
        kind: t.kind,
        method: &t.method,
        suppression: suppression.as_ref(),
        cfg: &t.config,
        // Set by the study's units: reuse, resume or replace.
        mode: FolderMode::Overwrite,
    };
    let trained = ctx.training(unit, &plan, &seeded)?;
    board.runs.insert(unit.folder.clone(), trained);
    Ok(())
}

/// Run (or reuse) an analysis unit: its key is its settings and the hashes of the models it
/// reads (`null` when it reads none).
fn run_analysis(
    ctx: &mut Ctx,
    board: &mut Board,
    task: &dyn Task,
    unit: &Unit,
    a: &AnalysisUnit,
    data: &Data,
) -> Result<()> {
    let mut models = Vec::new();
    let mut identities = Vec::new();
    for m in &a.reads {
        models.push((m, board.model(&m.folder)?));
        let hash = units::model_hash(&ctx.out.join(&m.folder))?;
        identities.push(serde_json::json!([m.label, hash]));
    }
    let identities = if a.reads.is_empty() {
        Value::Null
    } else {
        Value::Array(identities)
    };
    let (cfg, data) = (ctx.cfg, data.first_seed);
    let value = ctx.analysis(unit, a.settings.clone(), identities, |dir, log| {
        task.analyse(Job {
            unit,
            cfg,
            data,
            models,
            dir,
            log,
        })
    })?;
    if let Some(line) = task.describe(unit, &value) {
        (ctx.log)(&line);
    }
    board.analyses.insert(unit.folder.clone(), value);
    Ok(())
}
