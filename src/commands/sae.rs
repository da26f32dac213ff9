//! `shortcut sae CHECKPOINT`: train a sparse autoencoder on a hidden layer (or load one) and
//! measure it.

use super::inputs::{load_checkpoint, load_data, say};
use crate::cli_args::SaeArgs;
use shortcut::study;
use shortcut::{Device, Error, Result};
use std::path::PathBuf;

/// The largest --epochs `shortcut sae` accepts (100 is SPEC's; a 60,000-sample epoch takes
/// about a second on a CPU).
const MAX_SAE_EPOCHS: usize = 100_000;

/// `shortcut sae`: validate everything, then train (or load) and measure.
pub fn run(a: SaeArgs) -> Result<()> {
    let device = Device::parse(&a.device)?;
    let k = match a.k {
        Some(k) if k < 1 => {
            return Err(Error::Invalid(format!("--k {k}: k must be at least 1")));
        }
        Some(k) => Some(k as usize),
        None => None,
    };
    let kind = shortcut::interp::sae::SaeKind::parse(&a.kind, k)?;
    if matches!(kind, shortcut::interp::sae::SaeKind::TopK(_))
        && (a.lambda.is_some() || a.l1.is_some() || a.decoder_norm)
    {
        return Err(Error::Invalid(
            "--lambda, --l1 and --decoder-norm shape the L1 penalty, which a TopK SAE has none of (k sets its sparsity)"
                .into(),
        ));
    }
    if a.epochs == 0 || a.epochs > MAX_SAE_EPOCHS {
        return Err(Error::Invalid(format!(
            "--epochs {}: must be between 1 and {MAX_SAE_EPOCHS}",
            a.epochs
        )));
    }
    if a.limit == Some(0) || a.width == Some(0) {
        return Err(Error::Invalid(
            "--limit and --width must be at least 1".into(),
        ));
    }
    let config = shortcut::interp::sae::SaeConfig {
        kind,
        lambda: a
            .lambda
            .unwrap_or(shortcut::interp::sae::SaeConfig::SPEC.lambda),
        l1: shortcut::interp::sae::L1Form::parse(a.l1.as_deref().unwrap_or("mean"))?,
        decoder_norm: a.decoder_norm,
        epochs: a.epochs,
        seed: a.seed,
        ..shortcut::interp::sae::SaeConfig::SPEC
    };
    // λ and the rest now; k against the dictionary once the layer's width is known.
    shortcut::interp::sae::SaeConfig {
        kind: shortcut::interp::sae::SaeKind::Relu,
        ..config
    }
    .validate(1)?;
    let loaded = load_checkpoint(&a.checkpoint, device)?;
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("sae-{}", loaded.kind.slug())));
    let d = load_data(&a.data, a.seed, 0.95, true)?;
    let req = shortcut::interp::sae::analysis::SaeRequest {
        layer: a.layer.as_deref(),
        config,
        width: a.width,
        load: a.load.as_deref(),
        limit: a.limit,
    };
    let r = shortcut::interp::sae::analysis::sae_checkpoint(
        loaded.model.as_ref(),
        loaded.kind,
        loaded.kind.name(),
        &req,
        &d,
        device,
        &out,
        &mut |s| say(s),
    )?;
    say(&format!(
        "{} on {} ({}→{}): MSE {:.3e}, explained variance {:.2} % (SPEC's formula) / {:.2} %, L0 {:.1} ({:.1} %), {} dead",
        r.label,
        r.layer,
        r.d_in,
        r.config.width,
        r.test.mse,
        100.0 * r.test.explained_variance_spec,
        100.0 * r.test.explained_variance,
        r.test.l0,
        100.0 * r.test.density,
        r.test.dead,
    ));
    for s in &r.spliced {
        say(&format!(
            "spliced in, {}: {:.1} % (clean {:.1} %, zero-ablated {:.1} %)",
            s.split, s.sae.accuracy, s.clean.accuracy, s.zero_ablation.accuracy
        ));
    }
    let page = study::task6::sae_page(loaded.kind.name(), &r)?;
    shortcut::files::write_atomic(&out.join("sae.html"), page.as_bytes())?;
    say(&format!(
        "wrote {} and sae.json",
        out.join("sae.html").display()
    ));
    Ok(())
}
