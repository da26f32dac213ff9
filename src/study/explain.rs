//! `shortcut explain CHECKPOINT`: Tasks 2 and 3 on one model of ours, written as a folder with
//! `explain.html` (every figure inline), `explain.json` (every number) and the PNGs under
//! `task2/` and `task3/`.

use super::task2::{self, Task2};
use super::task3::{self, Task3, Task3Config};
use crate::data::BiasedMnist;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::report::safe;
use serde::Serialize;
use std::path::Path;

/// Tasks 2 and 3 of one model.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub checkpoint: String,
    pub model: &'static str,
    pub quick: bool,
    pub task2: Task2,
    pub task3: Task3,
    pub seconds: f64,
}

/// `explain.html`: the checkpoint and settings, then Task 2's and Task 3's sections.
#[derive(Serialize)]
struct Page<'a> {
    model: &'static str,
    checkpoint: &'a str,
    quick: bool,
    seconds: f64,
    task2: minijinja::Value,
    task3: minijinja::Value,
}

/// Run Tasks 2 and 3 on `model` and write the folder `out`.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    model: &dyn Module,
    kind: ModelKind,
    checkpoint: &Path,
    data: &BiasedMnist,
    quick: bool,
    limit: Option<usize>,
    device: Device,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Explanation> {
    let start = std::time::Instant::now();
    crate::files::ensure_writable(out)?;
    log(&format!("Task 2: what {} learned", kind.name()));
    let t2 = task2::run(model, kind, quick, device, &out.join("task2"))?;
    log(&format!(
        "  class visualizations: mean colour purity {:.2} (report 0.78); CSI of {} units of {}: mean {:.2}, max {:.2} (bound 3.00)",
        t2.purity_mean,
        t2.units.csi.len(),
        t2.units.layer,
        t2.units.csi_mean,
        t2.units.csi_max
    ));
    log("Task 3: Grad-CAM");
    let cfg = if quick {
        Task3Config::QUICK
    } else {
        Task3Config::DEFAULT
    };
    let t3 = task3::run(model, kind, data, cfg, limit, device, &out.join("task3"))?;
    let s = &t3.cam_stroke;
    log(&format!(
        "  case ratios {}; over {} hard-test images: {:.1} % of CAM mass on the stroke (stroke is {:.1} % of pixels), pointing game {:.1} %",
        t3.ratio_range()
            .map(|(a, b)| format!("{a:.2}–{b:.2}"))
            .unwrap_or_else(|| "—".into()),
        s.images,
        100.0 * s.mean_stroke_mass,
        100.0 * s.mean_stroke_area,
        100.0 * s.pointing_rate
    ));
    let e = Explanation {
        checkpoint: checkpoint.display().to_string(),
        model: kind.name(),
        quick,
        task2: t2,
        task3: t3,
        seconds: start.elapsed().as_secs_f64(),
    };
    crate::files::write_json(&out.join("explain.json"), &e)?;
    let page = crate::report::render(
        "explain.html",
        Page {
            model: kind.name(),
            checkpoint: &e.checkpoint,
            quick,
            seconds: e.seconds,
            task2: safe(task2::section_html(&e.task2)?),
            task3: safe(task3::section_html(&[(kind.name().to_string(), &e.task3)])?),
        },
    )?;
    crate::files::write_atomic(&out.join("explain.html"), page.as_bytes())
        .map_err(|err| Error::Invalid(format!("cannot write the report: {err}")))?;
    Ok(e)
}
