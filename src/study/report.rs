//! The study's `index.html`: one self-contained page (figures embedded as data URIs) that puts
//! our numbers next to the original report's.
//!
//! The page is rendered from templates ([`crate::report`], `src/report/templates/`): this file
//! gathers what the index shows around the tasks' sections (each task renders its own, see
//! [`super::task::Task::section`]), as plain data; the templates lay it out and escape it.

use super::task4::Task4;
use super::{Profile, StudyResults, Task, Task1Summary, Task2Summary, TaskId};
use crate::error::Result;
use crate::report::{render, safe};
use minijinja::Value;
use serde::Serialize;
use std::path::Path;

/// Build and write `out/index.html` for the study's own tasks (see [`write_index_with`]).
pub fn write_index(r: &StudyResults, out: &Path) -> Result<()> {
    write_index_with(&super::registry::TASKS, r, out)
}

/// Build and write `out/index.html`: the settings, a summary written from the numbers, a
/// table of contents, then the section of each task of `registry` that ran.
pub fn write_index_with(registry: &[&dyn Task], r: &StudyResults, out: &Path) -> Result<()> {
    let page = render(
        "index.html",
        Index {
            settings: settings(r),
            quick: r.config.profile == Profile::Quick,
            summary: safe(super::summary::summary_html(r)?),
            contents: contents(registry, r),
            sections: task_sections(registry, r, out)?
                .into_iter()
                .map(safe)
                .collect(),
            timing: timing(r),
        },
    )?;
    super::write_atomic(&out.join("index.html"), page.as_bytes())
}

/// What `index.html` shows; the summary and the sections arrive already rendered.
#[derive(Serialize)]
struct Index {
    settings: Settings,
    quick: bool,
    summary: Value,
    contents: Vec<ContentsEntry>,
    sections: Vec<Value>,
    timing: Timing,
}

/// The tasks of `registry` that ran, by number: the order of the page's sections.
fn ran<'a>(registry: &[&'a dyn Task], r: &StudyResults) -> Vec<&'a dyn Task> {
    let mut ran: Vec<&dyn Task> = registry
        .iter()
        .copied()
        .filter(|t| r.tasks.contains(&t.id()))
        .collect();
    ran.sort_by_key(|t| t.id());
    ran
}

/// Each task's section of the page, in the order of the tasks (a task not run has none).
fn task_sections(registry: &[&dyn Task], r: &StudyResults, out: &Path) -> Result<Vec<String>> {
    ran(registry, r).iter().map(|t| t.section(r, out)).collect()
}

/// The line of settings under the title, each item as it is printed.
#[derive(Serialize)]
struct Settings {
    profile: &'static str,
    device: String,
    tasks: String,
    seeds: String,
    epochs: String,
    batch: usize,
    lr: String,
    bias: String,
    samples: String,
    seconds: f64,
    reused: usize,
    units: usize,
}

fn settings(r: &StudyResults) -> Settings {
    let c = &r.config;
    Settings {
        profile: c.profile.name(),
        device: c.device.to_string(),
        tasks: format!(
            "{:?}",
            r.tasks.iter().map(|t| t.number()).collect::<Vec<_>>()
        ),
        seeds: format!("{:?}", c.seeds),
        epochs: epochs_per_run(r),
        batch: c.batch,
        lr: c.lr.to_string(),
        bias: c.bias.to_string(),
        samples: match c.limit {
            Some(l) => format!("first {l} samples of each split"),
            None => "all samples".to_string(),
        },
        seconds: r.seconds,
        reused: reused_units(r),
        units: r.units.len(),
    }
}

/// How many epochs the training runs had, read from their records: one number when they all
/// had the same (as with `--epochs`), else each run's (the SPEC gives each model and method
/// its own: LazyCNN 10, consistency 25, …).
fn epochs_per_run(r: &StudyResults) -> String {
    let t1 = r.result::<Task1Summary>(TaskId::Shortcut).ok().flatten();
    let t2 = r.result::<Task2Summary>(TaskId::Learned).ok().flatten();
    let t4 = r.result::<Task4>(TaskId::Debias).ok().flatten();
    let mut runs: Vec<(String, usize)> = Vec::new();
    let mut add = |label: String, epochs: usize| {
        if !runs.iter().any(|(l, _)| *l == label) {
            runs.push((label, epochs));
        }
    };
    for run in t1.iter().flat_map(|t| &t.runs) {
        add(run.model.clone(), run.config.epochs);
    }
    if let Some(t2) = &t2 {
        add(
            t2.attention_run.model.clone(),
            t2.attention_run.config.epochs,
        );
    }
    for row in t4
        .iter()
        .flat_map(|t| t.rows.iter().chain(&t.architecture_table))
    {
        if let Some(run) = row.runs.first() {
            let label = match row.method.as_str() {
                "plain" => row.model.to_string(),
                method => format!("{method} on {}", row.model),
            };
            add(label, run.config.epochs);
        }
    }
    let one = |e: usize| format!("{e} epoch{} per run", if e == 1 { "" } else { "s" });
    match (runs.first(), r.config.epochs) {
        (Some(&(_, e)), _) if runs.iter().all(|(_, x)| *x == e) => one(e),
        (Some(_), _) => {
            let each: Vec<String> = runs.iter().map(|(l, e)| format!("{l} {e}")).collect();
            format!("epochs per run: {}", each.join(", "))
        }
        (None, Some(e)) => one(e),
        (None, None) => "each run's epochs from the SPEC".to_string(),
    }
}

fn reused_units(r: &StudyResults) -> usize {
    r.units
        .iter()
        .filter(|u| u.outcome == super::units::Outcome::Reused)
        .count()
}

#[derive(Serialize)]
struct ContentsEntry {
    number: u8,
    title: &'static str,
}

/// The table of contents: the tasks run, then the timing table.
fn contents(registry: &[&dyn Task], r: &StudyResults) -> Vec<ContentsEntry> {
    ran(registry, r)
        .iter()
        .map(|t| ContentsEntry {
            number: t.id().number(),
            title: t.title(),
        })
        .collect()
}

/// Wall time per task: the estimate and the time of this run, the time its units took when
/// they were computed (in this run or the one whose results were reused), and peak memory.
#[derive(Serialize)]
struct Timing {
    rows: Vec<TimingRow>,
    reused: usize,
    units: usize,
}

#[derive(Serialize)]
struct TimingRow {
    task: String,
    estimated: f64,
    this_run: f64,
    computed: f64,
    peak_mb: Option<f64>,
}

fn timing(r: &StudyResults) -> Timing {
    let rows = r
        .task_seconds
        .iter()
        .map(|(task, &secs)| TimingRow {
            task: task.clone(),
            estimated: r.estimate.task_seconds.get(task).copied().unwrap_or(0.0),
            this_run: secs,
            computed: r
                .units
                .iter()
                .filter(|u| u.task.key() == *task)
                .map(|u| u.computed_seconds)
                .sum(),
            peak_mb: r.task_peak_mb.get(task).copied(),
        })
        .collect();
    Timing {
        rows,
        reused: reused_units(r),
        units: r.units.len(),
    }
}
