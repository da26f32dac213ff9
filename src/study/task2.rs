//! Task 2 — what the lazy model learned (SPEC 2.1–2.4), for any model of ours: class-logit
//! visualizations and their colour purity, the first layer's filters (tiles, activation
//! maximization, responses to colour patches), the colour selectivity of the hidden units, and
//! the polysemanticity probes of the five most selective units. The measurements are
//! [`crate::interp`]'s; this file draws them and writes the report's section.

use super::task::{
    section_of, to_value, About, Finished, Job, Setup, Task, TaskId, TrainUnit, Unit,
};
use super::StudyResults;
use crate::data::{COLOR_NAMES, PALETTE};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::interp::featviz::{color_purity, filter_tiles, maximize, AmConfig};
use crate::interp::poly::{poly_test, PolyTest};
use crate::measure::selectivity::{channel_color_responses, UnitSelectivity};
use crate::models::ModelKind;
use crate::nn::{get_submodule, named_modules, Module};
use crate::plots::{heatmap_png, image_grid_png, labelled_grid_png};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The report's numbers for Task 2.
pub const REFERENCE_PURITY: f64 = 0.78;
pub const REFERENCE_CSI_ABOVE_3: usize = 15;
pub const REFERENCE_CSI_MEAN: f64 = 2.34;
pub const REFERENCE_CSI_MEDIAN: f64 = 2.18;
pub const REFERENCE_CSI_RANGE: (f64, f64) = (0.82, 4.73);
/// Strongly / weakly monosemantic / polysemantic, % of the 64 units.
pub const REFERENCE_POLY_CLASSES: (f64, f64, f64) = (43.8, 48.4, 7.8);

/// The 10 palette colours plus white and black: the filters' colour patches.
pub fn patch_colors() -> (Vec<[f32; 3]>, Vec<String>) {
    let mut colors = PALETTE.to_vec();
    colors.push([1.0; 3]);
    colors.push([0.0; 3]);
    let mut names: Vec<String> = COLOR_NAMES.iter().map(|s| s.to_string()).collect();
    names.push("white".into());
    names.push("black".into());
    (colors, names)
}

/// Task 2's results for one model.
#[derive(Debug, Serialize, Deserialize)]
pub struct Task2 {
    pub model: String,
    /// Optimization steps used (class logits, filters); the SPEC's are 300 and 400.
    pub am_steps: (usize, usize),
    /// Class c's logit before and after its visualization was optimized.
    pub class_logit_start: Vec<f32>,
    pub class_logit_end: Vec<f32>,
    #[serde(deserialize_with = "crate::files::nan::vec_f32")]
    pub class_purity: Vec<f32>,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub purity_mean: f64,
    pub reference_purity: f64,
    pub first_conv: String,
    pub patch_colors: Vec<String>,
    /// `filter_responses[filter][colour]`: mean post-ReLU response to a uniform patch.
    pub filter_responses: Vec<Vec<f32>>,
    /// Each filter's variance across the patch colours (population).
    pub filter_variance: Vec<f32>,
    pub units: UnitSelectivity,
    pub poly_tests: Vec<PolyTest>,
    pub figures: Vec<(PathBuf, String)>,
    pub seconds: f64,
}

/// Run Task 2 on `model` and write its figures into `out`. `quick` cuts the optimizations to a
/// tenth of their steps (smoke runs).
pub fn run(
    model: &dyn Module,
    kind: ModelKind,
    quick: bool,
    device: Device,
    out: &Path,
) -> Result<Task2> {
    let start = std::time::Instant::now();
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
    let scale = |c: AmConfig| AmConfig {
        steps: if quick { c.steps / 10 } else { c.steps },
        ..c
    };
    let (class_cfg, filter_cfg) = (scale(AmConfig::CLASS_LOGIT), scale(AmConfig::FILTER));
    let mut figures = Vec::new();

    // 2.1 class logits
    let classes: Vec<usize> = (0..10).collect();
    let am = maximize(model, None, &classes, class_cfg, device)?;
    let images = am.image_vecs()?;
    let class_purity: Vec<f32> = images
        .iter()
        .zip(PALETTE)
        .map(|(i, c)| color_purity(i, c))
        .collect();
    let purity_mean = class_purity.iter().map(|&p| p as f64).sum::<f64>() / 10.0;
    let path = out.join("class_logits.png");
    let labels: Vec<String> = vec!["0–9".into()];
    draw(image_grid_png(
        &path,
        &images,
        28,
        28,
        1,
        10,
        4,
        Some(&labels),
        Some("images that maximize each class logit"),
    ))?;
    figures.push((
        path,
        format!("class-logit visualizations, digits 0–9 (mean colour purity {purity_mean:.2})"),
    ));

    // 2.2 first-layer filters
    let first_conv = named_modules(model)
        .into_iter()
        .find(|(_, m)| m.kind() == "Conv2d")
        .map(|(n, _)| n)
        .ok_or_else(|| Error::Invalid("the model has no Conv2d layer".into()))?;
    let weight = get_submodule(model, &first_conv)?
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == "weight")
        .map(|(_, t)| t)
        .ok_or_else(|| Error::Invalid(format!("layer '{first_conv}' has no weight")))?;
    let tiles = filter_tiles(&weight)?;
    let n_filters = tiles.len();
    let rows = n_filters.div_ceil(8);
    let k = weight.dim(2);
    let path = out.join("filters.png");
    draw(image_grid_png(
        &path,
        &tiles,
        k,
        k,
        rows,
        8,
        96 / k,
        None,
        Some("first-layer filters (RGB, min–max per filter)"),
    ))?;
    figures.push((
        path,
        format!("the {n_filters} filters of {first_conv} as RGB tiles"),
    ));

    let act = kind.first_conv_activation();
    let filters: Vec<usize> = (0..n_filters).collect();
    let fam = maximize(model, Some(act), &filters, filter_cfg, device)?;
    let path = out.join("filter_maximization.png");
    draw(image_grid_png(
        &path,
        &fam.image_vecs()?,
        28,
        28,
        rows,
        8,
        3,
        None,
        Some("images that maximize each filter's mean activation"),
    ))?;
    figures.push((
        path,
        format!("activation maximization of each filter of {first_conv}"),
    ));

    let (colors, color_names) = patch_colors();
    let filter_responses = channel_color_responses(model, act, &colors, device)?;
    let filter_variance: Vec<f32> = filter_responses
        .iter()
        .map(|r| {
            let m = r.iter().sum::<f32>() / r.len() as f32;
            r.iter().map(|v| (v - m).powi(2)).sum::<f32>() / r.len() as f32
        })
        .collect();
    let path = out.join("filter_color_response.png");
    let filter_names: Vec<String> = (0..n_filters)
        .map(|f| format!("{f}: {:.2}", filter_variance[f]))
        .collect();
    draw(heatmap_png(
        &path,
        "filter responses to uniform colour patches",
        "filter: variance across colours",
        "colour",
        &filter_names,
        &color_names,
        &filter_responses,
        None,
        n_filters <= 16,
        2,
    ))?;
    figures.push((
        path,
        "each filter's mean (post-ReLU) response to a uniform patch of each colour".into(),
    ));

    // 2.3 unit colour selectivity
    let units = UnitSelectivity::measure(model, kind.hidden_layer(), &PALETTE, device)?;
    let top = units.top(16.min(units.csi.len()));
    let path = out.join("unit_color_response.png");
    let names: Vec<String> = top
        .iter()
        .map(|&u| format!("{u}: {:.2}", units.csi[u]))
        .collect();
    let colour_names: Vec<String> = COLOR_NAMES.iter().map(|s| s.to_string()).collect();
    let rows_v: Vec<Vec<f32>> = top.iter().map(|&u| units.responses[u].clone()).collect();
    draw(heatmap_png(
        &path,
        "the most colour-selective units",
        "unit: CSI",
        "uniform image colour",
        &names,
        &colour_names,
        &rows_v,
        None,
        true,
        1,
    ))?;
    figures.push((
        path,
        format!(
            "responses of the {} most colour-selective units of {} to each palette colour",
            top.len(),
            units.layer
        ),
    ));

    // 2.4 polysemanticity probes on the top-5 units
    let mut poly_tests = Vec::new();
    let mut seed_images = Vec::new();
    let mut seed_labels = Vec::new();
    for &u in units.top(5).iter() {
        let fav = units.favourite[u];
        let second = second_favourite(&units.responses[u], fav);
        let t = poly_test(
            model,
            kind.hidden_layer(),
            u,
            (fav, PALETTE[fav]),
            PALETTE[second],
            class_cfg,
            device,
        )?;
        seed_images.extend(t.seed_images.iter().cloned());
        seed_labels.push(format!("unit {u}"));
        poly_tests.push(t);
    }
    if !poly_tests.is_empty() {
        let path = out.join("poly_seeds.png");
        let heads: Vec<String> = (0..4).map(|s| format!("start {s}")).collect();
        draw(labelled_grid_png(
            &path,
            &seed_images,
            28,
            28,
            seed_labels.len(),
            4,
            3,
            Some(&seed_labels),
            Some(&heads),
            Some("top-CSI units maximized from 4 starts"),
        ))?;
        figures.push((
            path,
            "the five most selective units, each maximized from four random starts".into(),
        ));
    }
    Ok(Task2 {
        model: kind.name().to_string(),
        am_steps: (class_cfg.steps, filter_cfg.steps),
        class_logit_start: am.trace.first().cloned().unwrap_or_default(),
        class_logit_end: am.trace.last().cloned().unwrap_or_default(),
        class_purity,
        purity_mean,
        reference_purity: REFERENCE_PURITY,
        first_conv,
        patch_colors: color_names,
        filter_responses,
        filter_variance,
        units,
        poly_tests,
        figures,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn draw(r: std::result::Result<(), crate::plots::PlotError>) -> Result<()> {
    r.map_err(|e| Error::Invalid(e.to_string()))
}

fn second_favourite(r: &[f32], fav: usize) -> usize {
    (0..r.len())
        .filter(|&c| c != fav)
        .max_by(|&a, &b| r[a].total_cmp(&r[b]))
        .unwrap_or(fav)
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:+.2}"))
        .unwrap_or_else(|| "undefined".into())
}

/// Task 2's part of a report (`task2.html`): the measures beside the report's, the class
/// visualizations' purity and logits, the polysemanticity probes, then the figures.
pub fn section_html(t: &Task2) -> Result<String> {
    let u = &t.units;
    let scored = u.csi.len() - u.poly_classes.silent;
    let share = |k: usize| 100.0 * k as f64 / scored.max(1) as f64;
    crate::report::render(
        "task2.html",
        SectionView {
            t,
            colour_names: COLOR_NAMES,
            above_3: u.csi.iter().filter(|&&c| c > 3.0).count(),
            rho_activation: opt(u.rho_count_vs_activation),
            rho_luminance: opt(u.rho_count_vs_luminance),
            poly: PolyShares {
                scored,
                strongly: share(u.poly_classes.strongly_monosemantic),
                weakly: share(u.poly_classes.weakly_monosemantic),
                polysemantic: share(u.poly_classes.polysemantic),
            },
            reference: Reference {
                csi_mean: REFERENCE_CSI_MEAN,
                csi_median: REFERENCE_CSI_MEDIAN,
                csi_range: REFERENCE_CSI_RANGE,
                csi_above_3: REFERENCE_CSI_ABOVE_3,
                poly_classes: REFERENCE_POLY_CLASSES,
            },
        },
    )
}

/// What `task2.html` shows besides the results themselves.
#[derive(Serialize)]
struct SectionView<'a> {
    t: &'a Task2,
    colour_names: [&'static str; 10],
    above_3: usize,
    /// ρ as `+0.73`, or `undefined`.
    rho_activation: String,
    rho_luminance: String,
    poly: PolyShares,
    reference: Reference,
}

/// The polysemanticity classes as percentages of the scored (non-silent) units.
#[derive(Serialize)]
struct PolyShares {
    scored: usize,
    strongly: f64,
    weakly: f64,
    polysemantic: f64,
}

/// The report's numbers for the table.
#[derive(Serialize)]
struct Reference {
    csi_mean: f64,
    csi_median: f64,
    csi_range: (f64, f64),
    csi_above_3: usize,
    poly_classes: (f64, f64, f64),
}

/// Task 2 on the lazy model of the first seed, and the attention CNN's training run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Task2Summary {
    pub lazy: Task2,
    pub attention_run: crate::train::RunRecord,
    /// The attention CNN's run folder (relative to the study folder).
    pub attention_folder: String,
}

/// Task 2's analysis cost in plain LazyCNN training steps (2-core CPU, 2026-11-30): the
/// SPEC's settings, the quick profile.
const COST_STEPS: (f64, f64) = (2300.0, 400.0);

/// The folder of Task 2's analysis of the lazy model.
const LAZY_FOLDER: &str = "task2/lazy";

/// Task 2 in the study: the analysis of Task 1's lazy model (first seed), and the training of
/// the attention CNN (SPEC 2.5) that Task 3 reads.
pub struct LearnedTask;

impl Task for LearnedTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::Learned,
            title: "what the lazy model learned",
            needs: &[TaskId::Shortcut],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let lazy_folder = super::task1::run_folder(s.seed0());
        let lazy = s
            .models
            .iter()
            .find(|m| m.folder == lazy_folder)
            .ok_or_else(|| Error::Invalid("Task 2 needs Task 1's model".into()))?;
        let quick = s.cfg.profile == super::Profile::Quick;
        let cost = s.analysis_cost(ModelKind::Lazy, s.cfg.profile.pick(COST_STEPS));
        let names = (LAZY_FOLDER.into(), "what the lazy model learned".into());
        let config = serde_json::json!(quick);
        let analysis = s.analysis(self.id(), names, config, vec![lazy.clone()], cost);
        let seed = s.seed0();
        let attention = TrainUnit {
            kind: ModelKind::Attention,
            method: crate::train::Method::Plain,
            config: super::plain_config(s.cfg, ModelKind::Attention, seed),
            ranked_on: None,
            read_as: Some("plain — AttentionCNN".into()),
        };
        let folder = format!("task2/attention-seed-{seed}");
        let training = s.training(self.id(), folder, "the attention CNN".into(), attention);
        Ok(vec![analysis, training])
    }

    fn analyse(&self, job: Job) -> Result<serde_json::Value> {
        let (_, model) = job.models[0];
        let quick = job.cfg.profile == super::Profile::Quick;
        to_value(run(model, ModelKind::Lazy, quick, job.cfg.device, job.dir)?)
    }

    fn describe(&self, _unit: &Unit, result: &serde_json::Value) -> Option<String> {
        let t2: Task2 = serde_json::from_value(result.clone()).ok()?;
        Some(format!(
            "  class visualizations: colour purity {:.2} (report 0.78); unit CSI mean {:.2}, max {:.2} (bound 3.00)",
            t2.purity_mean, t2.units.csi_mean, t2.units.csi_max
        ))
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        let attention = &done.units[1].folder;
        to_value(Task2Summary {
            lazy: done.board.analysis(LAZY_FOLDER)?,
            attention_run: done.board.run(attention)?.clone(),
            attention_folder: attention.clone(),
        })
    }

    fn section(&self, r: &StudyResults, out: &Path) -> Result<String> {
        section_of(r, self.id(), |t2: Task2Summary| {
            let mut h = section_html(&t2.lazy)?;
            h.push_str(&attention_html(&t2, out)?);
            Ok(h)
        })
    }
}

/// SPEC 2.5's part of Task 2: the spatial-attention CNN's final accuracies and its curves.
fn attention_html(t2: &Task2Summary, out: &Path) -> Result<String> {
    #[derive(Serialize)]
    struct View {
        train: f64,
        hard: f64,
        aligned: f64,
        curves: PathBuf,
    }
    let a = &t2.attention_run;
    crate::report::render(
        "attention.html",
        View {
            train: a.final_train_acc(),
            hard: a.final_hard_acc(),
            aligned: a.final_aligned_acc(),
            curves: out.join(&t2.attention_folder).join("curves.png"),
        },
    )
}
