//! `shortcut attack` on one checkpoint: one attack (FGSM, PGD or the colour attack), targeted
//! or not, at every ε of a list, on the first images of a split (or of one digit), with each
//! ε's success rate and its 95 % Wilson interval.

use super::batches::{chunked, draw_strips, paint_parts, probs_chunked, rate};
use super::{
    colour_attack, fgsm, mean_confidence, pgd, successes, ColourAttack, Goal, Pgd, THRESHOLD,
};
use crate::data::{BiasedMnist, Paint, Split};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::measure::stats::wilson;
use crate::nn::Module;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `shortcut attack`: which images, which attack, which ε.
#[derive(Clone, Debug, Serialize)]
pub struct AttackSpec {
    /// `fgsm`, `pgd` or `colour`.
    pub method: String,
    pub eps: Vec<f32>,
    /// Targeted toward this class, or untargeted when `None`.
    pub target: Option<usize>,
    /// The images: the first `n` of digit `source` (when set), else the first `n` of the split.
    pub source: Option<usize>,
    pub n: usize,
    #[serde(skip)]
    pub split: Split,
}

/// One ε of `shortcut attack`.
#[derive(Clone, Debug, Serialize)]
pub struct AttackPoint {
    pub eps: f32,
    /// Targeted: p(target) > 0.9; untargeted: misclassified. With its 95 % Wilson interval.
    pub success: f64,
    pub success_ci: (f64, f64),
    /// Mean probability of the target (targeted) or of the true class (untargeted).
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// What `shortcut attack` writes to `attack.json`.
#[derive(Clone, Debug, Serialize)]
pub struct AttackReport {
    pub checkpoint: String,
    pub model: String,
    pub spec: AttackSpec,
    pub split: &'static str,
    pub indices: Vec<usize>,
    /// Images already predicted as the target (targeted attacks) before any attack.
    pub already_target: usize,
    pub clean_accuracy: f64,
    pub points: Vec<AttackPoint>,
    pub seconds: f64,
}

/// Run one attack on one model for every ε of the spec; write `attack.json` and the image strip
/// into `out`, and return the report with the figures (path, caption) for its page
/// (`report::attack_page`).
pub fn attack_checkpoint(
    model: &dyn Module,
    model_name: &str,
    checkpoint: &Path,
    data: &BiasedMnist,
    spec: AttackSpec,
    device: Device,
    out: &Path,
) -> Result<(AttackReport, Vec<(PathBuf, String)>)> {
    let start = std::time::Instant::now();
    if spec.eps.is_empty() {
        return Err(Error::Invalid("--eps needs at least one value".into()));
    }
    for &e in &spec.eps {
        crate::interp::attack::check_eps(e)?;
    }
    if !["fgsm", "pgd", "colour"].contains(&spec.method.as_str()) {
        return Err(Error::Invalid(format!(
            "unknown attack '{}': expected fgsm, pgd or colour",
            spec.method
        )));
    }
    if spec.n == 0 {
        return Err(Error::Invalid("--n / --limit must be at least 1".into()));
    }
    for (flag, v) in [("--target", spec.target), ("--source", spec.source)] {
        if let Some(c) = v.filter(|&c| c > 9) {
            return Err(Error::Invalid(format!(
                "{flag} {c}: classes are digits 0–9"
            )));
        }
    }
    if spec.target.is_some() && spec.target == spec.source {
        return Err(Error::Invalid(
            "--source and --target are the same class: a targeted attack needs another".into(),
        ));
    }
    crate::files::ensure_writable(out)?;
    let split = spec.split;
    let indices: Vec<usize> = match spec.source {
        Some(d) => {
            let idx: Vec<usize> = (0..data.len(split))
                .filter(|&i| data.label(split, i) == d)
                .take(spec.n)
                .collect();
            if idx.len() < spec.n {
                return Err(Error::Invalid(format!(
                    "--n {}: the {} split has only {} images of digit {d}",
                    spec.n,
                    split.name(),
                    idx.len()
                )));
            }
            idx
        }
        None => {
            if spec.n > data.len(split) {
                return Err(Error::Invalid(format!(
                    "--limit {}: the {} split has {} images",
                    spec.n,
                    split.name(),
                    data.len(split)
                )));
            }
            (0..spec.n).collect()
        }
    };
    let (x, y) = data.batch(split, 0, &indices, Paint::DRAWN, device)?;
    let (goal, labels) = match spec.target {
        Some(t) => (Goal::Targeted, vec![t; indices.len()]),
        None => (Goal::Untargeted, y.clone()),
    };
    let clean = probs_chunked(model, &x)?;
    let clean_accuracy = 1.0 - rate(&successes(&clean, &y, Goal::Untargeted, 0.0));
    let already_target = match spec.target {
        Some(t) => clean
            .iter()
            .filter(|p| crate::measure::stats::argmax(p) == t)
            .count(),
        None => 0,
    };
    let mut points = Vec::new();
    let mut last = None;
    for &eps in &spec.eps {
        let adv = match spec.method.as_str() {
            "fgsm" => chunked(&x, &labels, &|x, l| fgsm(model, x, l, goal, eps))?,
            "pgd" => chunked(&x, &labels, &|x, l| pgd(model, x, l, goal, Pgd::spec(eps)))?,
            _ => {
                // The colour attack has no ε: it runs once, whatever the list says.
                let parts =
                    match split {
                        Split::Hard => paint_parts(data, &indices, device)?,
                        _ => return Err(Error::Invalid(
                            "the colour attack repaints hard-split images only: use --split hard"
                                .into(),
                        )),
                    };
                colour_attack(
                    model,
                    &parts.0,
                    &parts.1,
                    &parts.2,
                    &labels,
                    goal,
                    ColourAttack::default(),
                )?
                .images
            }
        };
        let p = probs_chunked(model, &adv)?;
        let s = successes(&p, &labels, goal, THRESHOLD);
        let k = s.iter().filter(|&&v| v).count();
        points.push(AttackPoint {
            eps,
            success: k as f64 / s.len() as f64,
            success_ci: wilson(k, s.len()),
            mean_confidence: mean_confidence(&p, &labels),
            accuracy: 1.0 - rate(&successes(&p, &y, Goal::Untargeted, 0.0)),
        });
        last = Some((adv, p));
        if spec.method == "colour" {
            break;
        }
    }
    let mut figures = Vec::new();
    if let Some((adv, p)) = last {
        let eps = points.last().map(|q| q.eps).unwrap_or(0.0);
        let what = if spec.method == "colour" {
            "colour".to_string()
        } else {
            format!("{}, ε = {eps}", spec.method)
        };
        let strips = vec![(format!("{model_name}: {what}"), (adv, p), clean)];
        figures = draw_strips(&strips, &x, out)?;
    }
    let report = AttackReport {
        checkpoint: checkpoint.display().to_string(),
        model: model_name.to_string(),
        split: split.name(),
        indices,
        already_target,
        clean_accuracy,
        points,
        seconds: start.elapsed().as_secs_f64(),
        spec,
    };
    crate::files::write_json(&out.join("attack.json"), &report)?;
    Ok((report, figures))
}
