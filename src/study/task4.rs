//! Task 4 — debiasing: the four methods of SPEC Task 4 (colour consistency, focal loss,
//! ShapeCNN, neuron suppression), each trained by the shared frame ([`crate::train`]) with the
//! SPEC's hyper-parameters, beside the lazy baseline of Task 1.
//!
//! Nothing is trained twice: the plain LazyCNN rows are Task 1's runs, and neuron suppression
//! ranks its channels on Task 1's model of the same seed (on a ShapeCNN, on this task's plain
//! ShapeCNN of the same seed). The `full` profile adds the method × architecture table: every
//! method on both models.
//!
//! This module renders its own part of `index.html` ([`section_html`]).

use super::task::{section_of, to_value, About, Finished, Setup, Task, TaskId, TrainUnit, Unit};
use super::{mean_std, Profile, StudyConfig, StudyResults};
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::plots::line_chart_png;
use crate::report::Figure;
use crate::train::{Method, RunRecord, TrainConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The task's target (SPEC): more than 70 % hard-test accuracy.
pub const TARGET_HARD_ACC: f64 = 70.0;

/// One (model, method) over the seeds.
#[derive(Debug, Serialize, Deserialize)]
pub struct MethodRow {
    pub model: String,
    pub method: String,
    /// The run folders, one per seed (relative to the study folder).
    pub folders: Vec<String>,
    pub runs: Vec<RunRecord>,
    pub final_hard: (f64, f64),
    pub best_hard: (f64, f64),
    pub final_aligned: (f64, f64),
    pub final_train: (f64, f64),
    pub seconds_per_epoch: f64,
    /// The report's hard-test accuracy for this row, where it gave one.
    pub reference_hard: Option<f64>,
}

impl MethodRow {
    fn new(
        kind: ModelKind,
        method: &Method,
        folders: Vec<String>,
        runs: Vec<RunRecord>,
    ) -> MethodRow {
        let stat =
            |f: &dyn Fn(&RunRecord) -> f64| mean_std(&runs.iter().map(f).collect::<Vec<_>>());
        MethodRow {
            model: kind.name().to_string(),
            method: method.name().to_string(),
            final_hard: stat(&|r| r.final_hard_acc()),
            best_hard: stat(&|r| r.best_hard_acc),
            final_aligned: stat(&|r| r.final_aligned_acc()),
            final_train: stat(&|r| r.final_train_acc()),
            seconds_per_epoch: stat(&|r| r.seconds_per_epoch()).0,
            reference_hard: method.reference_hard_acc(kind),
            folders,
            runs,
        }
    }
}

/// Task 4's results.
#[derive(Debug, Serialize, Deserialize)]
pub struct Task4 {
    /// The SPEC's four methods (LazyCNN for consistency, focal and suppression; ShapeCNN plain)
    /// and the lazy baseline, in the report's order.
    pub rows: Vec<MethodRow>,
    /// The `full` profile's method × architecture table (empty otherwise).
    pub architecture_table: Vec<MethodRow>,
    /// The figure of every row's hard-test curve (seed of the first run).
    pub curves: PathBuf,
}

/// The training settings of one run of this task.
pub(super) fn train_config(
    cfg: &StudyConfig,
    method: &Method,
    kind: ModelKind,
    seed: u64,
) -> TrainConfig {
    TrainConfig {
        epochs: cfg.epochs.unwrap_or_else(|| method.default_epochs(kind)),
        batch: cfg.batch,
        lr: method.default_lr(),
        seed,
        limit: cfg.limit,
        device: cfg.device,
        progress: cfg.progress,
    }
}

/// The run folder of `method` on `kind` for `seed`, relative to the study folder.
pub fn run_folder(kind: ModelKind, method: &Method, seed: u64) -> String {
    format!("task4/{}-{}/seed-{seed}", kind.slug(), method.name())
}

/// The methods Task 4 trains besides plain cross-entropy.
const METHODS: [&str; 3] = ["consistency", "focal", "suppress"];

/// How many of [`trained_rows`] are the SPEC's: the three methods on LazyCNN and ShapeCNN.
const SPEC_ROWS: usize = METHODS.len() + 1;

/// The rows this task trains, in the report's order: the three methods on LazyCNN and plain
/// ShapeCNN (the SPEC's four), then, with the `full` profile, the three methods on ShapeCNN.
fn trained_rows(profile: Profile) -> Result<Vec<(ModelKind, Method)>> {
    let mut rows = Vec::new();
    for name in METHODS {
        rows.push((ModelKind::Lazy, Method::with_defaults(name)?));
    }
    rows.push((ModelKind::Shape, Method::Plain));
    if profile == Profile::Full {
        for name in METHODS {
            rows.push((ModelKind::Shape, Method::with_defaults(name)?));
        }
    }
    Ok(rows)
}

/// Task 4 in the study: a training unit per (model, method, seed).
pub struct DebiasTask;

impl Task for DebiasTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::Debias,
            title: "debiasing",
            needs: &[TaskId::Shortcut],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let mut units = Vec::new();
        for (kind, method) in trained_rows(s.cfg.profile)? {
            for &seed in &s.cfg.seeds {
                // Suppression ranks the channels of the plain model of its seed and model.
                let ranked_on = matches!(method, Method::Suppress { .. }).then(|| match kind {
                    ModelKind::Lazy => super::task1::run_folder(seed),
                    _ => run_folder(kind, &Method::Plain, seed),
                });
                let label = format!("{} {}, seed {seed}", kind.name(), method.name());
                let train = TrainUnit {
                    kind,
                    config: train_config(s.cfg, &method, kind, seed),
                    ranked_on,
                    read_as: (seed == s.seed0())
                        .then(|| format!("{} — {}", method.name(), kind.name())),
                    method: method.clone(),
                };
                let folder = run_folder(kind, &method, seed);
                units.push(s.training(self.id(), folder, label, train));
            }
        }
        Ok(units)
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        let seeds = &done.cfg.seeds;
        let row = |kind: ModelKind, method: &Method, folders: Vec<String>| -> Result<MethodRow> {
            let runs = folders
                .iter()
                .map(|f| done.board.run(f).cloned())
                .collect::<Result<Vec<_>>>()?;
            Ok(MethodRow::new(kind, method, folders, runs))
        };
        let lazy = seeds.iter().map(|&s| super::task1::run_folder(s)).collect();
        let mut rows = vec![row(ModelKind::Lazy, &Method::Plain, lazy)?];
        let mut architecture_table = Vec::new();
        for (i, (kind, method)) in trained_rows(done.cfg.profile)?.iter().enumerate() {
            let folders = seeds
                .iter()
                .map(|&s| run_folder(*kind, method, s))
                .collect();
            let r = row(*kind, method, folders)?;
            // The SPEC's four rows come first; the rest is the method × architecture table.
            if i < SPEC_ROWS {
                rows.push(r);
            } else {
                architecture_table.push(r);
            }
        }
        let curves = done.out.join("task4/hard_curves.png");
        write_curves(&curves, rows.iter().chain(&architecture_table))?;
        to_value(Task4 {
            rows,
            architecture_table,
            curves,
        })
    }

    fn section(&self, r: &StudyResults, out: &Path) -> Result<String> {
        section_of(r, self.id(), |t4: Task4| {
            section_html(&t4, r.config.seeds.len(), out)
        })
    }
}

/// Every row's hard-test accuracy per epoch (its first seed) in one chart, the target dashed.
fn write_curves<'a>(path: &Path, rows: impl Iterator<Item = &'a MethodRow>) -> Result<()> {
    let series: Vec<(String, Vec<f32>)> = rows
        .filter_map(|r| {
            let run = r.runs.first()?;
            let curve = run.hard_acc.iter().map(|&v| v as f32).collect();
            Some((format!("{} {}", r.model, r.method), curve))
        })
        .collect();
    let series: Vec<(&str, &[f32])> = series
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    line_chart_png(
        path,
        "Hard-test accuracy per epoch, every method",
        "epoch",
        "hard-test accuracy (%)",
        &series,
        &[("target 70%", TARGET_HARD_ACC as f32)],
        Some((0.0, 100.0)),
    )
    .map_err(|e| Error::Invalid(e.to_string()))
}

/// One row of the report's method table, each cell as it is printed.
#[derive(Serialize)]
struct TableRow {
    method: String,
    model: String,
    final_hard: String,
    best_hard: String,
    /// The epoch of the best hard-test accuracy, per seed.
    best_epochs: String,
    final_aligned: String,
    final_train: String,
    reference_hard: String,
    seconds_per_epoch: f64,
}

impl TableRow {
    /// With one seed an accuracy prints with two decimals; with several, as mean ± std.
    fn of(r: &MethodRow, seeds: usize) -> TableRow {
        let spread = |(m, s): (f64, f64)| {
            if seeds > 1 {
                crate::report::mean_std(m, s, r.runs.len())
            } else {
                format!("{m:.2} %")
            }
        };
        let best_epochs: Vec<String> = r.runs.iter().map(|x| x.best_epoch.to_string()).collect();
        TableRow {
            method: r.method.clone(),
            model: r.model.clone(),
            final_hard: spread(r.final_hard),
            best_hard: spread(r.best_hard),
            best_epochs: best_epochs.join(", "),
            final_aligned: spread(r.final_aligned),
            final_train: spread(r.final_train),
            reference_hard: r
                .reference_hard
                .map_or("—".to_string(), |v| format!("{v:.2} %")),
            seconds_per_epoch: r.seconds_per_epoch,
        }
    }
}

/// The sentence that says which methods broke the shortcut, from the measured numbers.
pub(super) fn verdict(rows: &[MethodRow]) -> String {
    let (pass, fail): (Vec<&MethodRow>, Vec<&MethodRow>) = rows
        .iter()
        .filter(|r| !(r.method == "plain" && r.model == "LazyCNN"))
        .partition(|r| r.final_hard.0 > TARGET_HARD_ACC);
    let names = |v: &[&MethodRow]| {
        v.iter()
            .map(|r| format!("{} on {} ({:.1} %)", r.method, r.model, r.final_hard.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (pass.is_empty(), fail.is_empty()) {
        (false, false) => format!(
            "Above the {TARGET_HARD_ACC:.0} % target at the final epoch: {}. Below it: {}.",
            names(&pass),
            names(&fail)
        ),
        (false, true) => format!("Every method passed the target: {}.", names(&pass)),
        (true, _) => format!("No method reached the target: {}.", names(&fail)),
    }
}

/// The paragraph on colour consistency with ShapeCNN (our attempt at making colour not matter
/// at all: ≥ 99 % hard-test accuracy within 0.5 points of the aligned split), from its numbers.
#[derive(Serialize)]
struct Beyond {
    final_hard: String,
    final_aligned: String,
    /// Aligned minus hard accuracy, in points.
    gap: f64,
    seeds: usize,
    met: bool,
    plain_hard: String,
    plain_aligned: String,
}

fn beyond(rows: &[MethodRow], table: &[MethodRow]) -> Option<Beyond> {
    let find = |v: &str| {
        rows.iter()
            .chain(table)
            .find(move |r| r.method == v && r.model == "ShapeCNN")
    };
    let (r, plain) = (find("consistency")?, find("plain")?);
    let gap = r.final_aligned.0 - r.final_hard.0;
    let pm = |row: &MethodRow, (m, s): (f64, f64)| crate::report::mean_std(m, s, row.runs.len());
    Some(Beyond {
        final_hard: pm(r, r.final_hard),
        final_aligned: pm(r, r.final_aligned),
        gap,
        seeds: r.runs.len(),
        met: r.final_hard.0 >= 99.0 && gap <= 0.5,
        plain_hard: pm(plain, plain.final_hard),
        plain_aligned: pm(plain, plain.final_aligned),
    })
}

/// Task 4's part of `index.html` (`task4.html`).
pub fn section_html(t: &Task4, seeds: usize, out: &Path) -> Result<String> {
    #[derive(Serialize)]
    struct View {
        target: f64,
        verdict: String,
        rows: Vec<TableRow>,
        /// The method × architecture table (`full` profile; empty otherwise).
        architecture_rows: Vec<TableRow>,
        beyond: Option<Beyond>,
        curves: PathBuf,
        conflict_matrices: Vec<Figure>,
    }
    let all = || t.rows.iter().chain(&t.architecture_table);
    let architecture_rows = if t.architecture_table.is_empty() {
        Vec::new()
    } else {
        all().map(|r| TableRow::of(r, seeds)).collect()
    };
    let conflict_matrices = all()
        .filter_map(|r| {
            let folder = r.folders.first()?;
            Some(Figure::new(
                out.join(folder).join("conflict_matrix.png"),
                format!("{} — {}", r.method, r.model),
            ))
        })
        .collect();
    crate::report::render(
        "task4.html",
        View {
            target: TARGET_HARD_ACC,
            verdict: verdict(&t.rows),
            rows: t.rows.iter().map(|r| TableRow::of(r, seeds)).collect(),
            architecture_rows,
            beyond: beyond(&t.rows, &t.architecture_table),
            curves: t.curves.clone(),
            conflict_matrices,
        },
    )
}
