//! The study (SPEC Tasks 0–6), one file per task, plus the HTML report.
//!
//! [`run_study`] runs Tasks 0–6 (training Task 4's models before Tasks 2, 3, 5 and 6 explain,
//! attack and decompose them)
//! and writes one folder:
//! `index.html` (every figure inline, our numbers next to the report's), `results.json`, and a
//! sub-folder per task with its PNGs, metrics and checkpoints.

pub mod explain;
pub mod report;
pub mod task0;
pub mod task1;
pub mod task2;
pub mod task3;
pub mod task4;
pub mod task5;
pub mod task6;

use crate::data::BiasedMnist;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How much of the study to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
    /// Parse `quick` or `full`.
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
#[derive(Clone, Debug, Serialize)]
pub struct StudyConfig {
    pub profile: Profile,
    #[serde(serialize_with = "ser_device")]
    pub device: Device,
    pub seeds: Vec<u64>,
    /// Epochs of every run; `None`: each run's SPEC epochs (LazyCNN 10, consistency 25, …).
    pub epochs: Option<usize>,
    pub limit: Option<usize>,
    pub batch: usize,
    pub lr: f32,
    pub bias: f32,
    pub data_dir: PathBuf,
    #[serde(skip)]
    pub progress: bool,
}

fn ser_device<S: serde::Serializer>(d: &Device, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
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

/// The study's results, serialized as `results.json`.
#[derive(Debug, Serialize)]
pub struct StudyResults {
    pub config: StudyConfig,
    pub seconds: f64,
    pub task0: task0::Task0,
    pub task1: Task1Summary,
    pub task2: Task2Summary,
    /// Grad-CAM of every model (seed 0): (label, analysis), the lazy model first.
    pub task3: Vec<(String, task3::Task3)>,
    pub task4: task4::Task4,
    pub task5: task5::Task5,
    pub task6: task6::Task6,
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

/// Run every task that exists and write the report into `out`.
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
    log(&format!("loading MNIST from {}", cfg.data_dir.display()));
    let mnist = crate::data::mnist::load(&cfg.data_dir)?;

    log("Task 0: the data");
    let data0 = BiasedMnist::new(
        mnist.clone(),
        cfg.seeds.first().copied().unwrap_or(0),
        cfg.bias,
        true,
    )?;
    let t0 = task0::run(&data0, cfg.limit, &out.join("task0"))?;
    log(&format!(
        "  train painted its dominant colour {:.2}% of the time, hard {:.2}%, aligned {:.2}%",
        t0.train_dominant_pct, t0.hard_dominant_pct, t0.aligned_dominant_pct
    ));
    drop(data0);

    log("Task 1: the lazy model");
    let (mut runs, mut models, mut folders) = (Vec::new(), Vec::new(), Vec::new());
    for &seed in &cfg.seeds {
        log(&format!("  LazyCNN, seed {seed}"));
        let data = BiasedMnist::new(mnist.clone(), seed, cfg.bias, true)?;
        let tc = plain_config(cfg, ModelKind::Lazy, seed);
        let folder = format!("task1/seed-{seed}");
        let (run, model) = task1::run(&data, &tc, &out.join(&folder), &mut |s| {
            log(&format!("    {s}"))
        })?;
        runs.push(run);
        models.push(model);
        folders.push(folder);
    }
    let finals = |f: &dyn Fn(&crate::train::RunRecord) -> f64| {
        mean_std(&runs.iter().map(f).collect::<Vec<_>>())
    };
    let summary = Task1Summary {
        train_acc_mean_std: finals(&|r| r.final_train_acc()),
        hard_acc_mean_std: finals(&|r| r.final_hard_acc()),
        aligned_acc_mean_std: finals(&|r| *r.aligned_acc.last().unwrap_or(&0.0)),
        reference_train_acc: task1::REFERENCE_TRAIN_ACC,
        reference_hard_acc: task1::REFERENCE_HARD_ACC,
        runs,
    };

    log("Task 4: debiasing");
    let t4 = task4::run(cfg, &mnist, &summary.runs, folders, &models, out, log)?;

    let quick = cfg.profile == Profile::Quick;
    let seed = cfg.seeds.first().copied().unwrap_or(0);
    let data = BiasedMnist::new(mnist.clone(), seed, cfg.bias, true)?;
    log("Task 2: what the lazy model learned");
    let lazy = models
        .first()
        .ok_or_else(|| Error::Invalid("the study needs at least one seed".into()))?;
    let t2 = task2::run(
        lazy.as_ref(),
        ModelKind::Lazy,
        quick,
        cfg.device,
        &out.join("task2/lazy"),
    )?;
    log(&format!(
        "  class visualizations: colour purity {:.2} (report 0.78); unit CSI mean {:.2}, max {:.2} (bound 3.00)",
        t2.purity_mean, t2.units.csi_mean, t2.units.csi_max
    ));
    log("  the attention CNN");
    let attention_folder = format!("task2/attention-seed-{seed}");
    let tc = plain_config(cfg, ModelKind::Attention, seed);
    let plan = crate::train::run_folder::RunPlan {
        kind: ModelKind::Attention,
        method: &crate::train::Method::Plain,
        suppression: None,
        cfg: &tc,
        // The study owns its folders: a re-run replaces them.
        mode: crate::train::run_folder::FolderMode::Overwrite,
    };
    let (attention_run, attention) =
        crate::train::train_run(&plan, &data, &out.join(&attention_folder), &mut |s| {
            log(&format!("    {s}"))
        })?;

    log("Task 3: Grad-CAM of every model");
    let t3cfg = if quick {
        task3::Task3Config::QUICK
    } else {
        task3::Task3Config::DEFAULT
    };
    // Every trained model of Tasks 1 and 4 (first seed), read back from its run folder.
    let mut trained = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in t4.rows.iter().chain(&t4.architecture_table) {
        let Some(folder) = row.folders.first() else {
            continue;
        };
        if seen.insert(folder.clone()) {
            let path = out.join(folder).join("model.safetensors");
            let loaded = crate::train::run_folder::load_model(&path, cfg.device)?;
            trained.push((
                format!("{} — {}", row.method, row.model),
                folder.clone(),
                loaded,
            ));
        }
    }
    let mut t3 = Vec::new();
    for (label, folder, loaded) in &trained {
        log(&format!("  {label}"));
        let dir = out.join("task3").join(folder.replace('/', "_"));
        let r = task3::run(
            loaded.model.as_ref(),
            loaded.kind,
            &data,
            t3cfg,
            cfg.limit,
            cfg.device,
            &dir,
        )?;
        t3.push((label.clone(), r));
    }
    log("  plain — AttentionCNN");
    let r = task3::run(
        attention.as_ref(),
        ModelKind::Attention,
        &data,
        t3cfg,
        cfg.limit,
        cfg.device,
        &out.join("task3/attention"),
    )?;
    t3.push(("plain — AttentionCNN".to_string(), r));

    log("Task 5: adversarial attacks on every model");
    let t5cfg = if quick {
        task5::Task5Config::QUICK
    } else {
        task5::Task5Config::DEFAULT
    };
    let attacked: Vec<(String, &dyn crate::nn::Module)> = trained
        .iter()
        .map(|(l, _, m)| (l.clone(), m.model.as_ref()))
        .collect();
    let t5 = task5::run(
        &attacked,
        &data,
        t5cfg,
        cfg.limit,
        cfg.device,
        &out.join("task5"),
        log,
    )?;

    log("Task 6: sparse autoencoders");
    let t6cfg = if quick {
        task6::Task6Config::QUICK
    } else {
        task6::Task6Config::DEFAULT
    };
    // The lazy model first (SPEC's main SAE), then method 1 (the report's robust model), then
    // the ShapeCNNs (their pooled 128 channels).
    let wanted = [
        "plain — LazyCNN",
        "consistency — LazyCNN",
        "plain — ShapeCNN",
        "consistency — ShapeCNN",
    ];
    let decomposed: Vec<(String, ModelKind, &dyn crate::nn::Module)> = wanted
        .iter()
        .filter_map(|w| trained.iter().find(|(l, _, _)| l == w))
        .map(|(l, _, m)| (l.clone(), m.kind, m.model.as_ref()))
        .collect();
    let t6 = task6::run(
        &decomposed,
        &data,
        t6cfg,
        cfg.limit,
        cfg.device,
        &out.join("task6"),
        log,
    )?;

    let results = StudyResults {
        config: cfg.clone(),
        seconds: start.elapsed().as_secs_f64(),
        task0: t0,
        task1: summary,
        task2: Task2Summary {
            lazy: t2,
            attention_run,
            attention_folder,
        },
        task3: t3,
        task4: t4,
        task5: t5,
        task6: t6,
    };
    write_json(&out.join("results.json"), &results)?;
    report::write_index(&results, out)?;
    log(&format!("report: {}", out.join("index.html").display()));
    Ok(results)
}
