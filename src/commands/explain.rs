//! `shortcut explain CHECKPOINT`: the study's Tasks 2 and 3 on one model.

use super::inputs::{check_limit, load_checkpoint, load_data, say};
use crate::cli_args::ExplainArgs;
use shortcut::{Device, Result};
use std::path::PathBuf;

pub fn run(a: ExplainArgs) -> Result<()> {
    let device = Device::parse(&a.device)?;
    check_limit(a.limit)?;
    let loaded = load_checkpoint(&a.checkpoint, device)?;
    if loaded.kind == shortcut::models::ModelKind::Mlp {
        return Err(shortcut::Error::Invalid(format!(
            "{}: explain reads a convolution's filters and Grad-CAM maps, and an MLP has no convolution (eval, attack and sae read it)",
            a.checkpoint.display()
        )));
    }
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("explain-{}", loaded.kind.slug())));
    let d = load_data(&a.data, a.seed, 0.95, true)?;
    let e = shortcut::study::explain::explain(
        loaded.model.as_ref(),
        loaded.kind,
        &a.checkpoint,
        &d,
        a.quick,
        a.limit,
        device,
        &out,
        &mut |s| say(s),
    )?;
    say(&format!(
        "wrote {} and explain.json ({:.1} s)",
        out.join("explain.html").display(),
        e.seconds
    ));
    Ok(())
}
