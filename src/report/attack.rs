//! `attack.html`, the page of `shortcut attack`.

use super::{render, Figure};
use crate::error::Result;
use crate::interp::attack::checkpoint::AttackReport;
use crate::interp::attack::{ColourAttack, THRESHOLD};
use serde::Serialize;
use std::path::PathBuf;

/// `attack.html`, the page of `shortcut attack`: what was attacked and how, the success, its
/// 95 % interval, the mean probability and the accuracy at each ε, and the image strip.
pub fn attack_page(r: &AttackReport, figures: &[(PathBuf, String)]) -> Result<String> {
    #[derive(Serialize)]
    struct View<'a> {
        r: &'a AttackReport,
        /// Which images, in words: `20 hard-split images of digit 7`.
        images: String,
        /// The attack in words, and what counts as a success.
        attack: String,
        success: String,
        /// Whose probability the `mean_confidence` column holds.
        probability_of: String,
        eps: Vec<String>,
        figures: Vec<Figure>,
    }
    let s = &r.spec;
    let images = format!(
        "{} {}-split images{}",
        r.indices.len(),
        r.split,
        s.source
            .map(|d| format!(" of digit {d}"))
            .unwrap_or_default()
    );
    let attack = match s.method.as_str() {
        "fgsm" => "FGSM, one step of size ε along the sign of the gradient".to_string(),
        "pgd" => "PGD, 40 steps of α = ε/10 projected back into the L∞ ball of radius ε".to_string(),
        _ => format!(
            "The colour-only attack, the digit repainted in one optimized RGB colour ({} Adam steps of {}), shape and background untouched; it has no ε",
            ColourAttack::default().steps,
            ColourAttack::default().lr
        ),
    };
    let (success, probability_of) = match s.target {
        Some(t) => (
            format!("targeted toward {t}: success means p({t}) > {THRESHOLD}"),
            format!("p({t})"),
        ),
        None => (
            "untargeted: success means the prediction is wrong".to_string(),
            "p(true class)".to_string(),
        ),
    };
    render(
        "attack.html",
        View {
            r,
            images,
            attack,
            success,
            probability_of,
            eps: r
                .points
                .iter()
                .map(|p| match s.method.as_str() {
                    "colour" => "—".to_string(),
                    _ => p.eps.to_string(),
                })
                .collect(),
            figures: figures
                .iter()
                .map(|(p, c)| Figure::new(p, c.clone()))
                .collect(),
        },
    )
}
