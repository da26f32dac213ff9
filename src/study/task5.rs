//! Task 5 — adversarial attacks on every model (SPEC Task 5), and beyond the report:
//! robust-accuracy curves with confidence intervals, each image's minimal ε, an attack that may
//! only repaint the digit's colour, and a transfer matrix. The attacks are
//! [`crate::interp::attack`]'s; this file chooses the images, runs them per model, draws and
//! writes the report's section.

use super::task::{
    section_of, to_value, About, Finished, Job, ModelRef, Setup, Task, TaskId, Unit,
};
use super::StudyResults;
use crate::data::{BiasedMnist, Paint, Split};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::interp::attack::batches::{
    chunked, draw_strips, in_chunks, paint_parts, plot, probs_chunked, rate, Strip,
};
use crate::interp::attack::{
    colour_attack, fgsm, mean_confidence, minimal_eps, pgd, probabilities, successes, ColourAttack,
    Goal, Pgd, THRESHOLD,
};
use crate::measure::stats::wilson;
use crate::models::ModelKind;
use crate::nn::Module;
use crate::plots::{heatmap_png, line_chart_png};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// SPEC's ε list.
pub const EPS: [f32; 6] = [0.01, 0.02, 0.03, 0.05, 0.07, 0.10];
/// The report: the smallest ε reaching 90 % PGD success, lazy model and method 1.
pub const REFERENCE_LAZY_EPS: f32 = 0.10;
pub const REFERENCE_CONSISTENCY_EPS: f32 = 0.05;

/// How much of Task 5 to run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Task5Config {
    /// Source digit, target class and how many source images (SPEC: 7 → 3, 20).
    pub source: usize,
    pub target: usize,
    pub n: usize,
    /// Hard-test images for the curves, the minimal ε, the colour attack and the transfer.
    pub curve_images: usize,
    /// PGD steps of the curves and the bisection (α = 2.5·ε/steps).
    pub curve_steps: usize,
    pub bisection_iters: usize,
    pub eps_max: f32,
    /// ε of the adversarial examples the transfer matrix exchanges (untargeted PGD).
    pub transfer_eps: f32,
    pub colour: ColourAttack,
}

impl Task5Config {
    pub const DEFAULT: Task5Config = Task5Config {
        source: 7,
        target: 3,
        n: 20,
        curve_images: 1000,
        curve_steps: 20,
        bisection_iters: 6,
        eps_max: 0.3,
        transfer_eps: 0.05,
        colour: ColourAttack::DEFAULT,
    };
    pub const QUICK: Task5Config = Task5Config {
        curve_images: 100,
        curve_steps: 5,
        bisection_iters: 3,
        // 20 Adam steps of 0.05 still cross the whole [0, 1] colour range once.
        colour: ColourAttack {
            steps: 20,
            ..ColourAttack::DEFAULT
        },
        ..Task5Config::DEFAULT
    };

    /// Reject what cannot run: classes outside 0–9, source = target, no images.
    pub fn validate(&self) -> Result<()> {
        if self.source > 9 || self.target > 9 {
            return Err(Error::Invalid(format!(
                "--source {} / --target {}: classes are digits 0–9",
                self.source, self.target
            )));
        }
        if self.source == self.target {
            return Err(Error::Invalid(format!(
                "--source and --target are both {}: a targeted attack needs another class",
                self.source
            )));
        }
        if self.n == 0 || self.curve_images == 0 {
            return Err(Error::Invalid("--n and --limit must be at least 1".into()));
        }
        Ok(())
    }
}

/// One ε of the SPEC's table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpsRow {
    pub eps: f32,
    pub fgsm_success: f64,
    pub fgsm_confidence: f64,
    pub pgd_success: f64,
    pub pgd_confidence: f64,
}

/// One ε of the robust-accuracy curves (fractions, with 95 % Wilson intervals).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurvePoint {
    pub eps: f32,
    pub untargeted_accuracy: f64,
    pub untargeted_ci: (f64, f64),
    /// Targeted attack (target = label + 1 mod 10): share with p(target) > 0.9.
    pub targeted_success: f64,
    pub targeted_ci: (f64, f64),
}

/// Task 5 for one model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelAttacks {
    pub model: String,
    /// Source images the model already predicts as the target before any attack.
    pub already_target: usize,
    pub rows: Vec<EpsRow>,
    pub smallest_eps_fgsm: Option<f32>,
    pub smallest_eps_pgd: Option<f32>,
    pub clean_accuracy: f64,
    pub curve: Vec<CurvePoint>,
    /// Median minimal ε over the curve images (0 for an image already wrong; None: more than
    /// half survive `eps_max`).
    pub median_minimal_eps: Option<f32>,
    /// The same over the images the model gets right without attack — robustness proper,
    /// not confounded by clean accuracy (None: none right, or more than half survive).
    pub median_minimal_eps_right: Option<f32>,
    /// Its 95 % bootstrap interval.
    pub median_minimal_eps_right_ci: Option<(f32, f32)>,
    /// How many curve images the model gets right without attack.
    pub right_images: usize,
    /// Images still right at `eps_max`.
    pub survive_eps_max: usize,
    /// Colour-only attack: SPEC's source → target on the n images (p > 0.9), and targeted
    /// (label + 1) over the curve images.
    pub colour_source_success: f64,
    pub colour_targeted_success: f64,
    pub colour_targeted_ci: (f64, f64),
    pub seconds: f64,
}

/// Task 5's results.
#[derive(Debug, Serialize, Deserialize)]
pub struct Task5 {
    pub config: Task5Config,
    pub models: Vec<ModelAttacks>,
    /// `transfer[i][j]`: accuracy (%) of model j on model i's untargeted adversarial examples.
    pub transfer: Vec<Vec<f64>>,
    pub figures: Vec<(PathBuf, String)>,
}

/// The first `n` images of digit `digit` in the first `limit` hard-split images.
fn first_of(data: &BiasedMnist, digit: usize, n: usize, limit: usize) -> Result<Vec<usize>> {
    let idx: Vec<usize> = (0..limit)
        .filter(|&i| data.label(Split::Hard, i) == digit)
        .take(n)
        .collect();
    if idx.len() < n {
        return Err(Error::Invalid(format!(
            "--n {n}: the hard split has only {} images of digit {digit}{}",
            idx.len(),
            if limit < data.len(Split::Hard) {
                " within --limit"
            } else {
                ""
            }
        )));
    }
    Ok(idx)
}

/// Run Task 5 on `models` (label, model) and write the figures into `out`.
pub fn run(
    models: &[(String, &dyn Module)],
    data: &BiasedMnist,
    cfg: Task5Config,
    limit: Option<usize>,
    device: Device,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Task5> {
    cfg.validate()?;
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
    let n_hard = limit.unwrap_or(usize::MAX).min(data.len(Split::Hard));
    // The SPEC's 20 source images come from the whole split whatever `limit` is (20 images
    // cost little); `limit` caps the 1,000-image analyses.
    let src = first_of(data, cfg.source, cfg.n, data.len(Split::Hard))?;
    let (xs, _) = data.batch(Split::Hard, 0, &src, Paint::DRAWN, device)?;
    let targets = vec![cfg.target; cfg.n];
    let curve_idx: Vec<usize> = (0..cfg.curve_images.min(n_hard)).collect();
    let (xc, yc) = data.batch(Split::Hard, 0, &curve_idx, Paint::DRAWN, device)?;
    let tc: Vec<usize> = yc.iter().map(|&y| (y + 1) % 10).collect();
    let (gray_s, bg_s, own_s) = paint_parts(data, &src, device)?;
    let (gray_c, bg_c, own_c) = paint_parts(data, &curve_idx, device)?;

    let mut results = Vec::new();
    let mut transfer_sets = Vec::new();
    let mut strips = Vec::new();
    for (label, model) in models {
        let start = std::time::Instant::now();
        log(&format!("  {label}"));
        let model = *model;
        let clean = probabilities(model, &xs)?;
        let already_target = clean
            .iter()
            .filter(|p| crate::measure::stats::argmax(p) == cfg.target)
            .count();
        let mut rows = Vec::new();
        let mut strip_adv = None;
        for &eps in &EPS {
            let pf = probabilities(model, &fgsm(model, &xs, &targets, Goal::Targeted, eps)?)?;
            let adv = pgd(model, &xs, &targets, Goal::Targeted, Pgd::spec(eps))?;
            let pp = probabilities(model, &adv)?;
            rows.push(EpsRow {
                eps,
                fgsm_success: rate(&successes(&pf, &targets, Goal::Targeted, THRESHOLD)),
                fgsm_confidence: mean_confidence(&pf, &targets),
                pgd_success: rate(&successes(&pp, &targets, Goal::Targeted, THRESHOLD)),
                pgd_confidence: mean_confidence(&pp, &targets),
            });
            if eps == EPS[EPS.len() - 1] {
                strip_adv = Some((adv, pp));
            }
        }
        let smallest =
            |f: &dyn Fn(&EpsRow) -> f64| rows.iter().find(|r| f(r) >= 0.9).map(|r| r.eps);
        let smallest_eps_fgsm = smallest(&|r| r.fgsm_success);
        let smallest_eps_pgd = smallest(&|r| r.pgd_success);
        if let Some(s) = strip_adv {
            let title = format!("{label}: PGD {} → {}, ε = 0.10", cfg.source, cfg.target);
            strips.push((title, s, clean.clone()));
        }

        // Beyond the report: robust accuracy and targeted success over many images.
        let clean_c = probs_chunked(model, &xc)?;
        let clean_accuracy = 1.0 - rate(&successes(&clean_c, &yc, Goal::Untargeted, 0.0));
        let steps = cfg.curve_steps;
        let mut curve = Vec::new();
        for &eps in &EPS {
            let p = Pgd {
                eps,
                alpha: 2.5 * eps / steps as f32,
                steps,
                random_start: false,
                restarts: 1,
                seed: 0,
            };
            let adv_u = chunked(&xc, &yc, &|x, y| pgd(model, x, y, Goal::Untargeted, p))?;
            let right = successes(&probs_chunked(model, &adv_u)?, &yc, Goal::Untargeted, 0.0)
                .iter()
                .filter(|&&w| !w)
                .count();
            let adv_t = chunked(&xc, &tc, &|x, y| pgd(model, x, y, Goal::Targeted, p))?;
            let hit = successes(
                &probs_chunked(model, &adv_t)?,
                &tc,
                Goal::Targeted,
                THRESHOLD,
            )
            .iter()
            .filter(|&&s| s)
            .count();
            let m = curve_idx.len();
            curve.push(CurvePoint {
                eps,
                untargeted_accuracy: right as f64 / m as f64,
                untargeted_ci: wilson(right, m),
                targeted_success: hit as f64 / m as f64,
                targeted_ci: wilson(hit, m),
            });
            if (eps - cfg.transfer_eps).abs() < 1e-6 {
                transfer_sets.push(adv_u);
            }
        }
        let minimal = in_chunks(xc.dim(0), |r| {
            minimal_eps(
                model,
                &xc.slice(0, r.start, r.len())?,
                &yc[r],
                steps,
                cfg.bisection_iters,
                cfg.eps_max,
            )
        })?;
        let survive = minimal.iter().filter(|m| m.is_none()).count();
        let median_of = |v: Vec<f32>| -> Option<f32> {
            let mut s = v;
            s.sort_by(f32::total_cmp);
            s.get(s.len() / 2).copied().filter(|m| m.is_finite())
        };
        let median = median_of(minimal.iter().map(|m| m.unwrap_or(f32::INFINITY)).collect());
        let right: Vec<f32> = minimal
            .iter()
            .filter(|m| **m != Some(0.0))
            .map(|m| m.unwrap_or(f32::INFINITY))
            .collect();
        let right_images = right.len();
        let median_right_ci = median_ci(&right);
        let median_right = median_of(right);

        let rc = colour_attack(
            model,
            &gray_s,
            &bg_s,
            &own_s,
            &targets,
            Goal::Targeted,
            cfg.colour,
        )?;
        let colour_source_success = rate(&successes(
            &probabilities(model, &rc.images)?,
            &targets,
            Goal::Targeted,
            THRESHOLD,
        ));
        let hit = in_chunks(curve_idx.len(), |r| {
            let (s, len) = (r.start, r.len());
            let painted = colour_attack(
                model,
                &gray_c.slice(0, s, len)?,
                &bg_c.slice(0, s, len)?,
                &own_c[r.clone()],
                &tc[r.clone()],
                Goal::Targeted,
                cfg.colour,
            )?;
            let p = probabilities(model, &painted.images)?;
            Ok(successes(&p, &tc[r], Goal::Targeted, THRESHOLD))
        })?;
        let hits = hit.iter().filter(|&&h| h).count();
        results.push(ModelAttacks {
            model: label.clone(),
            already_target,
            rows,
            smallest_eps_fgsm,
            smallest_eps_pgd,
            clean_accuracy,
            curve,
            median_minimal_eps: median,
            median_minimal_eps_right: median_right,
            median_minimal_eps_right_ci: median_right_ci,
            right_images,
            survive_eps_max: survive,
            colour_source_success,
            colour_targeted_success: hits as f64 / curve_idx.len() as f64,
            colour_targeted_ci: wilson(hits, curve_idx.len()),
            seconds: start.elapsed().as_secs_f64(),
        });
    }

    let mut transfer = Vec::new();
    for adv in &transfer_sets {
        let mut row = Vec::new();
        for (_, m) in models {
            let p = probs_chunked(*m, adv)?;
            row.push(100.0 * (1.0 - rate(&successes(&p, &yc, Goal::Untargeted, 0.0))));
        }
        transfer.push(row);
    }
    let figures = draw(&results, &transfer, &strips, &xs, cfg, out)?;
    Ok(Task5 {
        config: cfg,
        models: results,
        transfer,
        figures,
    })
}

/// The section's figures.
fn draw(
    results: &[ModelAttacks],
    transfer: &[Vec<f64>],
    strips: &[Strip],
    xs: &Tensor,
    cfg: Task5Config,
    out: &Path,
) -> Result<Vec<(PathBuf, String)>> {
    let mut figs = Vec::new();
    let eps_names = EPS.map(|e| format!("{e}")).join(", ");
    let series = |f: &dyn Fn(&ModelAttacks) -> Vec<f32>| -> Vec<(String, Vec<f32>)> {
        results.iter().map(|m| (m.model.clone(), f(m))).collect()
    };
    let chart = |path: &Path, title: &str, y: &str, s: Vec<(String, Vec<f32>)>| -> Result<()> {
        let refs: Vec<(&str, &[f32])> = s.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
        plot(line_chart_png(
            path,
            title,
            &format!("ε index (ε = {eps_names})"),
            y,
            &refs,
            &[],
            Some((0.0, 100.0)),
        ))
    };
    let p = out.join("pgd_success.png");
    chart(
        &p,
        &format!(
            "targeted PGD-40, {} → {}: success (p > 0.9)",
            cfg.source, cfg.target
        ),
        "success (%)",
        series(&|m| {
            m.rows
                .iter()
                .map(|r| 100.0 * r.pgd_success as f32)
                .collect()
        }),
    )?;
    figs.push((
        p,
        format!(
            "PGD success rate per ε on {} hard-test {}s, every model",
            cfg.n, cfg.source
        ),
    ));
    let p = out.join("robust_accuracy.png");
    chart(
        &p,
        &format!("robust accuracy, untargeted PGD-{}", cfg.curve_steps),
        "accuracy (%)",
        series(&|m| {
            m.curve
                .iter()
                .map(|c| 100.0 * c.untargeted_accuracy as f32)
                .collect()
        }),
    )?;
    figs.push((p, format!("accuracy under untargeted PGD per ε over {} hard-test images (95 % intervals in the table)", cfg.curve_images)));
    let p = out.join("targeted_success.png");
    chart(
        &p,
        &format!("targeted PGD-{} (label + 1): success", cfg.curve_steps),
        "success (%)",
        series(&|m| {
            m.curve
                .iter()
                .map(|c| 100.0 * c.targeted_success as f32)
                .collect()
        }),
    )?;
    figs.push((
        p,
        "targeted attack success (target = label + 1 mod 10) per ε".into(),
    ));
    if !transfer.is_empty() {
        let p = out.join("transfer.png");
        // Numbers, not names, on the axes (the names are long); the caption says which is which.
        let names: Vec<String> = (1..=results.len()).map(|k| k.to_string()).collect();
        let key: Vec<String> = results
            .iter()
            .enumerate()
            .map(|(k, m)| format!("{} = {}", k + 1, m.model))
            .collect();
        let vals: Vec<Vec<f32>> = transfer
            .iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
        plot(heatmap_png(
            &p,
            &format!(
                "accuracy on adversarial examples (ε = {})",
                cfg.transfer_eps
            ),
            "made on",
            "evaluated on",
            &names,
            &names,
            &vals,
            Some((0.0, 100.0)),
            true,
            0,
        ))?;
        figs.push((p, format!("transfer: accuracy (%) of each model (columns) on the untargeted adversarial examples made on each model (rows); {}", key.join(", "))));
    }
    figs.extend(draw_strips(strips, xs, out)?);
    Ok(figs)
}

/// The answer to the report's question — are the debiased models easier to fool? — from the
/// measured numbers: each model's median minimal ε over the images it gets right without
/// attack, with a 95 % bootstrap interval, compared with the first model's (the lazy baseline).
/// Accuracy under attack is not compared directly: it mixes robustness with clean accuracy,
/// which on the hard split differs by 80 points between the lazy and the debiased models.
pub fn verdict(t: &Task5) -> String {
    let Some(base) = t.models.first() else {
        return String::new();
    };
    let show = |m: &ModelAttacks| {
        if m.right_images == 0 {
            return format!("{} — (no image right without attack)", m.model);
        }
        let med = m
            .median_minimal_eps_right
            .map(|e| format!("{e:.3}"))
            .unwrap_or_else(|| format!("> {:.2}", t.config.eps_max));
        match m.median_minimal_eps_right_ci {
            Some((lo, hi)) => format!("{} {med} [{lo:.3}, {hi:.3}]", m.model),
            None => format!("{} {med}", m.model),
        }
    };
    let mut parts = vec![format!(
        "Median ε that makes a correctly classified hard-test image wrong (untargeted PGD-{}, 95 % bootstrap interval): {}",
        t.config.curve_steps,
        show(base)
    )];
    let (mut harder, mut easier, mut same) = (Vec::new(), Vec::new(), Vec::new());
    for m in &t.models[1..] {
        parts.push(show(m));
        match (
            m.median_minimal_eps_right_ci,
            base.median_minimal_eps_right_ci,
        ) {
            (Some((lo, _)), Some((_, bhi))) if lo > bhi => harder.push(m.model.clone()),
            (Some((_, hi)), Some((blo, _))) if hi < blo => easier.push(m.model.clone()),
            _ => same.push(m.model.clone()),
        }
    }
    let mut s = parts.join("; ") + ".";
    let list = |v: &[String]| v.join(", ");
    if !easier.is_empty() {
        let _ = write!(s, " Easier to fool than {}: {}.", base.model, list(&easier));
    }
    if !harder.is_empty() {
        let _ = write!(s, " Harder to fool than {}: {}.", base.model, list(&harder));
    }
    if !same.is_empty() {
        let _ = write!(
            s,
            " Not distinguishable from {} at 95 %: {}.",
            base.model,
            list(&same)
        );
    }
    // The report's own sense of "fooled": a targeted attack that makes the model confident.
    let at = |m: &ModelAttacks| {
        m.curve
            .iter()
            .find(|c| (c.eps - 0.05).abs() < 1e-6)
            .cloned()
    };
    if let Some(b) = at(base) {
        let (mut more, mut less) = (Vec::new(), Vec::new());
        for m in &t.models[1..] {
            let Some(p) = at(m) else { continue };
            let desc = format!("{} {:.1} %", m.model, 100.0 * p.targeted_success);
            if p.targeted_ci.0 > b.targeted_ci.1 {
                more.push(desc);
            } else if p.targeted_ci.1 < b.targeted_ci.0 {
                less.push(desc);
            }
        }
        let _ = write!(
            s,
            " Targeted (p(target) > 0.9, target = label + 1) at ε = 0.05, {} succeeds on {:.1} % [{:.1}, {:.1}]",
            base.model,
            100.0 * b.targeted_success,
            100.0 * b.targeted_ci.0,
            100.0 * b.targeted_ci.1
        );
        if !more.is_empty() {
            let _ = write!(s, "; more often on {}", list(&more));
        }
        if !less.is_empty() {
            let _ = write!(s, "; less often on {}", list(&less));
        }
        s.push('.');
    }
    s
}

/// 95 % percentile-bootstrap interval of the median of `v` (+∞ for an image that survived),
/// 1,000 resamples from a fixed seed; `None` for fewer than 2 values or an unbounded end.
pub fn median_ci(v: &[f32]) -> Option<(f32, f32)> {
    if v.len() < 2 {
        return None;
    }
    let mut rng = crate::rng::Rng::new(0x0b00_7575, 0);
    let mut medians: Vec<f32> = (0..1000)
        .map(|_| {
            let mut s: Vec<f32> = (0..v.len())
                .map(|_| v[((rng.uniform() as f64 * v.len() as f64) as usize).min(v.len() - 1)])
                .collect();
            s.sort_by(f32::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    medians.sort_by(f32::total_cmp);
    let (lo, hi) = (medians[25], medians[974]);
    (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
}

fn eps_or(e: Option<f32>, max: f32) -> String {
    e.map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| format!("> {max:.2}"))
}

/// Task 5's part of a report (`task5.html`): the SPEC's targeted table, then robust accuracy,
/// the minimal ε and the colour attack over many images, and the verdict.
pub fn section_html(t: &Task5) -> Result<String> {
    #[derive(Serialize)]
    struct View<'a> {
        t: &'a Task5,
        /// The ε list as a set, `{0.01, 0.02, …}`, and each ε as printed.
        eps_set: String,
        eps: Vec<String>,
        eps_max: String,
        reference: Reference,
        models: Vec<ModelView<'a>>,
        verdict: String,
    }
    #[derive(Serialize)]
    struct Reference {
        lazy: f32,
        consistency: f32,
    }
    /// One model's rows; an ε a model never reached prints as `> 0.10`.
    #[derive(Serialize)]
    struct ModelView<'a> {
        m: &'a ModelAttacks,
        smallest_fgsm: String,
        smallest_pgd: String,
        median_all: String,
        /// `—` when the model gets no image right without attack.
        median_right: String,
    }
    let c = &t.config;
    let eps: Vec<String> = EPS.iter().map(|e| e.to_string()).collect();
    let models = t
        .models
        .iter()
        .map(|m| ModelView {
            m,
            smallest_fgsm: eps_or(m.smallest_eps_fgsm, 0.10),
            smallest_pgd: eps_or(m.smallest_eps_pgd, 0.10),
            median_all: eps_or(m.median_minimal_eps, c.eps_max),
            median_right: if m.right_images == 0 {
                "—".to_string()
            } else {
                eps_or(m.median_minimal_eps_right, c.eps_max)
            },
        })
        .collect();
    crate::report::render(
        "task5.html",
        View {
            t,
            eps_set: format!("{{{}}}", eps.join(", ")),
            eps,
            eps_max: c.eps_max.to_string(),
            reference: Reference {
                lazy: REFERENCE_LAZY_EPS,
                consistency: REFERENCE_CONSISTENCY_EPS,
            },
            models,
            verdict: verdict(t),
        },
    )
}

/// Task 5's cost per model in its training steps (2-core CPU, 2026-11-30): (the SPEC's
/// settings, quick), for ShapeCNN and for LazyCNN.
const COST_STEPS_SHAPE: (f64, f64) = (4700.0, 150.0);
const COST_STEPS: (f64, f64) = (14000.0, 1000.0);

/// Task 5 in the study: one analysis unit over every model of Tasks 1 and 4 (the transfer
/// matrix crosses them).
pub struct AttackTask;

impl Task for AttackTask {
    fn about(&self) -> &About {
        &About {
            id: TaskId::Attacks,
            title: "adversarial attacks",
            needs: &[TaskId::Shortcut, TaskId::Debias],
        }
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let config = s
            .cfg
            .profile
            .pick((Task5Config::DEFAULT, Task5Config::QUICK));
        // The classifiers of Tasks 1 and 4, not Task 2's attention CNN.
        let reads: Vec<ModelRef> = s
            .models
            .iter()
            .filter(|m| m.kind != ModelKind::Attention)
            .cloned()
            .collect();
        let cost = reads
            .iter()
            .map(|m| {
                let steps = match m.kind {
                    ModelKind::Shape => COST_STEPS_SHAPE,
                    _ => COST_STEPS,
                };
                s.analysis_cost(m.kind, s.cfg.profile.pick(steps))
            })
            .sum();
        let names = (
            self.id().key(),
            "adversarial attacks on every model".to_string(),
        );
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
        let config = cfg.profile.pick((Task5Config::DEFAULT, Task5Config::QUICK));
        let attacked: Vec<(String, &dyn Module)> = job
            .models
            .iter()
            .map(|(m, model)| (m.label.clone(), *model))
            .collect();
        let t5 = run(
            &attacked, job.data, config, cfg.limit, cfg.device, job.dir, job.log,
        )?;
        to_value(t5)
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        // Read as its type and written again: its numbers print as their type prints them.
        to_value(done.board.analysis::<Task5>(&self.id().key())?)
    }

    fn section(&self, r: &StudyResults, _out: &Path) -> Result<String> {
        section_of(r, self.id(), |t: Task5| section_html(&t))
    }
}
