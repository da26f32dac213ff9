//! Running a study: the units of the chosen tasks in the order the tasks depend on each other
//! (1 and 4 train; 0, 2, 3, 5, 6 read), each reused, resumed or computed through
//! [`super::units`], with an overall progress bar; then `results.json` and `index.html`.

use super::work::{
    analysis_settings, describe_plan, json, list_work, plan_for, task3_config, task5_config,
    task6_config, task6_models, Work,
};
use super::{
    mean_std, plain_config, plan, report, task0, task1, task2, task3, task4, task5, task6, units,
    write_json, Profile, StudyConfig, StudyResults, Task1Summary, Task2Summary,
};
use crate::data::BiasedMnist;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::train::{Method, RunRecord};
use serde::Serialize;
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

/// Everything run_study's tasks share.
pub(super) struct Ctx<'a> {
    pub(super) cfg: &'a StudyConfig,
    pub(super) out: &'a Path,
    units: units::Units,
    work: Work,
    overall: Overall,
    log: &'a mut dyn FnMut(&str),
}

impl Ctx<'_> {
    /// Log the start of a unit, with where the study stands.
    pub(super) fn begin(&mut self, what: &str) {
        let line = format!("{} {what}", self.overall.status());
        (self.log)(&line);
    }

    /// Train (or reuse) one run, advancing the overall bar per epoch.
    pub(super) fn training(
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

    /// Run `task` when `wanted` and close its lap; `None` when it is not wanted.
    fn task<T>(
        &mut self,
        task: u8,
        wanted: bool,
        run: impl FnOnce() -> Result<T>,
    ) -> Result<Option<T>> {
        if !wanted {
            return Ok(None);
        }
        let r = run()?;
        self.lap(task);
        Ok(Some(r))
    }

    /// Close `task`'s lap: its time and its peak memory since the last lap.
    fn lap(&mut self, task: u8) {
        let key = format!("task{task}");
        self.seconds
            .insert(key.clone(), self.since.elapsed().as_secs_f64());
        if let Some(mb) = plan::peak_rss_mb_since_last() {
            self.peaks.insert(key, mb);
        }
        self.since = Instant::now();
    }
}

/// A trained model the analyses read: its label, run folder, kind and method.
struct Trained {
    label: String,
    folder: String,
    kind: ModelKind,
    method: String,
    model: Box<dyn Module>,
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

/// The identities of several models (an analysis's `models` key).
fn identities<'a>(
    models: impl Iterator<Item = &'a Trained>,
    out: &Path,
) -> Result<serde_json::Value> {
    Ok(json(
        models
            .map(|m| m.identity(out))
            .collect::<Result<Vec<_>>>()?,
    ))
}

/// The tasks themselves, in the order they depend on each other (1, 4, then 0, 2, 3, 5, 6).
fn run_tasks(
    ctx: &mut Ctx,
    tasks: &[u8],
    mnist: &crate::data::mnist::Mnist,
    data: &BiasedMnist,
    estimate: plan::Estimate,
    start: Instant,
) -> Result<StudyResults> {
    let has = |t: u8| tasks.contains(&t);
    let mut clock = Clock::start();
    let t0 = clock.task(0, has(0), || run_task0(ctx, data))?;
    let lazy = clock
        .task(1, has(1), || run_task1(ctx, mnist))?
        .unwrap_or_default();
    let t1 = has(1).then(|| task1_summary(&lazy));
    let t4 = clock.task(4, has(4), || {
        let folders = lazy.folders.clone();
        task4::run(ctx.cfg, mnist, &lazy.runs, folders, &lazy.models, ctx)
    })?;
    let trained = trained_models(ctx, lazy, t4.as_ref())?;
    let (t2, attention) = match clock.task(2, has(2), || run_task2(ctx, data, &trained))? {
        Some((t2, attention)) => (Some(t2), Some(attention)),
        None => (None, None),
    };
    let models = trained.iter().chain(attention.as_ref());
    let t3 = clock.task(3, has(3), || run_task3(ctx, data, models))?;
    let t5 = clock.task(5, has(5), || run_task5(ctx, data, &trained))?;
    let t6 = clock.task(6, has(6), || run_task6(ctx, data, &trained))?;
    let results = StudyResults {
        config: ctx.cfg.clone(),
        seconds: start.elapsed().as_secs_f64(),
        tasks: tasks.to_vec(),
        estimate,
        task_seconds: clock.seconds,
        task_peak_mb: clock.peaks,
        units: ctx.units.log.clone(),
        task0: t0,
        task1: t1,
        task2: t2,
        task3: t3,
        task4: t4,
        task5: t5,
        task6: t6,
    };
    write_json(&ctx.out.join("results.json"), &results)?;
    report::write_index(&results, ctx.out)?;
    (ctx.log)(&format!("report: {}", ctx.out.join("index.html").display()));
    Ok(results)
}

/// Task 1's runs, one per seed: records, trained models and run folders.
#[derive(Default)]
struct LazyRuns {
    runs: Vec<RunRecord>,
    models: Vec<Box<dyn Module>>,
    folders: Vec<String>,
}

fn run_task0(ctx: &mut Ctx, data: &BiasedMnist) -> Result<task0::Task0> {
    let cfg = ctx.cfg;
    ctx.begin("Task 0: the data");
    let settings = analysis_settings(cfg, 0, json(()));
    let t0: task0::Task0 = ctx.analysis(0, "task0", settings, json(()), |dir, _| {
        task0::run(data, cfg.limit, dir)
    })?;
    (ctx.log)(&format!(
        "  train painted its dominant colour {:.2}% of the time, hard {:.2}%, aligned {:.2}%",
        t0.train_dominant_pct, t0.hard_dominant_pct, t0.aligned_dominant_pct
    ));
    Ok(t0)
}

/// Train (or reuse) the lazy model of every seed.
fn run_task1(ctx: &mut Ctx, mnist: &crate::data::mnist::Mnist) -> Result<LazyRuns> {
    let cfg = ctx.cfg;
    let mut lazy = LazyRuns::default();
    for &seed in &cfg.seeds {
        ctx.begin(&format!("Task 1: LazyCNN, seed {seed}"));
        let seeded = BiasedMnist::new(mnist.clone(), seed, cfg.bias, true)?;
        let tc = plain_config(cfg, ModelKind::Lazy, seed);
        let folder = format!("task1/seed-{seed}");
        let (run, model) = ctx.training(
            1,
            &plan_for(ModelKind::Lazy, &Method::Plain, &tc),
            &seeded,
            &folder,
        )?;
        lazy.runs.push(run);
        lazy.models.push(model);
        lazy.folders.push(folder);
    }
    Ok(lazy)
}

fn task1_summary(lazy: &LazyRuns) -> Task1Summary {
    let finals =
        |f: &dyn Fn(&RunRecord) -> f64| mean_std(&lazy.runs.iter().map(f).collect::<Vec<_>>());
    Task1Summary {
        train_acc_mean_std: finals(&|r| r.final_train_acc()),
        hard_acc_mean_std: finals(&|r| r.final_hard_acc()),
        aligned_acc_mean_std: finals(&|r| r.final_aligned_acc()),
        reference_train_acc: task1::REFERENCE_TRAIN_ACC,
        reference_hard_acc: task1::REFERENCE_HARD_ACC,
        runs: lazy.runs.clone(),
    }
}

/// The models the analyses read (first seed): Task 1's lazy model, then Task 4's, read back
/// from their run folders.
fn trained_models(ctx: &Ctx, lazy: LazyRuns, t4: Option<&task4::Task4>) -> Result<Vec<Trained>> {
    let mut trained = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if let Some((model, folder)) = lazy.models.into_iter().zip(lazy.folders).next() {
        seen.insert(folder.clone());
        trained.push(Trained {
            label: "plain — LazyCNN".into(),
            folder,
            kind: ModelKind::Lazy,
            method: "plain".into(),
            model,
        });
    }
    let rows = t4
        .into_iter()
        .flat_map(|t| t.rows.iter().chain(&t.architecture_table));
    for row in rows {
        let Some(folder) = row.folders.first() else {
            continue;
        };
        if seen.insert(folder.clone()) {
            let path = ctx.out.join(folder).join("model.safetensors");
            let loaded = crate::train::run_folder::load_model(&path, ctx.cfg.device)?;
            trained.push(Trained {
                label: format!("{} — {}", row.method, row.model),
                folder: folder.clone(),
                kind: loaded.kind,
                method: row.method.to_string(),
                model: loaded.model,
            });
        }
    }
    Ok(trained)
}

/// Task 2 on the lazy model, and the attention CNN (trained here, read by Task 3).
fn run_task2(
    ctx: &mut Ctx,
    data: &BiasedMnist,
    trained: &[Trained],
) -> Result<(Task2Summary, Trained)> {
    let (cfg, out) = (ctx.cfg, ctx.out);
    let quick = cfg.profile == Profile::Quick;
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
    let plan = plan_for(ModelKind::Attention, &Method::Plain, &tc);
    let (attention_run, model) = ctx.training(2, &plan, data, &attention_folder)?;
    let attention = Trained {
        label: "plain — AttentionCNN".into(),
        folder: attention_folder.clone(),
        kind: ModelKind::Attention,
        method: "plain".into(),
        model,
    };
    let summary = Task2Summary {
        lazy: t2,
        attention_run,
        attention_folder,
    };
    Ok((summary, attention))
}

/// Grad-CAM of every model, one unit each.
fn run_task3<'a>(
    ctx: &mut Ctx,
    data: &BiasedMnist,
    models: impl Iterator<Item = &'a Trained>,
) -> Result<Vec<(String, task3::Task3)>> {
    let (cfg, out) = (ctx.cfg, ctx.out);
    let settings = analysis_settings(cfg, 3, json(task3_config(cfg)));
    let mut t3 = Vec::new();
    for m in models {
        ctx.begin(&format!("Task 3: Grad-CAM of {}", m.label));
        let folder = if m.kind == ModelKind::Attention {
            "task3/attention".to_string()
        } else {
            format!("task3/{}", m.folder.replace('/', "_"))
        };
        let ident = json([m.identity(out)?]);
        let r: task3::Task3 = ctx.analysis(3, &folder, settings.clone(), ident, |dir, _| {
            let c = task3_config(cfg);
            task3::run(
                m.model.as_ref(),
                m.kind,
                data,
                c,
                cfg.limit,
                cfg.device,
                dir,
            )
        })?;
        t3.push((m.label.clone(), r));
    }
    Ok(t3)
}

/// Task 5 on every model of Tasks 1 and 4 (one unit: the transfer matrix crosses them).
fn run_task5(ctx: &mut Ctx, data: &BiasedMnist, trained: &[Trained]) -> Result<task5::Task5> {
    let (cfg, out) = (ctx.cfg, ctx.out);
    ctx.begin("Task 5: adversarial attacks on every model");
    let settings = analysis_settings(cfg, 5, json(task5_config(cfg)));
    let ident = identities(trained.iter(), out)?;
    let attacked: Vec<(String, &dyn Module)> = trained
        .iter()
        .map(|m| (m.label.clone(), m.model.as_ref()))
        .collect();
    ctx.analysis(5, "task5", settings, ident, |dir, log| {
        let c = task5_config(cfg);
        task5::run(&attacked, data, c, cfg.limit, cfg.device, dir, log)
    })
}

/// Task 6 on the lazy model, method 1 and the ShapeCNNs (one unit).
fn run_task6(ctx: &mut Ctx, data: &BiasedMnist, trained: &[Trained]) -> Result<task6::Task6> {
    let (cfg, out) = (ctx.cfg, ctx.out);
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
    let ident = identities(chosen.iter().copied(), out)?;
    let decomposed: Vec<(String, ModelKind, &dyn Module)> = chosen
        .iter()
        .map(|m| (m.label.clone(), m.kind, m.model.as_ref()))
        .collect();
    ctx.analysis(6, "task6", settings, ident, |dir, log| {
        let c = task6_config(cfg);
        task6::run(&decomposed, data, c, cfg.limit, cfg.device, dir, log)
    })
}
