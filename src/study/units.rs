//! What makes `shortcut study` resumable: the study is a list of *units* — a training run, or
//! one analysis (Task 2 on a model, Task 3 on a model, Task 5, Task 6) — and each finished unit
//! is kept under the study folder with the configuration it was made from.
//!
//! | unit | folder | its record | its key |
//! | --- | --- | --- | --- |
//! | a training run | `task1/seed-0`, `task4/<model>-<method>/seed-0`, `task2/attention-seed-0` | `metrics.json` ([`RunRecord`]) | [`run_key`]: model, method and its hyper-parameters, epochs, batch, lr, seed, limit, device, bias, the ranked suppression |
//! | an analysis | `task0`, `task2/lazy`, `task3/<run>`, `task5`, `task6` | `unit.json` (`{format, key, result}`) | the task's settings, the limit, the device, and the MD5 of every model it reads |
//!
//! Either way `manifest.json` (every file with its MD5) is written last, after every file was
//! written atomically. A later study reuses a unit only when the manifest verifies (every file
//! there, byte for byte) **and** the key is the same; otherwise the unit is done again — a
//! training run continues from its resume file when one with the same key is there. Because an
//! analysis's key holds its models' hashes, retraining a model redoes exactly the analyses that
//! read it, and nothing else.

use super::task::TaskId;
use crate::data::BiasedMnist;
use crate::error::{Error, Result};
use crate::files::{files_under, manifest_entry, manifest_verifies, write_json, write_manifest};
use crate::nn::Module;
use crate::train::resume::{self, RESUME_FILE};
use crate::train::run_folder::{
    key_difference, load_model, record_key, run_key, FolderMode, RunPlan,
};
use crate::train::{train_run, RunRecord};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The layout of a study folder and of its units' records. Bump it when a stored result changes
/// shape: a folder of another format is then refused (with `--fresh` to start over), never
/// half-read.
pub const FORMAT: u32 = 1;

/// An analysis unit's record: its key and its result.
pub const UNIT_FILE: &str = "unit.json";

/// The study folder's own marker: which format wrote it.
pub const STUDY_FILE: &str = "study.json";

/// The names a study writes at its top level besides its tasks' folders (`task0`, …):
/// `--fresh` removes these and those, and nothing else.
const STUDY_ENTRIES: [&str; 4] = [
    super::RESULTS_FILE,
    "index.html",
    STUDY_FILE,
    crate::files::MANIFEST,
];

/// Stands for the study folder inside stored paths, so that a folder that was moved or is
/// named differently on the command line (`out` vs `./out`) still finds its figures.
const ROOT: &str = "@study";

#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    key: Value,
    result: Value,
    /// Wall time of computing the unit (s).
    #[serde(default)]
    seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct StudyMarker {
    format: u32,
    version: String,
}

/// What happened to one unit in this study run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Found finished with the same key: read back, not computed.
    Reused,
    /// A training run continued from its resume file.
    Resumed,
    /// Computed (nothing usable was there).
    Ran,
    /// Computed again: what was there was made with other settings, or did not verify.
    Redone,
}

/// One unit's line in the study's log: `results.json` keeps the list (`units`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitLog {
    /// The task it belongs to (its number).
    pub task: TaskId,
    /// Its folder, relative to the study folder.
    pub folder: String,
    pub outcome: Outcome,
    /// Why it was redone (empty otherwise).
    pub why: String,
    /// Wall time of this study run spent on it (s; about 0 when reused).
    pub seconds: f64,
    /// Wall time of computing it, whenever that was (this run, or the run that made what was
    /// reused; for a training run, its epochs' training time).
    pub computed_seconds: f64,
}

/// The study folder and what happened to each unit so far.
pub struct Units {
    root: PathBuf,
    fresh: bool,
    pub log: Vec<UnitLog>,
}

impl Units {
    /// Open the study folder `root` (created if needed) of a study of `tasks` (every task
    /// of the registry: their folders are the study's). A folder written by another format of
    /// the study, or by a version before the study was resumable, is refused unless `fresh`,
    /// which removes every file the study writes (and only those) first.
    pub fn open(root: &Path, fresh: bool, tasks: &[TaskId]) -> Result<Units> {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", root.display())))?;
        let folders: Vec<String> = tasks.iter().map(|t| t.key()).collect();
        if fresh {
            let names = folders.iter().map(String::as_str).chain(STUDY_ENTRIES);
            for name in names {
                remove_entry(&root.join(name))?;
            }
        } else {
            check_format(root, &folders)?;
        }
        write_json(
            &root.join(STUDY_FILE),
            &StudyMarker {
                format: FORMAT,
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
        )?;
        Ok(Units {
            root: root.to_path_buf(),
            fresh,
            log: Vec::new(),
        })
    }

    /// The study folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn rel(&self, dir: &Path) -> String {
        dir.strip_prefix(&self.root)
            .unwrap_or(dir)
            .to_string_lossy()
            .to_string()
    }

    /// The result of the analysis in `dir` with configuration `key`: read back when a finished
    /// unit with that key is there, otherwise computed by `run` (into a cleared `dir`) and
    /// stored. `key` must name everything the result depends on (use [`model_hash`] for
    /// models).
    pub fn analysis<T: Serialize + DeserializeOwned>(
        &mut self,
        task: TaskId,
        dir: &Path,
        key: Value,
        run: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<T> {
        let start = Instant::now();
        let (found, why) = if self.fresh {
            (None, String::new())
        } else {
            self.stored(dir, &key)
        };
        if let Some((result, computed)) = found {
            self.push(task, dir, Outcome::Reused, String::new(), start, computed);
            return Ok(result);
        }
        // Nothing of an earlier attempt stays beside the new files.
        remove_entry(dir)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", dir.display())))?;
        let result = run(dir)?;
        let computed = start.elapsed().as_secs_f64();
        let value = serde_json::to_value(&result)
            .map_err(|e| Error::Invalid(format!("cannot record {}: {e}", dir.display())))?;
        let stored = Stored {
            format: FORMAT,
            key,
            result: relocate(value, &prefix(&self.root), ROOT),
            seconds: computed,
        };
        write_json(&dir.join(UNIT_FILE), &stored)?;
        write_manifest(dir, &files_under(dir)?)?;
        let outcome = if why.is_empty() {
            Outcome::Ran
        } else {
            Outcome::Redone
        };
        self.push(task, dir, outcome, why, start, computed);
        Ok(result)
    }

    /// Read a finished unit back; `(None, why)` when there is none to trust (`why` is empty
    /// when the folder simply holds nothing).
    fn stored<T: DeserializeOwned>(&self, dir: &Path, key: &Value) -> (Option<(T, f64)>, String) {
        let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
        if empty {
            return (None, String::new());
        }
        if !dir.join(crate::files::MANIFEST).exists() {
            return (None, "an earlier attempt did not finish".into());
        }
        if !manifest_verifies(dir) {
            return (None, "changed since it was written".into());
        }
        let text = match std::fs::read_to_string(dir.join(UNIT_FILE)) {
            Ok(t) => t,
            Err(e) => return (None, format!("cannot read {UNIT_FILE}: {e}")),
        };
        let stored: Stored = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => return (None, format!("{UNIT_FILE} unreadable: {e}")),
        };
        if stored.key != *key {
            return (
                None,
                format!(
                    "settings changed: {}",
                    key_difference(&stored.key.to_string(), &key.to_string())
                ),
            );
        }
        let value = relocate(stored.result, ROOT, &prefix(&self.root));
        match serde_json::from_value(value) {
            Ok(r) => (Some((r, stored.seconds)), String::new()),
            Err(e) => (None, format!("its result does not read back ({e})")),
        }
    }

    /// Train the run `plan` describes into `dir`, or reuse it: a finished run there with the
    /// same key is loaded, an unfinished one with the same key is resumed, anything else is
    /// replaced.
    pub fn training(
        &mut self,
        task: TaskId,
        plan: &RunPlan,
        data: &BiasedMnist,
        dir: &Path,
        log: &mut dyn FnMut(&str),
    ) -> Result<(RunRecord, Box<dyn Module>)> {
        let start = Instant::now();
        let key = run_key(plan, data);
        let mut why = String::new();
        if !self.fresh {
            match finished_run(dir, &key, plan.cfg.device) {
                Ok(Some(found)) => {
                    let trained = found.0.epoch_seconds.iter().sum();
                    self.push(task, dir, Outcome::Reused, String::new(), start, trained);
                    return Ok(found);
                }
                Ok(None) => {}
                Err(reason) => why = reason,
            }
        }
        let resumable = !self.fresh
            && dir.join(RESUME_FILE).exists()
            && resume::peek(&dir.join(RESUME_FILE)).is_ok_and(|(k, _, _)| k == key);
        let mode = if resumable {
            FolderMode::Resume
        } else {
            FolderMode::Overwrite
        };
        let plan = RunPlan {
            kind: plan.kind,
            method: plan.method,
            suppression: plan.suppression,
            cfg: plan.cfg,
            mode,
        };
        let found = train_run(&plan, data, dir, log)?;
        let outcome = match (resumable, why.is_empty()) {
            (true, _) => Outcome::Resumed,
            (false, true) => Outcome::Ran,
            (false, false) => Outcome::Redone,
        };
        let trained = found.0.epoch_seconds.iter().sum();
        self.push(task, dir, outcome, why, start, trained);
        Ok(found)
    }

    fn push(
        &mut self,
        task: TaskId,
        dir: &Path,
        outcome: Outcome,
        why: String,
        start: Instant,
        computed_seconds: f64,
    ) {
        self.log.push(UnitLog {
            task,
            folder: self.rel(dir),
            outcome,
            why,
            seconds: start.elapsed().as_secs_f64(),
            computed_seconds,
        });
    }
}

/// Is there a finished analysis in `dir` made with these `settings` (the part of its key that
/// does not depend on the models)? For the estimate made before any work; the models' part is
/// checked when the unit runs.
pub fn analysis_done(dir: &Path, settings: &Value) -> bool {
    manifest_verifies(dir)
        && std::fs::read_to_string(dir.join(UNIT_FILE))
            .ok()
            .and_then(|t| serde_json::from_str::<Stored>(&t).ok())
            .is_some_and(|s| s.format == FORMAT && s.key.get("settings") == Some(settings))
}

/// Is there a finished training run in `dir` with these settings (the ranked suppression
/// channels aside, which are known only once the ranking model is trained)? For the estimate.
pub fn training_done(dir: &Path, plan: &RunPlan, data: &BiasedMnist) -> bool {
    let unranked = |k: &str| {
        serde_json::from_str::<Value>(k).ok().map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("suppression");
            }
            v
        })
    };
    manifest_verifies(dir)
        && std::fs::read_to_string(dir.join("metrics.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<RunRecord>(&t).ok())
            .is_some_and(|r| unranked(&record_key(&r)) == unranked(&run_key(plan, data)))
}

/// The MD5 of the model a finished run folder holds (from its manifest): the part of an
/// analysis's key that says which model it read.
pub fn model_hash(run_dir: &Path) -> Result<String> {
    manifest_entry(run_dir, "model.safetensors").ok_or_else(|| {
        Error::Invalid(format!(
            "{} has no finished model (no manifest entry for model.safetensors)",
            run_dir.display()
        ))
    })
}

/// A trained run: its record and its model.
type Trained = (RunRecord, Box<dyn Module>);

/// A finished run in `dir` with `key`, loaded; `Ok(None)` when the folder holds no finished
/// run; `Err(why)` when it holds one that may not be reused.
fn finished_run(
    dir: &Path,
    key: &str,
    device: crate::device::Device,
) -> std::result::Result<Option<Trained>, String> {
    if !crate::files::has_our_manifest(dir) {
        return Ok(None);
    }
    if !manifest_verifies(dir) {
        return Err("changed since it was written".into());
    }
    let text = std::fs::read_to_string(dir.join("metrics.json"))
        .map_err(|e| format!("cannot read metrics.json: {e}"))?;
    let record: RunRecord =
        serde_json::from_str(&text).map_err(|e| format!("metrics.json unreadable: {e}"))?;
    let there = record_key(&record);
    if there != key {
        return Err(format!("settings changed: {}", key_difference(&there, key)));
    }
    let loaded = load_model(&dir.join("model.safetensors"), device).map_err(|e| e.to_string())?;
    Ok(Some((record, loaded.model)))
}

/// Refuse a folder that a study of another format wrote (or one from before study folders had
/// a format), so that nothing is read with the wrong meaning.
fn check_format(root: &Path, task_folders: &[String]) -> Result<()> {
    let marker = root.join(STUDY_FILE);
    let hint =
        "run the same command with --fresh to redo it from the start, or choose another --out";
    if marker.exists() {
        let format = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|t| serde_json::from_str::<StudyMarker>(&t).ok())
            .map(|m| m.format);
        return match format {
            Some(FORMAT) => Ok(()),
            Some(other) => Err(Error::Invalid(format!(
                "{} was written by another version of shortcut (study format {other}; this one writes {FORMAT}): {hint}",
                root.display()
            ))),
            None => Err(Error::Invalid(format!(
                "{} cannot be read: {hint}",
                marker.display()
            ))),
        };
    }
    let older = task_folders
        .iter()
        .map(String::as_str)
        .chain(["results.json"])
        .any(|n| root.join(n).exists());
    if older {
        return Err(Error::Invalid(format!(
            "{} holds a study written by an earlier version of shortcut (no {STUDY_FILE}): {hint}",
            root.display()
        )));
    }
    Ok(())
}

/// Remove a file or a folder tree, if it exists.
fn remove_entry(path: &Path) -> Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.map_err(|e| Error::Invalid(format!("cannot remove {}: {e}", path.display())))
}

/// `root` as stored paths begin with it.
fn prefix(root: &Path) -> String {
    root.to_string_lossy().trim_end_matches('/').to_string()
}

/// Replace the leading `from` of every string in `v` that is a path under `from` by `to`.
pub(super) fn relocate(v: Value, from: &str, to: &str) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix(from) {
            Some(rest) if rest.starts_with('/') => Value::String(format!("{to}{rest}")),
            _ => Value::String(s),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(|x| relocate(x, from, to)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (k, relocate(x, from, to)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_paths_follow_the_study_folder() {
        let v = serde_json::json!({"a": "out/task0/x.png", "b": ["out/task3/y.png", "outer/z"], "c": 1});
        let stored = relocate(v, "out", ROOT);
        assert_eq!(stored["a"], "@study/task0/x.png");
        assert_eq!(stored["b"][1], "outer/z");
        let back = relocate(stored, ROOT, "/elsewhere/out");
        assert_eq!(back["b"][0], "/elsewhere/out/task3/y.png");
        assert_eq!(back["c"], 1);
    }
}
