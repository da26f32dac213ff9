//! Task 3 — where a model looks: Grad-CAM built from hooks ([`crate::interp::gradcam`]) on the
//! report's three groups of cases, and, beyond the report, two checks the report could not make:
//!
//! * **CAM against the exact stroke.** We generate the data, so we know which pixels are the
//!   digit (grey value ≥ 0.5). Over the first hard-test images: the share of CAM mass on the
//!   stroke (beside the stroke's share of the pixels, what a uniform CAM would get) and the
//!   pointing game (is the CAM's maximum on the stroke?), for the true class.
//! * **The randomization sanity check** (Adebayo et al. 2018): re-randomize the layers from the
//!   top and measure how much the CAMs change (Spearman ρ with the original CAMs).
//!
//! For the attention CNN its own attention maps (the softmax over positions) are measured on
//! the same cases and images, beside its Grad-CAMs (SPEC Task 2.5).

use super::task::{section_of, to_value, About, Finished, Job, Setup, Task, TaskId, Unit, Work};
use super::StudyResults;
use crate::data::{BiasedMnist, Paint, Split, COLOR_NAMES};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::interp::attention::attention_maps;
use crate::interp::gradcam::{
    concentration_ratio, grad_cam, pointing_hit, randomization_test, stroke_mask, stroke_mass,
    RandomizationStep,
};
use crate::measure::eval::{predictions, split_len, EVAL_BATCH};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::plots::{labelled_grid_png, line_chart_png, overlay};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The report's concentration ratios for the lazy model's CAMs.
pub const REFERENCE_RATIO_RANGE: (f32, f32) = (0.65, 0.78);
/// The mass a concentration ratio counts.
pub const MASS: f32 = 0.8;

/// How many images the beyond-the-report measures use.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Task3Config {
    /// Hard-test images for the stroke measures (the issue asks ≥ 1,000).
    pub stroke_images: usize,
    /// Hard-test images for the randomization test.
    pub sanity_images: usize,
}

impl Task3Config {
    pub const DEFAULT: Task3Config = Task3Config {
        stroke_images: 1000,
        sanity_images: 200,
    };
    pub const QUICK: Task3Config = Task3Config {
        stroke_images: 200,
        sanity_images: 50,
    };
}

/// One explained image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CamCase {
    pub group: String,
    pub split: String,
    pub index: usize,
    pub digit: usize,
    pub color: String,
    pub predicted: usize,
    pub confidence: f32,
    /// Concentration ratio of the CAM for the predicted class, and for the true class.
    pub ratio_predicted: Option<f32>,
    pub ratio_true: Option<f32>,
    /// The attention CNN's own attention map's ratio (other models: none).
    pub ratio_attention: Option<f32>,
}

/// Stroke measures over many images, for one kind of map.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StrokeStats {
    pub images: usize,
    /// Maps with no positive value (left out of the means).
    pub empty: usize,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub mean_stroke_mass: f64,
    /// The stroke's share of the pixels: the stroke mass of a uniform map.
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub mean_stroke_area: f64,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub pointing_rate: f64,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub mean_concentration: f64,
}

/// Task 3's results for one model.
#[derive(Debug, Serialize, Deserialize)]
pub struct Task3 {
    pub model: String,
    pub layer: String,
    /// The layer's spatial size (h, w): the CAM's resolution before it is upsampled to 28×28.
    pub cam_size: (usize, usize),
    pub config: Task3Config,
    pub cases: Vec<CamCase>,
    pub cam_stroke: StrokeStats,
    pub attention_stroke: Option<StrokeStats>,
    pub randomization: Vec<RandomizationStep>,
    pub figures: Vec<(PathBuf, String)>,
    pub seconds: f64,
}

impl Task3 {
    /// (min, max) of the case CAMs' ratios for the predicted class.
    pub fn ratio_range(&self) -> Option<(f32, f32)> {
        let r: Vec<f32> = self
            .cases
            .iter()
            .filter_map(|c| c.ratio_predicted)
            .collect();
        (!r.is_empty()).then(|| {
            (
                r.iter().copied().fold(f32::INFINITY, f32::min),
                r.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            )
        })
    }
}

/// The report's cases: (group, digit, painted colour) for (a) and (b).
const DOMINANT: [(usize, usize); 4] = [(5, 5), (0, 0), (3, 3), (1, 1)];
const CONFLICTS: [(usize, usize); 4] = [(0, 1), (1, 0), (2, 3), (5, 4)];

/// Run Task 3 on `model` and write its figures into `out`.
pub fn run(
    model: &dyn Module,
    kind: ModelKind,
    data: &BiasedMnist,
    cfg: Task3Config,
    limit: Option<usize>,
    device: Device,
    out: &Path,
) -> Result<Task3> {
    let start = std::time::Instant::now();
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
    let layer = kind.cam_layer().to_string();
    let attention = kind == ModelKind::Attention;
    let n_hard = split_len(data, Split::Hard, limit);

    // The cases: (group, index, paint) on the hard split's images (MNIST test).
    // The named cases are single images: look for them in the whole split (`limit` caps the
    // scans over many images below, not these).
    let first_of = |digit: usize| -> Result<usize> {
        (0..data.len(Split::Hard))
            .find(|&i| data.label(Split::Hard, i) == digit)
            .ok_or_else(|| Error::Invalid(format!("no test image of digit {digit}")))
    };
    let mut picks: Vec<(&'static str, usize, Option<usize>)> = Vec::new();
    for (d, c) in DOMINANT {
        picks.push(("dominant colour", first_of(d)?, Some(c)));
    }
    for (d, c) in CONFLICTS {
        picks.push(("conflict", first_of(d)?, Some(c)));
    }
    let scan: Vec<usize> = (0..n_hard.min(2000)).collect();
    let preds = predict(model, data, &scan, device)?;
    let right: Vec<usize> = scan
        .iter()
        .copied()
        .filter(|&i| preds[i] == data.label(Split::Hard, i))
        .take(3)
        .collect();
    let wrong: Vec<usize> = scan
        .iter()
        .copied()
        .filter(|&i| preds[i] != data.label(Split::Hard, i))
        .take(5)
        .collect();
    picks.extend(right.iter().map(|&i| ("hard test, right", i, None)));
    picks.extend(wrong.iter().map(|&i| ("hard test, wrong", i, None)));

    let mut xs = Vec::new();
    for &(_, i, color) in &picks {
        let paint = Paint { color, noise: true };
        xs.push(data.batch(Split::Hard, 0, &[i], paint, device)?.0);
    }
    let x = Tensor::cat(&xs, 0)?;
    let truth: Vec<usize> = picks
        .iter()
        .map(|&(_, i, _)| data.label(Split::Hard, i))
        .collect();
    let by_true = grad_cam(model, &layer, &x, &truth)?;
    let predicted = by_true.predicted();
    let by_pred = grad_cam(model, &layer, &x, &predicted)?;
    let att = if attention {
        Some(attention_maps(model, &x)?)
    } else {
        None
    };
    let images = chw_images(&x)?;
    let cases: Vec<CamCase> = picks
        .iter()
        .enumerate()
        .map(|(b, &(group, i, color))| CamCase {
            group: group.to_string(),
            split: "hard".to_string(),
            index: i,
            digit: truth[b],
            color: COLOR_NAMES[color.unwrap_or_else(|| data.color_of(Split::Hard, 0, i))]
                .to_string(),
            predicted: predicted[b],
            confidence: by_true.probs[b][predicted[b]],
            ratio_predicted: concentration_ratio(&by_pred.cams[b], MASS),
            ratio_true: concentration_ratio(&by_true.cams[b], MASS),
            ratio_attention: att.as_ref().and_then(|a| concentration_ratio(&a[b], MASS)),
        })
        .collect();

    let mut figures = Vec::new();
    for group in [
        "dominant colour",
        "conflict",
        "hard test, right",
        "hard test, wrong",
    ] {
        let rows: Vec<usize> = (0..cases.len())
            .filter(|&b| cases[b].group == group)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut tiles = Vec::new();
        let mut labels = Vec::new();
        for &b in &rows {
            let c = &cases[b];
            tiles.push(images[b].clone());
            tiles.push(overlay(&images[b], &by_pred.cams[b]));
            tiles.push(overlay(&images[b], &by_true.cams[b]));
            if let Some(a) = &att {
                tiles.push(overlay(&images[b], &a[b]));
            }
            labels.push(format!(
                "{} {} → {} ({:.2})",
                c.digit, c.color, c.predicted, c.confidence
            ));
        }
        let mut heads: Vec<String> =
            vec!["image".into(), "CAM predicted".into(), "CAM true".into()];
        if att.is_some() {
            heads.push("attention".into());
        }
        let path = out.join(format!(
            "cases_{}.png",
            group.replace([' ', ','], "_").replace("__", "_")
        ));
        labelled_grid_png(
            &path,
            &tiles,
            28,
            28,
            rows.len(),
            heads.len(),
            4,
            Some(&labels),
            Some(&heads),
            Some(&format!("{} — {group}", kind.name())),
        )
        .map_err(|e| Error::Invalid(e.to_string()))?;
        figures.push((
            path,
            format!(
                "{}: {group} (digit, colour → prediction (confidence))",
                kind.name()
            ),
        ));
    }

    let cam_size = crate::measure::capture::layer_output(model, &layer, &x.slice(0, 0, 1)?)?
        .1
        .shape()
        .nchw()
        .map(|(_, _, h, w)| (h, w))
        .unwrap_or((0, 0));
    let (cam_stroke, attention_stroke) =
        stroke_stats(model, kind, data, cfg.stroke_images.min(n_hard), device)?;
    let fresh = kind.build(0x05ee_d0ff, device)?;
    let sanity: Vec<usize> = (0..cfg.sanity_images.min(n_hard)).collect();
    let (xs, ys) = data.batch(Split::Hard, 0, &sanity, Paint::DRAWN, device)?;
    let randomization = randomization_test(model, fresh.as_ref(), &layer, &xs, &ys)?;
    if !randomization.is_empty() {
        let path = out.join("randomization.png");
        let rho: Vec<f32> = randomization
            .iter()
            .map(|s| s.mean_rank_correlation as f32)
            .collect();
        line_chart_png(
            &path,
            &format!(
                "{} — CAM after randomizing layers from the top",
                kind.name()
            ),
            "layers randomized (from the top)",
            "mean Spearman ρ with the original CAM",
            &[("Grad-CAM", &rho)],
            &[],
            Some((-0.2, 1.0)),
        )
        .map_err(|e| Error::Invalid(e.to_string()))?;
        let order: Vec<&str> = randomization.iter().map(|s| s.layer.as_str()).collect();
        figures.push((
            path,
            format!("randomization test, layers in order {}", order.join(" → ")),
        ));
    }
    Ok(Task3 {
        model: kind.name().to_string(),
        layer,
        cam_size,
        config: cfg,
        cases,
        cam_stroke,
        attention_stroke,
        randomization,
        figures,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Predictions on hard-split images (drawn colours), in batches.
fn predict(
    model: &dyn Module,
    data: &BiasedMnist,
    idx: &[usize],
    device: Device,
) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(EVAL_BATCH) {
        let (x, _) = data.batch(Split::Hard, 0, chunk, Paint::DRAWN, device)?;
        let logits = crate::autograd::no_grad(|| model.forward(&x))?;
        out.extend(predictions(&logits)?);
    }
    Ok(out)
}

/// A [N, 3, 28, 28] batch as CHW vectors.
fn chw_images(x: &Tensor) -> Result<Vec<Vec<f32>>> {
    Ok(x.to_vec()?.chunks(3 * 784).map(|c| c.to_vec()).collect())
}

/// Stroke mass, pointing game and concentration of the true-class CAMs (and attention maps)
/// over the first `n` hard-test images.
fn stroke_stats(
    model: &dyn Module,
    kind: ModelKind,
    data: &BiasedMnist,
    n: usize,
    device: Device,
) -> Result<(StrokeStats, Option<StrokeStats>)> {
    let mut cam = Acc::default();
    let mut att = Acc::default();
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(250) {
        let (x, y) = data.batch(Split::Hard, 0, chunk, Paint::DRAWN, device)?;
        let cams = grad_cam(model, kind.cam_layer(), &x, &y)?;
        let maps = if kind == ModelKind::Attention {
            Some(attention_maps(model, &x)?)
        } else {
            None
        };
        for (b, &i) in chunk.iter().enumerate() {
            let stroke = stroke_mask(data.source(Split::Hard).image(i));
            cam.add(&cams.cams[b], &stroke);
            if let Some(m) = &maps {
                att.add(&m[b], &stroke);
            }
        }
    }
    Ok((
        cam.stats(),
        (kind == ModelKind::Attention).then(|| att.stats()),
    ))
}

#[derive(Default)]
struct Acc {
    images: usize,
    empty: usize,
    mass: f64,
    area: f64,
    hits: usize,
    ratio: f64,
}

impl Acc {
    fn add(&mut self, map: &[f32], stroke: &[bool]) {
        self.images += 1;
        self.area += stroke.iter().filter(|&&s| s).count() as f64 / stroke.len() as f64;
        match (
            stroke_mass(map, stroke),
            pointing_hit(map, stroke),
            concentration_ratio(map, MASS),
        ) {
            (Some(m), Some(hit), Some(r)) => {
                self.mass += m as f64;
                self.hits += hit as usize;
                self.ratio += r as f64;
            }
            _ => self.empty += 1,
        }
    }
    fn stats(&self) -> StrokeStats {
        let k = (self.images - self.empty).max(1) as f64;
        StrokeStats {
            images: self.images,
            empty: self.empty,
            mean_stroke_mass: self.mass / k,
            mean_stroke_area: self.area / self.images.max(1) as f64,
            pointing_rate: self.hits as f64 / k,
            mean_concentration: self.ratio / k,
        }
    }
}

fn ratio(r: Option<f32>) -> String {
    r.map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| "— (empty)".into())
}

/// A table comparing several models' Task 3 measures side by side, then each model's cases
/// (`task3.html`).
pub fn section_html(runs: &[(String, &Task3)]) -> Result<String> {
    let models: Vec<ModelView> = runs
        .iter()
        .map(|(name, t)| ModelView {
            name,
            t,
            ratio_range: t
                .ratio_range()
                .map(|(a, b)| format!("{a:.2} – {b:.2}"))
                .unwrap_or_else(|| "—".into()),
            attention_range: att_range(t),
            rho: t
                .randomization
                .last()
                .map(|r| format!("{:+.2}", r.mean_rank_correlation))
                .unwrap_or_else(|| "—".into()),
            cases: t.cases.iter().map(CaseRow::of).collect(),
        })
        .collect();
    crate::report::render(
        "task3.html",
        SectionView {
            models,
            reference_ratio_range: REFERENCE_RATIO_RANGE,
        },
    )
}

#[derive(Serialize)]
struct SectionView<'a> {
    models: Vec<ModelView<'a>>,
    reference_ratio_range: (f32, f32),
}

/// One model's row and cases, with the ranges and ρ already written out.
#[derive(Serialize)]
struct ModelView<'a> {
    name: &'a str,
    t: &'a Task3,
    /// The case CAMs' ratios as `0.41 – 0.78`, or `—`.
    ratio_range: String,
    /// The same for the attention maps.
    attention_range: String,
    /// ρ after the last randomization step, as `+0.12`, or `—`.
    rho: String,
    cases: Vec<CaseRow<'a>>,
}

/// One explained image; a ratio is `— (empty)` for a CAM with no positive value.
#[derive(Serialize)]
struct CaseRow<'a> {
    group: &'a str,
    digit: usize,
    color: &'a str,
    predicted: usize,
    confidence: f32,
    ratio_predicted: String,
    ratio_true: String,
    ratio_attention: String,
}

impl<'a> CaseRow<'a> {
    fn of(c: &'a CamCase) -> CaseRow<'a> {
        CaseRow {
            group: &c.group,
            digit: c.digit,
            color: &c.color,
            predicted: c.predicted,
            confidence: c.confidence,
            ratio_predicted: ratio(c.ratio_predicted),
            ratio_true: ratio(c.ratio_true),
            ratio_attention: ratio(c.ratio_attention),
        }
    }
}

fn att_range(t: &Task3) -> String {
    let r: Vec<f32> = t.cases.iter().filter_map(|c| c.ratio_attention).collect();
    if r.is_empty() {
        return "—".into();
    }
    let lo = r.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    format!("{lo:.2} – {hi:.2}")
}

/// Task 3's cost per model in its training steps (2-core CPU, 2026-11-30): (the SPEC's
/// settings, quick), for ShapeCNN and for the smaller models.
const COST_STEPS_SHAPE: (f64, f64) = (35.0, 20.0);
const COST_STEPS: (f64, f64) = (200.0, 100.0);

/// Task 3 in the study: Grad-CAM of every trained model (the lazy model, Task 4's models, the
/// attention CNN), one analysis unit each.
pub struct GradCamTask;

impl Task for GradCamTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::GradCam,
            title: "where the models look (Grad-CAM)",
            needs: &[TaskId::Shortcut, TaskId::Learned, TaskId::Debias],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let config = s
            .cfg
            .profile
            .pick((Task3Config::DEFAULT, Task3Config::QUICK));
        let config = to_value(config)?;
        let units = s.models.iter().map(|m| {
            let folder = if m.kind == ModelKind::Attention {
                "task3/attention".to_string()
            } else {
                format!("task3/{}", m.folder.replace('/', "_"))
            };
            let steps = match m.kind {
                ModelKind::Shape => COST_STEPS_SHAPE,
                _ => COST_STEPS,
            };
            let cost = s.analysis_cost(m.kind, s.cfg.profile.pick(steps));
            let names = (folder, format!("Grad-CAM of {}", m.label));
            s.analysis(self.id(), names, config.clone(), vec![m.clone()], cost)
        });
        Ok(units.collect())
    }

    fn analyse(&self, job: Job) -> Result<serde_json::Value> {
        let (m, model) = job.models[0];
        let cfg = job.cfg;
        let config = cfg.profile.pick((Task3Config::DEFAULT, Task3Config::QUICK));
        let t3 = run(
            model, m.kind, job.data, config, cfg.limit, cfg.device, job.dir,
        )?;
        to_value(t3)
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        let mut runs: Vec<(String, Task3)> = Vec::new();
        for unit in done.units {
            let label = match &unit.work {
                Work::Analyse(a) => a.reads[0].label.clone(),
                Work::Train(_) => continue,
            };
            runs.push((label, done.board.analysis(&unit.folder)?));
        }
        to_value(runs)
    }

    fn section(&self, r: &StudyResults, _out: &Path) -> Result<String> {
        section_of(r, self.id(), |t3: Vec<(String, Task3)>| {
            let runs: Vec<(String, &Task3)> = t3.iter().map(|(l, t)| (l.clone(), t)).collect();
            section_html(&runs)
        })
    }
}
