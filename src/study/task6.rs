//! Task 6 — sparse autoencoders on a model's hidden layer (SPEC Task 6), and beyond the report:
//! the SAE spliced into the model against zero- and mean-ablation, TopK and
//! decoder-norm-weighted variants, which features read colour, and an intervention that edits
//! only those. One model's SAE, trained and measured, is [`crate::interp::sae::analysis`]'s;
//! this file chooses the models and the SAEs (the SPEC's on each, the variants on the lazy
//! one), and writes the report's section (and `shortcut sae`'s page, [`sae_page`]).

use super::task::{
    section_of, to_value, About, Finished, Job, ModelRef, Setup, Task, TaskId, Unit,
};
use super::StudyResults;
use crate::data::BiasedMnist;
use crate::device::Device;
use crate::error::Result;
use crate::interp::sae::analysis::{
    analyze, model_activations, sae_layer, spec_config, ColourIntervention, Intervention,
    SaeAnalysis,
};
use crate::interp::sae::SaeConfig;
use crate::models::ModelKind;
use crate::nn::Module;
use crate::report::Figure;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The report's numbers (lazy model, `mean` L1).
pub const REFERENCE_MSE: f64 = 0.000298;
pub const REFERENCE_EV_PCT: f64 = 99.97;
pub const REFERENCE_L0: f64 = 179.4;
/// Digit 0's probability after amplifying its top feature ×3: 7.6 % → 67.9 %.
pub const REFERENCE_AMPLIFY_POINTS: f64 = 60.3;
/// Digit 3's probability after suppressing its top feature: 1.0 % → 2.5 %.
pub const REFERENCE_SUPPRESS_POINTS: f64 = 1.5;
/// Lazy, robust (method 1).
pub const REFERENCE_SELECTIVITY: (f64, f64) = (0.7631, 0.9042);
pub const REFERENCE_DENSITY_PCT: (f64, f64) = (70.1, 72.7);
pub const REFERENCE_ENTROPY: (f64, f64) = (1.661, 0.709);

/// How much of Task 6 to run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Task6Config {
    /// SAE epochs (SPEC: 100).
    pub epochs: usize,
    /// Also train the sum-L1, decoder-norm-weighted and TopK SAEs on the lazy model.
    pub variants: bool,
}

impl Task6Config {
    pub const DEFAULT: Task6Config = Task6Config {
        epochs: 100,
        variants: true,
    };
    /// A smoke run: every analysis, three epochs.
    pub const QUICK: Task6Config = Task6Config {
        epochs: 3,
        variants: true,
    };
}

/// Task 6 over the study's models.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Task6 {
    pub config: Task6Config,
    /// SPEC's SAE on each model's layer, the lazy model first, then the robust ones.
    pub main: Vec<SaeAnalysis>,
    /// Other SAEs on the lazy model (sum L1, decoder-norm-weighted, TopK).
    pub variants: Vec<SaeAnalysis>,
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Run Task 6 on `models` ((label, kind, model), the lazy model first) into `out`.
pub fn run(
    models: &[(String, ModelKind, &dyn Module)],
    data: &BiasedMnist,
    cfg: Task6Config,
    limit: Option<usize>,
    device: Device,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Task6> {
    let (mut main, mut variants) = (Vec::new(), Vec::new());
    for (i, (label, kind, model)) in models.iter().enumerate() {
        let layer = sae_layer(*kind);
        log(&format!("  {label}: activations of '{layer}'"));
        let acts = model_activations(*model, layer, data, limit, device)?;
        let dir = out.join(slug(label));
        let spec = spec_config(acts.train.d_in(), cfg.epochs);
        let a = analyze(
            *model,
            label,
            &acts,
            &spec,
            data,
            device,
            &dir.join("spec"),
            log,
        )?;
        log(&format!(
            "    MSE {:.2e}, explained variance {:.2} % (SPEC's formula), L0 {:.1} of {}, {} dead; {:.2} s/epoch",
            a.test.mse,
            100.0 * a.test.explained_variance_spec,
            a.test.l0,
            spec.width,
            a.test.dead,
            a.seconds_per_epoch
        ));
        if i == 0 && cfg.variants {
            let sum = SaeConfig {
                l1: crate::interp::sae::L1Form::Sum,
                ..spec
            };
            let s = analyze(
                *model,
                label,
                &acts,
                &sum,
                data,
                device,
                &dir.join("sum"),
                log,
            )?;
            let k = (s.test.l0.round() as usize).clamp(1, spec.width);
            let norm = SaeConfig {
                decoder_norm: true,
                ..sum
            };
            let topk = SaeConfig {
                kind: crate::interp::sae::SaeKind::TopK(k),
                ..spec
            };
            variants.push(s);
            variants.push(analyze(
                *model,
                label,
                &acts,
                &norm,
                data,
                device,
                &dir.join("sum-decoder-norm"),
                log,
            )?);
            variants.push(analyze(
                *model,
                label,
                &acts,
                &topk,
                data,
                device,
                &dir.join(format!("topk-{k}")),
                log,
            )?);
        }
        main.push(a);
    }
    Ok(Task6 {
        config: cfg,
        main,
        variants,
    })
}

fn probs_cell(p: &[f32], digit: usize) -> String {
    match p.get(digit) {
        Some(v) => format!(
            "{:.1} % (predicts {})",
            100.0 * v,
            crate::measure::stats::argmax(p)
        ),
        None => "—".to_string(),
    }
}

/// The SAE's loss in words.
fn loss_words(c: &SaeConfig) -> String {
    match c.kind {
        crate::interp::sae::SaeKind::TopK(k) => format!(
            "only each sample's k = {k} largest pre-activations kept (a TopK SAE), loss MSE alone"
        ),
        crate::interp::sae::SaeKind::Relu => format!(
            "loss MSE + λ·S(h) with λ = {}, S = {}{}",
            c.lambda,
            match c.l1 {
                crate::interp::sae::L1Form::Mean => {
                    "the mean of |h| over batch and features (the form that reproduces the report's dense code)"
                }
                crate::interp::sae::L1Form::Sum =>
                    "the sum of |h| over features, averaged over the batch",
            },
            if c.decoder_norm {
                ", each |hⱼ| weighted by its decoder column's norm"
            } else {
                ""
            }
        ),
    }
}

/// The report's Task 6 section (also `shortcut sae`'s page, with one analysis), rendered from
/// `task6.html`: the lazy model's SAE beside the report's numbers, its top features per digit,
/// the interventions, then the lazy-vs-robust comparison (with more than one model), the
/// colour-only intervention, the spliced-in accuracy and the other SAEs (when trained).
pub fn section_html(t: &Task6) -> Result<String> {
    let Some(lazy) = t.main.first() else {
        return Ok(String::new());
    };
    let amp = lazy.interventions.first();
    let sup = lazy.interventions.get(1);
    let point = |i: Option<&Intervention>| {
        i.and_then(|i| {
            let b = i.before.get(i.digit)?;
            let a = i.after.get(i.digit)?;
            Some(format!("{:+.1} points", 100.0 * (a - b)))
        })
        .unwrap_or_else(|| "— (no misclassified image)".to_string())
    };
    let mut figures = vec![
        Figure::new(lazy.folder.join("digits_top50.png"), "per digit"),
        Figure::new(lazy.folder.join("colours_top50.png"), "per painted colour"),
    ];
    if !lazy.train.loss.is_empty() {
        figures.push(Figure::new(lazy.folder.join("loss.png"), "training loss"));
    }
    crate::report::render(
        "task6.html",
        SectionView {
            lazy,
            main: &t.main,
            variants: &t.variants,
            loss_words: loss_words(&lazy.config),
            lr: lazy.config.lr.to_string(),
            amplify: point(amp),
            suppress: point(sup),
            training_time: if lazy.train.loss.is_empty() {
                "— (a saved SAE, not trained here)".to_string()
            } else {
                format!("{:.2} s / epoch", lazy.seconds_per_epoch)
            },
            figures,
            interventions: lazy.interventions.iter().map(InterventionRow::of).collect(),
            lazy_vs_robust: (t.main.len() > 1).then(|| lazy_vs_robust(t)),
            colour: t.main.iter().map(ColourRow::of).collect(),
            hard_spliced: t
                .main
                .first()
                .into_iter()
                .chain(&t.variants)
                .map(|a| a.spliced.first().map_or(f64::NAN, |s| s.sae.accuracy))
                .collect(),
            reference: Reference::REPORT,
        },
    )
}

/// What `task6.html` shows besides the analyses themselves.
#[derive(Serialize)]
struct SectionView<'a> {
    lazy: &'a SaeAnalysis,
    main: &'a [SaeAnalysis],
    variants: &'a [SaeAnalysis],
    loss_words: String,
    lr: String,
    /// p(digit) after the amplifying and the suppressing edit, in points, or why there is none.
    amplify: String,
    suppress: String,
    training_time: String,
    figures: Vec<Figure>,
    interventions: Vec<InterventionRow<'a>>,
    lazy_vs_robust: Option<LazyVsRobust>,
    colour: Vec<ColourRow<'a>>,
    /// Hard-test accuracy with each SAE spliced in (the lazy model's, then the variants').
    hard_spliced: Vec<f64>,
    reference: Reference,
}

/// The report's numbers, as the report printed them.
#[derive(Serialize)]
struct Reference {
    mse: f64,
    ev_pct: f64,
    l0: f64,
    amplify_points: f64,
    suppress_points: f64,
    selectivity: (f64, f64),
    entropy: (f64, f64),
    density_pct: (f64, f64),
}

impl Reference {
    const REPORT: Reference = Reference {
        mse: REFERENCE_MSE,
        ev_pct: REFERENCE_EV_PCT,
        l0: REFERENCE_L0,
        amplify_points: REFERENCE_AMPLIFY_POINTS,
        suppress_points: REFERENCE_SUPPRESS_POINTS,
        selectivity: REFERENCE_SELECTIVITY,
        entropy: REFERENCE_ENTROPY,
        density_pct: REFERENCE_DENSITY_PCT,
    };
}

/// One edit of the intervention table, the image's probabilities written out.
#[derive(Serialize)]
struct InterventionRow<'a> {
    i: &'a Intervention,
    factor: String,
    /// `hard #12`, or `none wrong`.
    image: String,
    before: String,
    after: String,
    after_with_error: String,
}

impl<'a> InterventionRow<'a> {
    fn of(i: &'a Intervention) -> InterventionRow<'a> {
        InterventionRow {
            i,
            factor: i.factor.to_string(),
            image: i
                .image
                .map_or("none wrong".to_string(), |x| format!("hard #{x}")),
            before: probs_cell(&i.before, i.digit),
            after: probs_cell(&i.after, i.digit),
            after_with_error: probs_cell(&i.after_with_error, i.digit),
        }
    }
}

/// One model's colour-only intervention (`ci` is none when no feature reads colour).
#[derive(Serialize)]
struct ColourRow<'a> {
    model: &'a str,
    ci: Option<&'a ColourIntervention>,
    now_right_pct: f64,
    control_now_right_pct: f64,
}

impl<'a> ColourRow<'a> {
    fn of(a: &'a SaeAnalysis) -> ColourRow<'a> {
        let ci = a.colour_intervention.as_ref();
        let pct = |k: usize, c: &ColourIntervention| 100.0 * k as f64 / c.images.max(1) as f64;
        ColourRow {
            model: &a.model,
            ci,
            now_right_pct: ci.map_or(0.0, |c| pct(c.now_right, c)),
            control_now_right_pct: ci.map_or(0.0, |c| pct(c.control_now_right, c)),
        }
    }
}

/// The lazy and the robust model's SAEs compared, in words decided here from the numbers, and
/// the robust models' per-digit heatmaps.
#[derive(Serialize)]
struct LazyVsRobust {
    comparison: Option<Comparison>,
    figures: Vec<Figure>,
}

#[derive(Serialize)]
struct Comparison {
    robust: String,
    /// `higher` or `lower`: the robust model's digit selectivity and entropy against the lazy one's.
    selectivity_word: &'static str,
    entropy_word: &'static str,
    /// `more` or `less`: the lazy model's colour selectivity against its digit selectivity.
    colour_word: &'static str,
    robust_selectivity: f64,
    lazy_selectivity: f64,
    robust_entropy: f64,
    lazy_entropy: f64,
    lazy_colour_selectivity: f64,
    lazy_colour_features: usize,
    robust_colour_features: usize,
}

fn lazy_vs_robust(t: &Task6) -> LazyVsRobust {
    // The report's robust model is method 1, colour consistency, on the same architecture.
    let lazy = &t.main[0];
    let robust = t.main[1..]
        .iter()
        .find(|a| a.model.starts_with("consistency") && a.layer == lazy.layer);
    let more = |a: f64, b: f64| if b > a { "higher" } else { "lower" };
    let comparison = robust.map(|robust| Comparison {
        robust: robust.model.clone(),
        selectivity_word: more(
            lazy.digit_scores.selectivity,
            robust.digit_scores.selectivity,
        ),
        entropy_word: more(lazy.digit_scores.entropy, robust.digit_scores.entropy),
        colour_word: if lazy.colour_scores.selectivity > lazy.digit_scores.selectivity {
            "more"
        } else {
            "less"
        },
        robust_selectivity: robust.digit_scores.selectivity,
        lazy_selectivity: lazy.digit_scores.selectivity,
        robust_entropy: robust.digit_scores.entropy,
        lazy_entropy: lazy.digit_scores.entropy,
        lazy_colour_selectivity: lazy.colour_scores.selectivity,
        lazy_colour_features: lazy.reads.colour,
        robust_colour_features: robust.reads.colour,
    });
    // A robust model's heatmap is shown where it was drawn (and skipped, as before, where not).
    let figures = t.main[1..]
        .iter()
        .map(|a| {
            Figure::new(
                a.folder.join("digits_top50.png"),
                format!("{} — per digit", a.model),
            )
        })
        .filter(|f| f.path.is_file())
        .collect();
    LazyVsRobust {
        comparison,
        figures,
    }
}

/// `sae.html`: Task 6's section on one SAE, as a page.
#[derive(Serialize)]
struct SaePage<'a> {
    model_label: &'a str,
    section: minijinja::Value,
}

/// `sae.html`: `shortcut sae`'s page — Task 6's section on the one SAE `a` of `model_label`.
pub fn sae_page(model_label: &str, a: &SaeAnalysis) -> Result<String> {
    let t = Task6 {
        config: Task6Config {
            epochs: a.config.epochs,
            variants: false,
        },
        main: vec![a.clone()],
        variants: vec![],
    };
    crate::report::render(
        "sae.html",
        SaePage {
            model_label,
            section: crate::report::safe(section_html(&t)?),
        },
    )
}

/// Task 6's cost per model in its training steps (2-core CPU, 2026-11-30): (the SPEC's
/// settings, quick), for ShapeCNN and for the lazy model's unit, which trains four SAEs (the
/// SPEC's and three variants; another LazyCNN trains one: a quarter of this).
const COST_STEPS_SHAPE: (f64, f64) = (1100.0, 250.0);
const COST_STEPS_LAZY: (f64, f64) = (140000.0, 4000.0);

/// The models Task 6 decomposes, of `models`: the lazy model first (the SPEC's SAE), then
/// method 1 (the report's robust model), then the ShapeCNNs.
pub fn chosen_models(models: &[ModelRef]) -> Vec<ModelRef> {
    let wanted = [
        (ModelKind::Lazy, "plain"),
        (ModelKind::Lazy, "consistency"),
        (ModelKind::Shape, "plain"),
        (ModelKind::Shape, "consistency"),
    ];
    wanted
        .iter()
        .filter_map(|(k, meth)| models.iter().find(|m| m.kind == *k && m.method == *meth))
        .cloned()
        .collect()
}

/// Task 6 in the study: one analysis unit over the lazy model, method 1 and the ShapeCNNs.
pub struct SaeTask;

impl Task for SaeTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::Sae,
            title: "sparse autoencoders",
            needs: &[TaskId::Shortcut, TaskId::Debias],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let config = s
            .cfg
            .profile
            .pick((Task6Config::DEFAULT, Task6Config::QUICK));
        let reads = chosen_models(&s.models);
        let cost = reads
            .iter()
            .enumerate()
            .map(|(i, m)| match (i, m.kind) {
                (_, ModelKind::Shape) => {
                    s.analysis_cost(m.kind, s.cfg.profile.pick(COST_STEPS_SHAPE))
                }
                (0, _) => s.analysis_cost(m.kind, s.cfg.profile.pick(COST_STEPS_LAZY)),
                _ => s.analysis_cost(m.kind, s.cfg.profile.pick(COST_STEPS_LAZY)) / 4.0,
            })
            .sum();
        let names = (self.id().key(), "sparse autoencoders".to_string());
        Ok(vec![s.analysis(
            self.id(),
            names,
            to_value(config)?,
            reads,
            cost,
        )])
    }

    fn analyse(&self, job: Job) -> Result<serde_json::Value> {
        let cfg = job.cfg;
        let config = cfg.profile.pick((Task6Config::DEFAULT, Task6Config::QUICK));
        let decomposed: Vec<(String, ModelKind, &dyn Module)> = job
            .models
            .iter()
            .map(|(m, model)| (m.label.clone(), m.kind, *model))
            .collect();
        let t6 = run(
            &decomposed,
            job.data,
            config,
            cfg.limit,
            cfg.device,
            job.dir,
            job.log,
        )?;
        to_value(t6)
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        // Read as its type and written again: its numbers print as their type prints them.
        to_value(done.board.analysis::<Task6>(&self.id().key())?)
    }

    fn section(&self, r: &StudyResults, _out: &Path) -> Result<String> {
        section_of(r, self.id(), |t: Task6| section_html(&t))
    }
}
