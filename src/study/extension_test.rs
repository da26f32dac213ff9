//! Adding a task takes its own type and one line in a registry: a small extra task (Task 7, a
//! probe that trains a LazyCNN and evaluates it) goes through the plan, the run, a resume and
//! the report without any other change to the study.

use super::registry;
use super::task::{to_value, About, Finished, Job, Setup, Task, TaskId, TrainUnit, Unit};
use super::units::Outcome;
use super::{plain_config, run_study_with, Profile, StudyConfig, StudyResults};
use crate::data::Split;
use crate::device::Device;
use crate::error::Result;
use crate::models::ModelKind;
use crate::train::Method;
use serde_json::{json, Value};
use std::path::Path;

/// The probe: one training unit and one analysis that reads its model.
struct ProbeTask;

const RUN: &str = "task7/lazy";
const COUNT: &str = "task7/count";

impl Task for ProbeTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::Probe,
            title: "a probe",
            needs: &[TaskId::Data],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let train = TrainUnit {
            kind: ModelKind::Lazy,
            method: Method::Plain,
            config: plain_config(s.cfg, ModelKind::Lazy, s.seed0()),
            ranked_on: None,
            read_as: Some("plain — probe".into()),
        };
        let trained = s.training(self.id(), RUN.into(), "a LazyCNN".into(), train);
        let reads = trained.model().into_iter().collect();
        let names = (COUNT.into(), "its hard-split accuracy".into());
        let count = s.analysis(self.id(), names, json!("count"), reads, 1.0);
        Ok(vec![trained, count])
    }

    fn analyse(&self, job: Job) -> Result<Value> {
        let (_, model) = job.models[0];
        let cfg = job.cfg;
        let e =
            crate::measure::eval::evaluate(model, job.data, Split::Hard, cfg.limit, cfg.device)?;
        let file = job.dir.join("count.txt");
        crate::files::write_atomic(&file, e.accuracy.to_string().as_bytes())?;
        to_value(json!({ "hard_acc": e.accuracy, "file": file }))
    }

    fn result(&self, done: &Finished) -> Result<Value> {
        let run = done.board.run(RUN)?;
        let count: Value = done.board.analysis(COUNT)?;
        to_value(json!({ "run_hard": run.final_hard_acc(), "count": count }))
    }

    fn section(&self, r: &StudyResults, _out: &Path) -> Result<String> {
        let v: Option<Value> = r.result(self.id())?;
        Ok(format!(
            "probe section: {}",
            v.unwrap_or_default()["count"]["hard_acc"]
        ))
    }
}

static WITH_PROBE: [&dyn Task; 2] = [&super::task0::DataTask, &ProbeTask];

fn run(cfg: &StudyConfig, out: &Path) -> (StudyResults, Vec<String>) {
    let mut log = Vec::new();
    let r = run_study_with(&WITH_PROBE, cfg, out, &mut |s| log.push(s.to_string())).unwrap();
    (r, log)
}

fn outcomes(r: &StudyResults) -> Vec<(String, Outcome)> {
    r.units
        .iter()
        .map(|u| (u.folder.clone(), u.outcome))
        .collect()
}

#[test]
fn an_extra_task_is_planned_run_resumed_and_reported() {
    let Ok(data) = crate::data::find_data_dir(None) else {
        eprintln!("skipped: no MNIST here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let mut cfg = StudyConfig::for_profile(Profile::Quick, Device::Cpu, data);
    (cfg.limit, cfg.epochs, cfg.tasks) = (Some(200), Some(1), vec![TaskId::Probe]);
    assert_eq!(
        registry::parse_tasks(&WITH_PROBE, "7").unwrap(),
        [TaskId::Probe]
    );

    // Plan and run: Task 7 pulls in Task 0; its two units run.
    let (first, log) = run(&cfg, &out);
    assert!(
        log.iter()
            .any(|l| l.starts_with("plan: tasks 0, 7 (needed: 0)")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("  task 7: 2 to do")),
        "{log:?}"
    );
    let ran = |f: &str| (f.to_string(), Outcome::Ran);
    assert_eq!(outcomes(&first), [ran("task0"), ran(RUN), ran(COUNT)]);
    let result = &first.results["task7"];
    assert!(result["count"]["hard_acc"].as_f64().is_some(), "{result}");
    let run_hard = result["run_hard"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&run_hard), "{result}");
    assert!(out.join(COUNT).join("count.txt").is_file());

    // Run again: everything is found finished and reused, with the same result.
    let (again, log) = run(&cfg, &out);
    assert!(
        log.iter()
            .any(|l| l.starts_with("  task 7: 0 to do, 2 finished")),
        "{log:?}"
    );
    assert!(again.units.iter().all(|u| u.outcome == Outcome::Reused));
    assert_eq!(again.results["task7"], first.results["task7"]);

    // Resume after the analysis was lost: only it runs again.
    std::fs::remove_dir_all(out.join(COUNT)).unwrap();
    let (resumed, _) = run(&cfg, &out);
    let reused = |f: &str| (f.to_string(), Outcome::Reused);
    assert_eq!(
        outcomes(&resumed),
        [reused("task0"), reused(RUN), ran(COUNT)]
    );
    assert_eq!(resumed.results["task7"], first.results["task7"]);

    // The report: its section and its line in the contents; results.json keeps its result.
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("probe section: "), "the section is missing");
    assert!(
        page.contains("Task 7 — a probe"),
        "the contents lack Task 7"
    );
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(stored["task7"], first.results["task7"]);
    assert_eq!(stored["tasks"], json!([0, 7]));
}
