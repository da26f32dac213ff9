//! The study's `index.html`: one self-contained page (figures embedded as data URIs) that puts
//! our numbers next to the original report's.

use super::{Profile, StudyResults, Task};
use crate::data::COLOR_NAMES;
use crate::error::{Error, Result};
use crate::plots::png_data_uri;
use std::fmt::Write as _;
use std::path::Path;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn img(path: &Path, alt: &str) -> Result<String> {
    let uri = png_data_uri(path).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(format!(
        "<figure><img src=\"{uri}\" alt=\"{a}\"><figcaption>{a}</figcaption></figure>",
        a = esc(alt)
    ))
}

pub(crate) fn pm((m, s): (f64, f64)) -> String {
    format!("{m:.1} ± {s:.1} %")
}

/// The start of a report page: doctype, title and the one style sheet every page shares,
/// up to the opened `<body>`.
pub fn page_head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}\
th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}figure{{display:inline-block;margin:.5em}}\
img{{max-width:100%;border:1px solid #ddd}}.note{{color:#555;font-size:.95em}}code{{background:#f3f3f3;padding:0 3px}}</style></head><body>",
        esc(title)
    )
}

/// Build and write `out/index.html` for the study's own tasks (see [`write_index_with`]).
pub fn write_index(r: &StudyResults, out: &Path) -> Result<()> {
    write_index_with(&super::registry::TASKS, r, out)
}

/// The tasks of `registry` that ran, by number: the order of the page's sections.
fn sections<'a>(registry: &[&'a dyn Task], r: &StudyResults) -> Vec<&'a dyn Task> {
    let mut run: Vec<&dyn Task> = registry
        .iter()
        .copied()
        .filter(|t| r.tasks.contains(&t.id()))
        .collect();
    run.sort_by_key(|t| t.id());
    run
}

/// Build and write `out/index.html`: the settings, a summary written from the numbers, a
/// table of contents, then each task's section (tasks not run are left out).
pub fn write_index_with(registry: &[&dyn Task], r: &StudyResults, out: &Path) -> Result<()> {
    let mut h = String::new();
    let c = &r.config;
    let _ = write!(
        h,
        "{}<h1>Shortcut learning on Biased MNIST</h1>\
<p class=\"note\">Profile <b>{}</b> on <b>{}</b>; tasks {:?}; seeds {:?}; {}; batch {}; Adam lr {}; bias {}; {}. \
This run took {:.0} s ({} of {} training runs and analyses reused from an earlier run with the same settings). \
Numbers: <a href=\"results.json\">results.json</a>.</p>",
        page_head("Shortcut learning on Biased MNIST"),
        c.profile.name(),
        c.device,
        r.tasks.iter().map(|t| t.number()).collect::<Vec<_>>(),
        c.seeds,
        match c.epochs {
            Some(e) => format!("{e} epochs per run"),
            None => "the SPEC's epochs per run".to_string(),
        },
        c.batch,
        c.lr,
        c.bias,
        match c.limit {
            Some(l) => format!("first {l} samples of each split"),
            None => "all samples".to_string(),
        },
        r.seconds,
        r.units
            .iter()
            .filter(|u| u.outcome == super::units::Outcome::Reused)
            .count(),
        r.units.len()
    );
    if c.profile == Profile::Quick {
        h.push_str("<p><b>Quick profile</b>: fewer epochs and samples than the study; numbers are not comparable with the report's. Run <code>shortcut study</code> (or <code>--profile full</code> for three seeds) for those.</p>");
    }
    h.push_str(&super::summary::summary_html(r));
    h.push_str(&toc_html(registry, r));
    for t in sections(registry, r) {
        h.push_str(&t.section(r, out)?);
    }
    h.push_str(&timing_html(r));
    h.push_str("</body></html>\n");
    super::write_atomic(&out.join("index.html"), h.as_bytes())
}

fn toc_html(registry: &[&dyn Task], r: &StudyResults) -> String {
    let mut h = String::from("<nav><h2>Contents</h2><ol start=\"0\">");
    for t in sections(registry, r) {
        let _ = write!(
            h,
            "<li><a href=\"#{}\">Task {} — {}</a></li>",
            t.id().key(),
            t.id(),
            t.title()
        );
    }
    h.push_str("<li><a href=\"#timing\">What each task took</a></li></ol></nav>");
    h
}

/// Wall time per task: the estimate and the time of this run, the time its units took when
/// they were computed (in this run or the one whose results were reused), and peak memory.
fn timing_html(r: &StudyResults) -> String {
    let mut h = String::from(
        "<h2 id=\"timing\">What each task took</h2><table><tr><th>task</th><th>estimated</th>\
<th>this run</th><th>computing its units</th><th>peak memory (this run)</th></tr>",
    );
    for (task, secs) in &r.task_seconds {
        let est = r.estimate.task_seconds.get(task).copied().unwrap_or(0.0);
        let computed: f64 = r
            .units
            .iter()
            .filter(|u| u.task.key() == *task)
            .map(|u| u.computed_seconds)
            .sum();
        let _ = write!(
            h,
            "<tr><td>{task}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            super::plan::human(est),
            super::plan::human(*secs),
            super::plan::human(computed),
            r.task_peak_mb
                .get(task)
                .map_or("—".to_string(), |mb| format!("{mb:.0} MB"))
        );
    }
    let reused = r
        .units
        .iter()
        .filter(|u| u.outcome == super::units::Outcome::Reused)
        .count();
    let _ = write!(
        h,
        "</table><p class=\"note\">{} of {} units (training runs and analyses) were reused from an earlier run of the same settings; the rest ran now. \
“Computing its units” adds each unit's time when it was computed (a training run: its epochs' training time, evaluation aside). \
<code>results.json</code> → <code>units</code> lists each.</p>",
        reused,
        r.units.len()
    );
    h
}

pub(super) fn task0_html(t0: &super::task0::Task0, bias: f32) -> Result<String> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<h2 id=\"task0\">Task 0 — the data</h2><p>MNIST digits painted in a colour: train uses the digit's dominant colour \
with probability {:.3}, the hard test split never does, the aligned test split is painted like train.</p>\
<table><tr><th>split</th><th>painted in the dominant colour</th></tr>\
<tr><td>train (epoch 0)</td><td>{:.2} %</td></tr><tr><td>hard test</td><td>{:.2} %</td></tr>\
<tr><td>aligned test</td><td>{:.2} %</td></tr></table>",
        bias, t0.train_dominant_pct, t0.hard_dominant_pct, t0.aligned_dominant_pct
    );
    for p in &t0.previews {
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        h.push_str(&img(p, &name.replace('_', " "))?);
    }

    Ok(h)
}

pub(super) fn task1_html(t1: &super::task1::Task1Summary, out: &Path) -> Result<String> {
    let mut h = String::new();
    let probe_preds: Vec<String> = t1
        .runs
        .iter()
        .map(|run| {
            format!(
                "{} ({:.0} % confident)",
                run.red1_probe.predicted,
                100.0 * run.red1_probe.probabilities[run.red1_probe.predicted]
            )
        })
        .collect();
    let _ = write!(
        h,
        "<h2 id=\"task1\">Task 1 — the lazy model</h2><p>LazyCNN (one 3×3 conv, then a 2×2 average pool) trained with \
cross-entropy and Adam. Final epoch, mean ± sample std over {} seed(s):</p>\
<table><tr><th>metric</th><th>ours</th><th>report</th></tr>\
<tr><td>train accuracy (biased split)</td><td>{}</td><td>{:.1} %</td></tr>\
<tr><td>hard-test accuracy (colours never match)</td><td>{}</td><td>{:.1} %</td></tr>\
<tr><td>aligned-test accuracy (coloured like train)</td><td>{}</td><td>—</td></tr>\
<tr><td>red-1 probe: a test 1 painted red predicts</td><td>{}</td><td>0 (on MNIST train[1], which is a 0)</td></tr></table>",
        t1.runs.len(),
        pm(t1.train_acc_mean_std),
        t1.reference_train_acc,
        pm(t1.hard_acc_mean_std),
        t1.reference_hard_acc,
        pm(t1.aligned_acc_mean_std),
        esc(&probe_preds.join(", "))
    );
    if let Some(run) = t1.runs.first() {
        let p = &run.red1_probe;
        let top = p
            .all_ones_predicted
            .iter()
            .enumerate()
            .max_by_key(|(_, &n)| n)
            .map(|(d, &n)| (d, n))
            .unwrap_or((0, 0));
        let _ = write!(
            h,
            "<p>Over all {} test 1s painted red (seed {}), the model predicts <b>{}</b> for {} of them ({:.1} %). \
Red is digit 0's colour.</p>",
            p.all_ones_count,
            run.config.seed,
            top.0,
            top.1,
            100.0 * top.1 as f64 / p.all_ones_count.max(1) as f64
        );
        h.push_str("<table><tr><th>seed</th><th>train %</th><th>hard %</th><th>aligned %</th><th>s / epoch</th></tr>");
        for run in &t1.runs {
            let secs =
                run.epoch_seconds.iter().sum::<f64>() / run.epoch_seconds.len().max(1) as f64;
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td></tr>",
                run.config.seed,
                run.final_train_acc(),
                run.final_hard_acc(),
                run.aligned_acc.last().unwrap_or(&0.0),
                secs
            );
        }
        h.push_str("</table>");
        let dir = out.join(format!("task1/seed-{}", run.config.seed));
        h.push_str(&img(&dir.join("curves.png"), "accuracy per epoch")?);
        h.push_str(&img(
            &dir.join("confusion_hard.png"),
            "hard-test confusion matrix",
        )?);
        let _ = write!(
            h,
            "<h3>Conflict matrix (ours, beyond the report)</h3><p>Each test digit painted in each palette colour ({}). \
A model that reads shape would score high everywhere; one that reads colour is right only on the diagonal, \
where the colour is the digit's own.</p>",
            COLOR_NAMES.join(", ")
        );
        h.push_str(&img(
            &dir.join("conflict_matrix.png"),
            "accuracy per (digit, painted colour)",
        )?);
    }
    Ok(h)
}

pub(super) fn attention_html(t2: &super::task2::Task2Summary, out: &Path) -> Result<String> {
    let mut h = String::new();
    let a = &t2.attention_run;
    let _ = write!(
        h,
        "<h3 id=\"attention\">The spatial-attention CNN (SPEC 2.5)</h3><p>Two convolutions, then a 1×1 convolution \
that scores each of the 14×14 positions, a softmax over the positions, and the attention-weighted sum of each \
channel; trained like LazyCNN. Final epoch: train {:.1} %, hard test {:.1} %, aligned {:.1} %. Its attention \
maps (read by a forward hook on <code>attention.softmax</code>) are drawn beside its Grad-CAMs in Task 3, with \
their concentration ratios on the same cases.</p>",
        a.final_train_acc(),
        a.final_hard_acc(),
        a.final_aligned_acc()
    );
    h.push_str(&img(
        &out.join(&t2.attention_folder).join("curves.png"),
        "the attention CNN's accuracy per epoch",
    )?);
    Ok(h)
}
