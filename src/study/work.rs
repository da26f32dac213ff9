//! What a study will run: the units of the chosen tasks (training runs and analyses), which of
//! them are finished already, and what the rest should cost — printed before any work.

use super::{plain_config, plan, task3, task4, task5, task6, units, Profile, StudyConfig};
use crate::data::BiasedMnist;
use crate::error::Result;
use crate::models::ModelKind;
use serde::Serialize;
use std::path::Path;

/// The training runs and analyses of the chosen tasks, each with its estimated cost: what the
/// study prints before it starts, and what its overall progress bar counts in.
pub(super) struct Work {
    /// (task, folder relative to the study, estimated seconds, already done)
    pub(super) units: Vec<(u8, String, f64, bool)>,
}

impl Work {
    pub(super) fn cost(&self, folder: &str) -> f64 {
        self.units
            .iter()
            .find(|u| u.1 == folder)
            .map_or(0.0, |u| if u.3 { 0.0 } else { u.2 })
    }
}

/// The methods of Task 4 trained on LazyCNN, and (`full`) on ShapeCNN.
const TASK4_METHODS: [&str; 3] = ["consistency", "focal", "suppress"];

/// The plan of a training run without suppression (the study's units set the folder mode;
/// for the estimate, the suppression ranking is left out).
pub(super) fn plan_for<'a>(
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
pub(super) fn analysis_settings(
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

pub(super) fn task3_config(cfg: &StudyConfig) -> task3::Task3Config {
    if cfg.profile == Profile::Quick {
        task3::Task3Config::QUICK
    } else {
        task3::Task3Config::DEFAULT
    }
}

pub(super) fn task5_config(cfg: &StudyConfig) -> task5::Task5Config {
    if cfg.profile == Profile::Quick {
        task5::Task5Config::QUICK
    } else {
        task5::Task5Config::DEFAULT
    }
}

pub(super) fn task6_config(cfg: &StudyConfig) -> task6::Task6Config {
    if cfg.profile == Profile::Quick {
        task6::Task6Config::QUICK
    } else {
        task6::Task6Config::DEFAULT
    }
}

pub(super) fn json(v: impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Enumerate the units of `tasks` with their estimated seconds, and which are done already.
pub(super) fn list_work(
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
pub(super) fn task6_models(trained: &[(ModelKind, String, String)]) -> Vec<(ModelKind, String)> {
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

/// Print what will run and the estimate; return the estimate.
pub(super) fn describe_plan(
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
