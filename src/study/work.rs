//! What a study will run: the units of the chosen tasks (training runs and analyses), which of
//! them are finished already, and what the rest should cost — printed before any work. The
//! runner ([`super::run`]) then executes exactly this list.

use super::task::{Setup, Task, TaskId, Unit, Work};
use super::{plan, units, StudyConfig};
use crate::data::BiasedMnist;
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// The units of the chosen tasks, in the order they run, each with whether it is finished.
pub(super) struct Planned {
    pub(super) units: Vec<(Unit, bool)>,
}

impl Planned {
    /// The estimated cost of the unit in `folder` (0 when it is finished).
    pub(super) fn cost(&self, folder: &str) -> f64 {
        self.units
            .iter()
            .find(|(u, _)| u.folder == folder)
            .map_or(0.0, |(u, done)| if *done { 0.0 } else { u.cost })
    }

    /// The units of `task`, in order.
    pub(super) fn of(&self, task: TaskId) -> Vec<Unit> {
        self.units
            .iter()
            .filter(|(u, _)| u.task == task)
            .map(|(u, _)| u.clone())
            .collect()
    }
}

/// The plan of a training unit without suppression (the study's units set the folder mode; for
/// the estimate, the suppression ranking is left out).
pub(super) fn plan_of(t: &super::task::TrainUnit) -> crate::train::run_folder::RunPlan<'_> {
    crate::train::run_folder::RunPlan {
        kind: t.kind,
        method: &t.method,
        suppression: None,
        cfg: &t.config,
        mode: crate::train::run_folder::FolderMode::Overwrite,
    }
}

/// List the units of `tasks` (in running order), priced with `cal`; with `out`, mark those
/// finished there already.
pub(super) fn list_units(
    cfg: &StudyConfig,
    tasks: &[&dyn Task],
    data: &BiasedMnist,
    cal: &plan::Calibration,
    out: Option<&Path>,
) -> Result<Planned> {
    let mut setup = Setup {
        cfg,
        cal,
        sizes: plan::SplitSizes::of(data, cfg.limit),
        models: Vec::new(),
    };
    let mut units = Vec::new();
    let mut folders = BTreeSet::new();
    for task in tasks {
        for unit in task.units(&setup)? {
            if unit.task != task.id() || !folders.insert(unit.folder.clone()) {
                return Err(Error::Invalid(format!(
                    "internal: task {} lists unit {} twice or under another task",
                    task.id(),
                    unit.folder
                )));
            }
            if let Some(model) = unit.model() {
                setup.models.push(model);
            }
            let done = !cfg.fresh && out.is_some_and(|out| is_done(&unit, data, out));
            units.push((unit, done));
        }
    }
    Ok(Planned { units })
}

/// Is `unit` finished in `out` with its settings? (An analysis's models are checked when it
/// runs; a suppression's ranked channels when it trains.)
fn is_done(unit: &Unit, data: &BiasedMnist, out: &Path) -> bool {
    let dir = out.join(&unit.folder);
    match &unit.work {
        Work::Train(t) => units::training_done(&dir, &plan_of(t), data),
        Work::Analyse(a) => units::analysis_done(&dir, &a.settings),
    }
}

/// Print what will run and the estimate; return the estimate.
pub(super) fn describe_plan(
    cfg: &StudyConfig,
    tasks: &[&dyn Task],
    planned: &Planned,
    cal: &plan::Calibration,
    log: &mut dyn FnMut(&str),
) -> plan::Estimate {
    let mut est = plan::Estimate {
        step_seconds: cal
            .step_seconds
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        ..Default::default()
    };
    for (unit, done) in &planned.units {
        if *done {
            est.units_done += 1;
        } else {
            est.units_to_do += 1;
            *est.task_seconds.entry(unit.task.key()).or_default() += unit.cost;
            est.total_seconds += unit.cost;
        }
    }
    let mut ids: Vec<TaskId> = tasks.iter().map(|t| t.id()).collect();
    ids.sort_unstable();
    let pulled: Vec<String> = ids
        .iter()
        .filter(|t| !cfg.tasks.contains(t))
        .map(|t| t.to_string())
        .collect();
    log(&format!(
        "plan: tasks {}{} on {}, profile {}, {} seed(s); {} unit(s) to do, {} found finished",
        ids.iter()
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
    for &t in &ids {
        log(&task_line(t, planned, &est));
    }
    log(&format!(
        "estimated time: ≈ {} (an estimate from the timed steps; the end prints what each task took)",
        plan::human(est.total_seconds)
    ));
    est
}

/// `  task 4: 3 to do, 1 finished, ≈ 2 min (task4/lazycnn-focal/seed-0, …)`
fn task_line(t: TaskId, planned: &Planned, est: &plan::Estimate) -> String {
    let of_task: Vec<&(Unit, bool)> = planned.units.iter().filter(|u| u.0.task == t).collect();
    let to_do: Vec<&str> = of_task
        .iter()
        .filter(|u| !u.1)
        .map(|u| u.0.folder.as_str())
        .collect();
    let secs = est.task_seconds.get(&t.key()).copied().unwrap_or(0.0);
    format!(
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
    )
}
