//! `shortcut attack CHECKPOINT`: one attack (FGSM, PGD or colour-only) at every ε on one
//! model.

use super::inputs::{class_arg, load_checkpoint, load_data, parse_split, say};
use crate::cli_args::AttackArgs;
use shortcut::{Device, Error, Result};

/// `shortcut attack`: one attack, every ε, one model.
pub fn run(a: AttackArgs) -> Result<()> {
    let device = Device::parse(&a.device)?;
    let eps: Vec<f32> = a
        .eps
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<f32>()
                .map_err(|_| Error::Invalid(format!("--eps: '{s}' is not a number")))
        })
        .collect::<Result<_>>()?;
    if eps.is_empty() {
        return Err(Error::Invalid("--eps needs at least one value".into()));
    }
    for &e in &eps {
        shortcut::interp::attack::check_eps(e).map_err(|_| {
            Error::Invalid(format!(
                "--eps {e}: ε must be in [0, 1] (pixels are in [0, 1])"
            ))
        })?;
    }
    let (source, target, n) = match a.limit {
        Some(l) => (
            class_arg("--source", a.source)?,
            class_arg("--target", a.target)?,
            l,
        ),
        None => (
            Some(class_arg("--source", a.source)?.unwrap_or(7)),
            Some(class_arg("--target", a.target)?.unwrap_or(3)),
            a.n,
        ),
    };
    if n == 0 {
        return Err(Error::Invalid("--n / --limit must be at least 1".into()));
    }
    let spec = shortcut::interp::attack::checkpoint::AttackSpec {
        method: a.method,
        eps,
        target,
        source,
        n,
        split: parse_split(&a.split)?,
    };
    if !["fgsm", "pgd", "colour"].contains(&spec.method.as_str()) {
        return Err(Error::Invalid(format!(
            "unknown attack '{}': expected fgsm, pgd or colour",
            spec.method
        )));
    }
    let loaded = load_checkpoint(&a.checkpoint, device)?;
    let d = load_data(&a.data, a.seed, 0.95, true)?;
    let (r, figures) = shortcut::interp::attack::checkpoint::attack_checkpoint(
        loaded.model.as_ref(),
        loaded.kind.name(),
        &a.checkpoint,
        &d,
        spec,
        device,
        &a.out,
    )?;
    let page = shortcut::report::attack_page(&r, &figures)?;
    shortcut::files::write_atomic(&a.out.join("attack.html"), page.as_bytes())?;
    say(&format!(
        "{} {} on {} {} images{} (clean accuracy {:.1} %{}):",
        r.model,
        r.spec.method,
        r.indices.len(),
        r.split,
        r.spec
            .source
            .map(|s| format!(" of digit {s}"))
            .unwrap_or_default(),
        100.0 * r.clean_accuracy,
        r.spec
            .target
            .map(|t| format!(", {} already predicted {t}", r.already_target))
            .unwrap_or_default()
    ));
    for p in &r.points {
        say(&format!(
            "  ε {:<5} success {:5.1} % [{:.1}, {:.1}]  mean {} probability {:.3}  accuracy {:.1} %",
            p.eps,
            100.0 * p.success,
            100.0 * p.success_ci.0,
            100.0 * p.success_ci.1,
            if r.spec.target.is_some() { "target" } else { "true-class" },
            p.mean_confidence,
            100.0 * p.accuracy
        ));
    }
    say(&format!(
        "wrote {}, attack.json and strip_0.png ({:.1} s)",
        a.out.join("attack.html").display(),
        r.seconds
    ));
    Ok(())
}
