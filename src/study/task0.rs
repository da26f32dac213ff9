//! Task 0 — the data: a sample grid per split and the colour statistics.

use super::task::{section_of, to_value, About, Finished, Job, Setup, Task, TaskId, Unit};
use super::StudyResults;
use crate::data::{BiasedMnist, Paint, Split, COLOR_NAMES};
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::plots::image_grid_png;
use crate::report::{render, Figure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What Task 0 measured and drew.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Task0 {
    /// Percentage of train samples painted their digit's dominant colour at epoch 0.
    pub train_dominant_pct: f64,
    /// Same for the hard split (0 by construction).
    pub hard_dominant_pct: f64,
    /// Same for the aligned split.
    pub aligned_dominant_pct: f64,
    /// How often each palette colour paints the hard split's samples.
    pub hard_color_counts: Vec<(String, usize)>,
    /// The sample-grid PNGs, one per split.
    pub previews: Vec<PathBuf>,
}

fn dominant_pct(data: &BiasedMnist, split: Split, n: usize) -> f64 {
    let hits = (0..n)
        .filter(|&i| data.color_of(split, 0, i) == data.label(split, i))
        .count();
    100.0 * hits as f64 / n.max(1) as f64
}

/// Write one grid per split into `out` (digits as rows, `cols` samples each).
pub fn write_previews(data: &BiasedMnist, out: &Path, cols: usize) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
    let mut paths = Vec::new();
    for split in Split::ALL {
        let mut images = vec![Vec::new(); 10 * cols];
        let mut filled = [0usize; 10];
        for i in 0..data.len(split) {
            let d = data.label(split, i);
            if filled[d] < cols {
                let mut img = vec![0.0; crate::data::biased::IMAGE_LEN];
                data.colorize_into(split, 0, i, Paint::DRAWN, &mut img);
                images[d * cols + filled[d]] = img;
                filled[d] += 1;
            }
            if filled.iter().all(|&f| f == cols) {
                break;
            }
        }
        let labels: Vec<String> = (0..10).map(|d| format!("{d}")).collect();
        let path = out.join(format!("samples_{}.png", split.name()));
        let title = format!("{} split (digits as rows)", split.name());
        image_grid_png(
            &path,
            &images,
            28,
            28,
            10,
            cols,
            2,
            Some(&labels),
            Some(&title),
        )
        .map_err(|e| Error::Invalid(e.to_string()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Run Task 0: statistics over the first `limit` samples and the preview grids.
pub fn run(data: &BiasedMnist, limit: Option<usize>, out: &Path) -> Result<Task0> {
    let n = |s| crate::train::split_len(data, s, limit);
    let mut counts = vec![0usize; 10];
    for i in 0..n(Split::Hard) {
        counts[data.color_of(Split::Hard, 0, i)] += 1;
    }
    Ok(Task0 {
        train_dominant_pct: dominant_pct(data, Split::Train, n(Split::Train)),
        hard_dominant_pct: dominant_pct(data, Split::Hard, n(Split::Hard)),
        aligned_dominant_pct: dominant_pct(data, Split::Aligned, n(Split::Aligned)),
        hard_color_counts: COLOR_NAMES
            .iter()
            .map(|s| s.to_string())
            .zip(counts)
            .collect(),
        previews: write_previews(data, out, 8)?,
    })
}

/// Task 0 in the study: one analysis unit, `task0`.
pub struct DataTask;

/// Task 0's cost in plain LazyCNN training steps (measured on a 2-core CPU, 2026-11-30):
/// the SPEC's settings, the quick profile.
const COST_STEPS: (f64, f64) = (50.0, 20.0);

impl Task for DataTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::Data,
            title: "the data",
            needs: &[],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let steps = s.cfg.profile.pick(COST_STEPS);
        let cost = s.analysis_cost(ModelKind::Lazy, steps);
        let names = (self.id().key(), "the data".to_string());
        let null = serde_json::Value::Null;
        Ok(vec![s.analysis(self.id(), names, null, Vec::new(), cost)])
    }

    fn analyse(&self, job: Job) -> Result<serde_json::Value> {
        to_value(run(job.data, job.cfg.limit, job.dir)?)
    }

    fn describe(&self, _unit: &Unit, result: &serde_json::Value) -> Option<String> {
        let t0: Task0 = serde_json::from_value(result.clone()).ok()?;
        Some(format!(
            "  train painted its dominant colour {:.2}% of the time, hard {:.2}%, aligned {:.2}%",
            t0.train_dominant_pct, t0.hard_dominant_pct, t0.aligned_dominant_pct
        ))
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        // Read as its type and written again: its numbers print as their type prints them.
        to_value(done.board.analysis::<Task0>(&self.id().key())?)
    }

    fn section(&self, r: &StudyResults, _out: &Path) -> Result<String> {
        section_of(r, self.id(), |t0: Task0| section_html(&t0, r.config.bias))
    }
}

/// Task 0's section: how often each split is painted in the digit's dominant colour, and a
/// grid of samples per split.
fn section_html(t0: &Task0, bias: f32) -> Result<String> {
    let previews: Vec<Figure> = t0
        .previews
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            Figure::new(p, name.replace('_', " "))
        })
        .collect();
    #[derive(Serialize)]
    struct View<'a> {
        t: &'a Task0,
        bias: f32,
        previews: Vec<Figure>,
    }
    render(
        "task0.html",
        View {
            t: t0,
            bias,
            previews,
        },
    )
}
