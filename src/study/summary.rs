//! The summary at the top of `index.html`: the study's questions answered in a few sentences,
//! each written from this run's numbers (a different outcome reads differently — nothing here
//! is a canned conclusion). A task that was not run contributes no sentence.

use super::task3::Task3;
use super::task4::Task4;
use super::task5::Task5;
use super::task6::Task6;
use super::{StudyResults, Task1Summary, Task2Summary, TaskId};
use crate::error::Result;
use crate::interp::sae::analysis::SaeAnalysis;
use std::fmt::Write as _;

/// The summary section (`summary.html`): one item per task run, as plain text; nothing when no
/// task has a sentence.
pub fn summary_html(r: &StudyResults) -> Result<String> {
    let items: Vec<String> = [task1(r), task2(r), task3(r), task4(r), task5(r), task6(r)]
        .into_iter()
        .flatten()
        .collect();
    crate::report::render("summary.html", serde_json::json!({ "items": items }))
}

/// Does a CNN trained on colour-biased digits read the colour?
fn task1(r: &StudyResults) -> Option<String> {
    let t = r.result::<Task1Summary>(TaskId::Shortcut).ok()??;
    let t = &t;
    let (train, hard) = (t.train_acc_mean_std.0, t.hard_acc_mean_std.0);
    let verdict = if train < 50.0 {
        format!("too little training to tell (train accuracy {train:.1} %).")
    } else if train - hard > 30.0 {
        "the lazy model reads colour, not shape.".to_string()
    } else {
        "the lazy model does not simply read colour here.".to_string()
    };
    let probe = t.runs.first().map(|run| {
        let p = &run.red1_probe;
        let top = p
            .all_ones_predicted
            .iter()
            .enumerate()
            .max_by_key(|(_, n)| **n)
            .map_or(0, |(d, _)| d);
        format!(
            " Painted red (digit 0's colour), a test 1 is read as {top} for {:.0} % of the 1s.",
            100.0 * p.all_ones_predicted.get(top).copied().unwrap_or(0) as f64
                / p.all_ones_count.max(1) as f64
        )
    });
    Some(format!(
        "Shortcut (Task 1): {} LazyCNN reaches {train:.1} % on the biased training split and {hard:.1} % on the hard split, where the colour never matches the digit (chance 10 %; the report: {:.1} % and {:.1} %).{}",
        verdict,
        t.reference_train_acc,
        t.reference_hard_acc,
        probe.unwrap_or_default()
    ))
}

/// What did the lazy model learn?
fn task2(r: &StudyResults) -> Option<String> {
    let t2 = r.result::<Task2Summary>(TaskId::Learned).ok()??;
    let t = &t2.lazy;
    let u = &t.units;
    Some(format!(
        "What it learned (Task 2): its class visualizations have colour purity {:.2} (the report: {:.2}); its {} units' colour selectivity index averages {:.2}, at most {:.2} against a bound of {:.2} for this palette — {} units above 3, where the report counted 15 specialists.",
        t.purity_mean,
        t.reference_purity,
        u.csi.len(),
        u.csi_mean,
        u.csi_max,
        u.csi_bound,
        u.csi.iter().filter(|&&v| v > 3.0).count()
    ))
}

/// Where do the models look?
fn task3(r: &StudyResults) -> Option<String> {
    let t3 = r.result::<Vec<(String, Task3)>>(TaskId::GradCam).ok()??;
    let t3 = &t3;
    let find = |label: &str| t3.iter().find(|(l, _)| l == label).map(|(_, t)| t);
    let lazy = find("plain — LazyCNN")?;
    let s = &lazy.cam_stroke;
    let mut text = format!(
        "Where it looks (Task 3): {:.0} % of the lazy model's Grad-CAM mass lies on the digit's stroke, which covers {:.0} % of the image ({}); its map's peak is on the stroke for {:.0} % of hard-test images.",
        100.0 * s.mean_stroke_mass,
        100.0 * s.mean_stroke_area,
        if s.mean_stroke_mass > 1.5 * s.mean_stroke_area {
            "so the map does sit on the stroke — where the colour is painted, so it cannot tell colour from shape"
        } else {
            "no more than a uniform map would"
        },
        100.0 * s.pointing_rate
    );
    if let Some(shape) = find("plain — ShapeCNN") {
        let _ = write!(
            text,
            " ShapeCNN's: {:.0} % on the stroke, peak on it {:.0} % of the time.",
            100.0 * shape.cam_stroke.mean_stroke_mass,
            100.0 * shape.cam_stroke.pointing_rate
        );
    }
    Some(text)
}

/// Which debiasing methods work?
fn task4(r: &StudyResults) -> Option<String> {
    let t = r.result::<Task4>(TaskId::Debias).ok()??;
    let t = &t;
    Some(format!(
        "Debiasing (Task 4, target > {:.0} % on the hard split): {}",
        super::task4::TARGET_HARD_ACC,
        super::task4::verdict(&t.rows)
    ))
}

/// Are debiased models easier to fool?
fn task5(r: &StudyResults) -> Option<String> {
    let t = r.result::<Task5>(TaskId::Attacks).ok()??;
    let t = &t;
    let eps = |label: &str| {
        t.models
            .iter()
            .find(|m| m.model == label)
            .and_then(|m| m.median_minimal_eps_right)
    };
    let lazy = eps("plain — LazyCNN")?;
    let others: Vec<String> = t
        .models
        .iter()
        .filter(|m| m.model != "plain — LazyCNN")
        .filter_map(|m| {
            m.median_minimal_eps_right
                .map(|e| format!("{} {e:.3}", m.model))
        })
        .collect();
    let harder = t
        .models
        .iter()
        .filter(|m| m.model != "plain — LazyCNN")
        .filter(|m| m.median_minimal_eps_right.is_some_and(|e| e > lazy))
        .count();
    let colour = t
        .models
        .iter()
        .find(|m| m.model == "plain — LazyCNN")
        .map(|m| m.colour_targeted_success)?;
    Some(format!(
        "Attacks (Task 5): the median L∞ perturbation that flips a correctly classified image is {lazy:.3} for the lazy model; {} ({harder} of the {} other models need a larger one, so {}). Repainting only the colour makes the lazy model predict a chosen class with p > 0.9 for {:.0} % of images.",
        others.join(", "),
        others.len(),
        if harder * 2 > others.len() {
            "debiasing made the models harder, not easier, to fool in this sense"
        } else {
            "most debiased models are as easy or easier to fool"
        },
        100.0 * colour
    ))
}

/// Do sparse-autoencoder features expose the shortcut?
fn task6(r: &StudyResults) -> Option<String> {
    let t = r.result::<Task6>(TaskId::Sae).ok()??;
    let t = &t;
    let lazy = t.main.first()?;
    let live = lazy.digit_scores.live;
    let mut text = format!(
        "Sparse autoencoders (Task 6): on the lazy model's hidden layer, {} of the SAE's {live} live features are explained by the painted colour and {} by the digit.",
        lazy.reads.colour, lazy.reads.digit
    );
    if let Some(ci) = &lazy.colour_intervention {
        let _ = write!(
            text,
            " Setting only the colour features to the true digit's colour fixes {:.1} % of its {} hard-test errors (the same edit of {} other features: {:.1} %).",
            100.0 * ci.now_right as f64 / ci.images.max(1) as f64,
            ci.images,
            ci.control_features,
            100.0 * ci.control_now_right as f64 / ci.images.max(1) as f64
        );
    }
    if let Some(robust) = t.main.iter().find(|a| a.model == "consistency — LazyCNN") {
        let _ = write!(text, " {}", compare(lazy, robust));
    }
    Some(text)
}

/// The lazy and the robust model's SAE features, side by side.
fn compare(lazy: &SaeAnalysis, robust: &SaeAnalysis) -> String {
    let (a, b) = (&lazy.digit_scores, &robust.digit_scores);
    format!(
        "The colour-consistency model's features are {} digit-selective ({:.2} vs {:.2}; entropy {:.2} vs {:.2} nats; the report: 0.90 vs 0.76) and {} of them read colour.",
        if b.selectivity > a.selectivity {
            "more"
        } else {
            "not more"
        },
        b.selectivity,
        a.selectivity,
        b.entropy,
        a.entropy,
        robust.reads.colour
    )
}
