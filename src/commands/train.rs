//! `shortcut train <lazy|shape|attention|mlp> [--method …]`: one training run into its folder.

use super::inputs::{check_bias, load_data, say};
use crate::cli_args::TrainArgs;
use shortcut::models::ModelKind;
use shortcut::train::resume::RESUME_FILE;
use shortcut::train::run_folder::{FolderMode, RunPlan};
use shortcut::train::suppression::{rank_for_run, ranking_folder, ranking_unfinished, RankOn};
use shortcut::train::{Method, TrainConfig};
use shortcut::{Device, Error, Result};
use std::path::PathBuf;

pub fn run(a: TrainArgs) -> Result<()> {
    // Ctrl-C finishes the step in progress, saves, and says how to resume.
    shortcut::interrupt::install();
    let kind = ModelKind::parse(&a.model)?;
    let method = method_of(&a)?;
    method.check_model(kind)?;
    check_bias(a.bias)?;
    let cfg = TrainConfig {
        epochs: a.epochs.unwrap_or_else(|| method.default_epochs(kind)),
        batch: a.batch,
        lr: a.lr.unwrap_or_else(|| method.default_lr()),
        seed: a.seed,
        limit: a.limit,
        device: Device::parse(&a.device)?,
        progress: true,
    };
    cfg.validate()?;
    let d = load_data(&a.data, a.seed, a.bias, !a.fixed_colors)?;
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "runs/{}-{}-seed{}",
            kind.slug(),
            method.name(),
            a.seed
        ))
    });
    let mut mode = if a.resume {
        FolderMode::Resume
    } else if a.overwrite {
        FolderMode::Overwrite
    } else {
        FolderMode::Fresh
    };
    // A suppress run stopped while it was still training its plain model (the ranking) has its
    // resume file in out/ranked-plain: --resume continues that one first.
    let suppress = matches!(method, Method::Suppress { .. });
    let ranking_first = suppress && a.rank_from.is_none() && ranking_unfinished(&out);
    if ranking_first && mode == FolderMode::Resume && !out.join(RESUME_FILE).exists() {
        mode = FolderMode::Fresh;
    }
    shortcut::train::run_folder::precheck(&out, mode)?;
    let suppression = match &method {
        Method::Suppress { suppress, amplify } => {
            let on = match &a.rank_from {
                Some(p) => RankOn::Checkpoint(p),
                None => RankOn::PlainRun {
                    dir: ranking_folder(&out),
                    resume: a.resume,
                },
            };
            let s = rank_for_run(kind, (*suppress, *amplify), &cfg, &d, on, &mut |s| say(s))?;
            say(&format!(
                "suppression hook on {}: colour channels {:?} × {suppress}, shape channels {:?} × {amplify}",
                s.layer, s.color_channels, s.shape_channels
            ));
            Some(s)
        }
        _ => None,
    };
    say(&format!(
        "training {} with --method {} on {} (seed {}, {} epochs, batch {}, lr {}) → {}",
        kind.name(),
        method.name(),
        cfg.device.describe(),
        a.seed,
        cfg.epochs,
        cfg.batch,
        cfg.lr,
        out.display()
    ));
    let plan = RunPlan {
        kind,
        method: &method,
        suppression: suppression.as_ref(),
        cfg: &cfg,
        mode,
    };
    let (run, _) = shortcut::train::train_run(&plan, &d, &out, &mut |s| say(s))?;
    let p = &run.red1_probe;
    say(&format!(
        "final: train {:.1}%  hard {:.1}% (best {:.1}% at epoch {})  aligned {:.1}%  | red-1 probe predicts {} ({:.0}%); all red test 1s → {:?}",
        run.final_train_acc(),
        run.final_hard_acc(),
        run.best_hard_acc,
        run.best_epoch,
        run.aligned.accuracy,
        p.predicted,
        100.0 * p.probabilities[p.predicted],
        p.all_ones_predicted
    ));
    say(&format!(
        "wrote {}",
        run.files
            .iter()
            .map(|f| out.join(f).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

/// The method named on the command line, with the method-specific flags applied (a flag of
/// another method is a mistake, not silently ignored).
fn method_of(a: &TrainArgs) -> Result<Method> {
    let mut m = Method::with_defaults(&a.method)?;
    let flags = [
        (a.lambda.is_some(), "lambda", "consistency"),
        (a.gamma.is_some(), "gamma", "focal"),
        (a.suppress.is_some(), "suppress", "suppress"),
        (a.amplify.is_some(), "amplify", "suppress"),
        (a.rank_from.is_some(), "rank-from", "suppress"),
        (a.q.is_some(), "q", "lff"),
    ];
    if let Some((_, flag, owner)) = flags
        .iter()
        .find(|(given, _, owner)| *given && *owner != m.name())
    {
        return Err(Error::Invalid(format!(
            "--{flag} applies to --method {owner}, not --method {}",
            a.method
        )));
    }
    match &mut m {
        Method::Consistency { lambda, .. } => *lambda = a.lambda.unwrap_or(*lambda),
        Method::Focal { gamma } => *gamma = a.gamma.unwrap_or(*gamma),
        Method::Suppress { suppress, amplify } => {
            *suppress = a.suppress.unwrap_or(*suppress);
            *amplify = a.amplify.unwrap_or(*amplify);
        }
        Method::Lff { q } => *q = a.q.unwrap_or(*q),
        Method::Plain => {}
    }
    m.validate()?;
    Ok(m)
}
