//! Task 6 — sparse autoencoders on a model's hidden layer (SPEC Task 6), and beyond the report:
//! the SAE spliced into the model against zero- and mean-ablation, TopK and
//! decoder-norm-weighted variants, which features read colour, and an intervention that edits
//! only those. The SAE itself is [`crate::interp::sae`]'s; this file chooses the data, runs
//! the analyses, draws, and writes the report's section (and `shortcut sae`'s page).
//!
//! Tables are measured on the hard test split: there, every digit is painted in one of the nine
//! colours that are not its own, uniformly, so colour no longer predicts the digit and a
//! feature's mean activation per digit and per colour can be told apart.

use super::report::{esc, img};
use super::task::{section_of, to_value, Finished, Inputs, ModelRef, Setup, Task, TaskId, Unit};
use super::StudyResults;
use crate::data::{BiasedMnist, Paint, Split, COLOR_NAMES};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::interp::sae::metrics::{
    eta_squared, feature_scores, group_means, most_active, reads, reconstruction, top_features,
    FeatureScores, Reads, Reconstruction,
};
use crate::interp::sae::splice::{
    spliced_probabilities, spliced_scores, Edit, Splice, SplicedScores,
};
use crate::interp::sae::{collect, encode_all, train, Activations, Sae, SaeConfig, TrainLog};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::plots::{heatmap_png, line_chart_png};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The report's numbers (lazy model, `mean` L1).
pub const REFERENCE_MSE: f64 = 0.000298;
pub const REFERENCE_EV_PCT: f64 = 99.97;
pub const REFERENCE_L0: f64 = 179.4;
/// Digit 0's probability after amplifying its top feature ×3: 7.6 % → 67.9 %.
pub const REFERENCE_AMPLIFY_POINTS: f64 = 60.3;
/// Digit 3's probability after suppressing its top feature: 1.0 % → 2.5 %.
pub const REFERENCE_SUPPRESS_POINTS: f64 = 1.5;
/// Lazy, robust (method 1).
pub const REFERENCE_SELECTIVITY: (f64, f64) = (0.7631, 0.9042);
pub const REFERENCE_DENSITY_PCT: (f64, f64) = (70.1, 72.7);
pub const REFERENCE_ENTROPY: (f64, f64) = (1.661, 0.709);

/// The layer an SAE decomposes: LazyCNN's first Linear after its ReLU (SPEC), ShapeCNN's
/// pooled channels, AttentionCNN's attention-pooled channels (the features their classifier
/// reads; neither has a hidden Linear).
pub fn sae_layer(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Lazy => "classifier.2",
        ModelKind::Shape => "pool",
        ModelKind::Attention => "attention",
    }
}

/// A model's activations at its SAE layer: the train split (the SAE's data) and the hard test
/// split (its evaluation), with the clean model's predictions on the latter.
pub struct ModelActivations {
    pub layer: String,
    pub train: Activations,
    pub test: Activations,
    pub test_predictions: Vec<usize>,
}

/// Collect both splits (the first `limit` samples of each).
pub fn model_activations(
    model: &dyn Module,
    layer: &str,
    data: &BiasedMnist,
    limit: Option<usize>,
    device: Device,
) -> Result<ModelActivations> {
    let n = |s| crate::train::split_len(data, s, limit);
    let train = collect(model, layer, data, Split::Train, n(Split::Train), device)?;
    let test = collect(model, layer, data, Split::Hard, n(Split::Hard), device)?;
    let test_predictions =
        crate::train::predict_split(model, data, Split::Hard, n(Split::Hard), device)?;
    Ok(ModelActivations {
        layer: layer.to_string(),
        train,
        test,
        test_predictions,
    })
}

/// One edit of SPEC's intervention experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Intervention {
    pub digit: usize,
    pub feature: usize,
    pub factor: f32,
    /// The first hard-test image of `digit` the model gets wrong (None: it gets all right).
    pub image: Option<usize>,
    pub predicted_before: Option<usize>,
    /// Class probabilities of that image: clean, edited without and with the error term.
    pub before: Vec<f32>,
    pub after: Vec<f32>,
    pub after_with_error: Vec<f32>,
    /// Over every misclassified hard-test image of the digit: how many, the mean change of
    /// p(digit) in points, and how many the edit makes predict the digit.
    pub images: usize,
    pub mean_delta_points: f64,
    pub mean_delta_points_with_error: f64,
    pub now_right: usize,
    pub now_right_with_error: usize,
}

/// Setting only the colour features to the true digit's colour, on the misclassified images.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColourIntervention {
    pub colour_features: Vec<usize>,
    pub images: usize,
    pub mean_p_true_before: f64,
    pub mean_p_true_after: f64,
    /// Images predicted as their true digit after the edit (error term kept).
    pub now_right: usize,
    /// Control: as many live non-colour features (or all of them, if fewer), edited the
    /// same way.
    pub control_features: usize,
    pub control_now_right: usize,
}

/// How many features read colour, digit, neither, or never vary (see [`Reads`]).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ReadsCount {
    pub colour: usize,
    pub digit: usize,
    pub mixed: usize,
    pub constant: usize,
}

/// One SAE trained on one model's layer, measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaeAnalysis {
    pub model: String,
    pub layer: String,
    pub d_in: usize,
    pub config: SaeConfig,
    pub label: String,
    pub train_samples: usize,
    pub test_samples: usize,
    pub train: TrainLog,
    pub seconds_per_epoch: f64,
    /// Hard test split.
    pub test: Reconstruction,
    /// 10 × M mean activation per digit and per painted colour (hard split).
    pub digit_table: Vec<Vec<f32>>,
    pub colour_table: Vec<Vec<f32>>,
    pub top5: Vec<Vec<(usize, f32)>>,
    pub most_active: Vec<usize>,
    /// SPEC's selectivity and entropy over the digit table, and the same over the colour table.
    pub digit_scores: FeatureScores,
    pub colour_scores: FeatureScores,
    pub reads: ReadsCount,
    /// Top-5 digits per digit that a single feature covers: the most shared feature and in
    /// how many digits' top 5 it appears (the report's "feature 118 in 9 of 10").
    pub most_shared_feature: (usize, usize),
    pub spliced: Vec<SplicedScores>,
    pub interventions: Vec<Intervention>,
    pub colour_intervention: Option<ColourIntervention>,
    /// The folder of its figures and checkpoint (under the study folder).
    pub folder: PathBuf,
}

/// Train and measure one SAE on `acts` (see [`model_activations`]) and write its files into
/// `dir`: `sae.safetensors`, `digit_table.csv`, `colour_table.csv`, `loss.png`,
/// `digits_top50.png`, `colours_top50.png`.
#[allow(clippy::too_many_arguments)]
pub fn analyze(
    model: &dyn Module,
    model_label: &str,
    acts: &ModelActivations,
    cfg: &SaeConfig,
    data: &BiasedMnist,
    device: Device,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<SaeAnalysis> {
    let d = acts.train.d_in();
    cfg.validate(d)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    let sae = Sae::new(d, cfg.width, cfg.kind, cfg.seed, device)?;
    let label = cfg.label();
    let tlog = train(&sae, &acts.train.x, cfg, &mut |e, l| {
        if (e + 1) % 10 == 0 || e + 1 == cfg.epochs {
            log(&format!(
                "    {label}: epoch {}/{} loss {:.3e} (MSE {:.3e}) {:.1} s",
                e + 1,
                cfg.epochs,
                l.loss.last().copied().unwrap_or(f64::NAN),
                l.mse.last().copied().unwrap_or(f64::NAN),
                l.seconds
            ))
        }
    })?;
    sae.save(&dir.join("sae.safetensors"), &acts.layer, cfg)?;
    let sae = Arc::new(sae);
    measure(model, model_label, acts, &sae, cfg, tlog, data, device, dir)
}

/// Everything after training (also what `shortcut sae --load` runs on a saved SAE).
#[allow(clippy::too_many_arguments)]
pub fn measure(
    model: &dyn Module,
    model_label: &str,
    acts: &ModelActivations,
    sae: &Arc<Sae>,
    cfg: &SaeConfig,
    tlog: TrainLog,
    data: &BiasedMnist,
    device: Device,
    dir: &Path,
) -> Result<SaeAnalysis> {
    let (d, m) = (sae.d_in(), sae.width());
    let x = acts.test.x.to_vec()?;
    let (h, x_hat) = encode_all(sae, &acts.test.x)?;
    let test = reconstruction(&x, &x_hat, &h, d, m);
    let digit_table = group_means(&h, m, &acts.test.labels, 10);
    let colour_table = group_means(&h, m, &acts.test.colours, 10);
    let top5: Vec<Vec<(usize, f32)>> = digit_table.iter().map(|r| top_features(r, 5)).collect();
    let most = most_active(&h, m, 50.min(m));
    let eta_c = eta_squared(&h, m, &acts.test.colours, 10);
    let eta_d = eta_squared(&h, m, &acts.test.labels, 10);
    let classes = reads(&eta_c, &eta_d);
    let mut rc = ReadsCount::default();
    for r in &classes {
        match r {
            Reads::Colour => rc.colour += 1,
            Reads::Digit => rc.digit += 1,
            Reads::Mixed => rc.mixed += 1,
            Reads::Constant => rc.constant += 1,
        }
    }
    let colour_features: Vec<usize> = (0..m).filter(|&j| classes[j] == Reads::Colour).collect();
    let mut shared = vec![0usize; m];
    for row in &top5 {
        for &(j, _) in row {
            shared[j] += 1;
        }
    }
    let most_shared = (0..m)
        .max_by_key(|&j| (shared[j], usize::MAX - j))
        .unwrap_or(0);

    // Spliced-in scores on both test splits; mean-ablation uses the train activations' mean.
    let mean = acts.train.x.mean(0, false)?;
    let n_test = acts.test.len();
    let spliced = [Split::Hard, Split::Aligned]
        .into_iter()
        .map(|s| {
            spliced_scores(
                model,
                &acts.layer,
                sae,
                &mean,
                data,
                s,
                n_test.min(data.len(s)),
                device,
            )
        })
        .collect::<Result<Vec<_>>>()?;

    let interventions = [(0usize, 3.0f32), (3, 0.0)]
        .into_iter()
        .map(|(digit, factor)| {
            let feature = top5[digit].first().map_or(0, |f| f.0);
            intervene(model, acts, sae, data, digit, feature, factor, device)
        })
        .collect::<Result<Vec<_>>>()?;
    let colour_intervention = colour_swap(
        model,
        acts,
        sae,
        &colour_features,
        &colour_table,
        &classes,
        data,
        device,
        cfg.seed,
    )?;

    write_tables(dir, &digit_table, &colour_table)?;
    draw(
        dir,
        &tlog,
        &digit_table,
        &colour_table,
        &most,
        model_label,
        cfg,
    )?;
    let per_epoch = tlog.seconds / tlog.loss.len().max(1) as f64;
    Ok(SaeAnalysis {
        model: model_label.to_string(),
        layer: acts.layer.clone(),
        d_in: d,
        config: *cfg,
        label: cfg.label(),
        train_samples: acts.train.len(),
        test_samples: n_test,
        seconds_per_epoch: per_epoch,
        train: tlog,
        test,
        digit_scores: feature_scores(&digit_table),
        colour_scores: feature_scores(&colour_table),
        digit_table,
        colour_table,
        top5,
        most_active: most,
        reads: rc,
        most_shared_feature: (most_shared, shared[most_shared]),
        spliced,
        interventions,
        colour_intervention,
        folder: dir.to_path_buf(),
    })
}

/// Hard-test images of `digit` the model gets wrong (indices into the split).
fn misclassified(acts: &ModelActivations, digit: Option<usize>) -> Vec<usize> {
    (0..acts.test.len())
        .filter(|&i| {
            let t = acts.test.labels[i];
            digit.is_none_or(|d| d == t) && acts.test_predictions[i] != t
        })
        .collect()
}

/// Probabilities of the images `idx` of the hard split, clean or spliced.
fn probs(
    model: &dyn Module,
    acts: &ModelActivations,
    sae: &Arc<Sae>,
    splice: Option<Splice>,
    data: &BiasedMnist,
    idx: &[usize],
    device: Device,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(crate::measure::eval::EVAL_BATCH) {
        let (x, _) = data.batch(Split::Hard, 0, chunk, Paint::DRAWN, device)?;
        out.extend(match &splice {
            None => crate::interp::attack::probabilities(model, &x)?,
            Some(s) => spliced_probabilities(model, &acts.layer, sae, s.clone(), &x)?,
        });
    }
    Ok(out)
}

/// SPEC's experiment: scale `feature` by `factor` on the misclassified images of `digit`.
#[allow(clippy::too_many_arguments)]
fn intervene(
    model: &dyn Module,
    acts: &ModelActivations,
    sae: &Arc<Sae>,
    data: &BiasedMnist,
    digit: usize,
    feature: usize,
    factor: f32,
    device: Device,
) -> Result<Intervention> {
    let idx = misclassified(acts, Some(digit));
    let edit = |error_term| Splice::Edited {
        edit: Edit::Scale { feature, factor },
        error_term,
    };
    let before = probs(model, acts, sae, None, data, &idx, device)?;
    let after = probs(model, acts, sae, Some(edit(false)), data, &idx, device)?;
    let after_e = probs(model, acts, sae, Some(edit(true)), data, &idx, device)?;
    let delta = |a: &[Vec<f32>]| {
        100.0
            * a.iter()
                .zip(&before)
                .map(|(a, b)| (a[digit] - b[digit]) as f64)
                .sum::<f64>()
            / idx.len().max(1) as f64
    };
    let right = |a: &[Vec<f32>]| {
        a.iter()
            .filter(|p| crate::measure::stats::argmax(p) == digit)
            .count()
    };
    Ok(Intervention {
        digit,
        feature,
        factor,
        image: idx.first().copied(),
        predicted_before: idx.first().map(|&i| acts.test_predictions[i]),
        before: before.first().cloned().unwrap_or_default(),
        after: after.first().cloned().unwrap_or_default(),
        after_with_error: after_e.first().cloned().unwrap_or_default(),
        images: idx.len(),
        mean_delta_points: delta(&after),
        mean_delta_points_with_error: delta(&after_e),
        now_right: right(&after),
        now_right_with_error: right(&after_e),
    })
}

/// On every misclassified hard-test image (true digit t, painted another colour), set the
/// colour features to their mean under t's own colour (the colour table's row t) and keep
/// the error term; the control edits as many random live non-colour features the same way.
#[allow(clippy::too_many_arguments)]
fn colour_swap(
    model: &dyn Module,
    acts: &ModelActivations,
    sae: &Arc<Sae>,
    colour_features: &[usize],
    colour_table: &[Vec<f32>],
    classes: &[Reads],
    data: &BiasedMnist,
    device: Device,
    seed: u64,
) -> Result<Option<ColourIntervention>> {
    if colour_features.is_empty() {
        return Ok(None);
    }
    let others: Vec<usize> = (0..classes.len())
        .filter(|&j| matches!(classes[j], Reads::Digit | Reads::Mixed))
        .collect();
    let mut rng = Rng::new(seed, crate::rng::streams::SAE_CONTROL);
    let control: Vec<usize> = rng
        .permutation(others.len())
        .into_iter()
        .take(colour_features.len())
        .map(|i| others[i])
        .collect();
    let (mut images, mut p_before, mut p_after, mut right, mut control_right) = (0, 0.0, 0.0, 0, 0);
    for t in 0..10 {
        let idx = misclassified(acts, Some(t));
        if idx.is_empty() {
            continue;
        }
        let set = |features: &[usize]| Splice::Edited {
            edit: Edit::Set {
                features: features.to_vec(),
                values: features.iter().map(|&j| colour_table[t][j]).collect(),
            },
            error_term: true,
        };
        let before = probs(model, acts, sae, None, data, &idx, device)?;
        let after = probs(
            model,
            acts,
            sae,
            Some(set(colour_features)),
            data,
            &idx,
            device,
        )?;
        let ctl = probs(model, acts, sae, Some(set(&control)), data, &idx, device)?;
        images += idx.len();
        p_before += before.iter().map(|p| p[t] as f64).sum::<f64>();
        p_after += after.iter().map(|p| p[t] as f64).sum::<f64>();
        right += after
            .iter()
            .filter(|p| crate::measure::stats::argmax(p) == t)
            .count();
        control_right += ctl
            .iter()
            .filter(|p| crate::measure::stats::argmax(p) == t)
            .count();
    }
    Ok(Some(ColourIntervention {
        colour_features: colour_features.to_vec(),
        images,
        mean_p_true_before: p_before / images.max(1) as f64,
        mean_p_true_after: p_after / images.max(1) as f64,
        now_right: right,
        control_features: control.len(),
        control_now_right: control_right,
    }))
}

fn write_tables(dir: &Path, digit: &[Vec<f32>], colour: &[Vec<f32>]) -> Result<()> {
    let csv = |rows: &[Vec<f32>], names: &[String]| {
        let m = rows.first().map_or(0, Vec::len);
        let mut s = String::from("group");
        for j in 0..m {
            let _ = write!(s, ",f{j}");
        }
        s.push('\n');
        for (name, r) in names.iter().zip(rows) {
            s.push_str(name);
            for v in r {
                let _ = write!(s, ",{v}");
            }
            s.push('\n');
        }
        s
    };
    let digits: Vec<String> = (0..10).map(|d| format!("digit {d}")).collect();
    let colours: Vec<String> = COLOR_NAMES.iter().map(|c| c.to_string()).collect();
    super::write_atomic(&dir.join("digit_table.csv"), csv(digit, &digits).as_bytes())?;
    super::write_atomic(
        &dir.join("colour_table.csv"),
        csv(colour, &colours).as_bytes(),
    )
}

fn draw(
    dir: &Path,
    tlog: &TrainLog,
    digit: &[Vec<f32>],
    colour: &[Vec<f32>],
    most: &[usize],
    model: &str,
    cfg: &SaeConfig,
) -> Result<()> {
    let perr = |e: crate::plots::PlotError| Error::Invalid(e.to_string());
    if !tlog.loss.is_empty() {
        // On a log scale: the loss falls by orders of magnitude, and a linear axis shows only
        // the first two epochs.
        let log10 =
            |v: &[f64]| -> Vec<f32> { v.iter().map(|&x| x.max(1e-30).log10() as f32).collect() };
        let (loss, mse) = (log10(&tlog.loss), log10(&tlog.mse));
        line_chart_png(
            &dir.join("loss.png"),
            &format!("SAE training loss — {model}, {}", cfg.label()),
            "epoch",
            "log10 of the loss (mean over the epoch)",
            &[("total", &loss), ("MSE", &mse)],
            &[],
            None,
        )
        .map_err(perr)?;
    }
    let cols: Vec<String> = most.iter().map(|j| j.to_string()).collect();
    let pick = |t: &[Vec<f32>]| -> Vec<Vec<f32>> {
        t.iter()
            .map(|r| most.iter().map(|&j| r[j]).collect())
            .collect()
    };
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let colours: Vec<String> = COLOR_NAMES.iter().map(|c| c.to_string()).collect();
    heatmap_png(
        &dir.join("digits_top50.png"),
        &format!("mean SAE activation per digit — {model} (hard test; 50 most active features)"),
        "digit",
        "feature",
        &digits,
        &cols,
        &pick(digit),
        None,
        false,
        1,
    )
    .map_err(perr)?;
    heatmap_png(
        &dir.join("colours_top50.png"),
        &format!("mean SAE activation per painted colour — {model} (hard test; same features)"),
        "colour",
        "feature",
        &colours,
        &cols,
        &pick(colour),
        None,
        false,
        1,
    )
    .map_err(perr)
}

/// How much of Task 6 to run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Task6Config {
    /// SAE epochs (SPEC: 100).
    pub epochs: usize,
    /// Also train the sum-L1, decoder-norm-weighted and TopK SAEs on the lazy model.
    pub variants: bool,
}

impl Task6Config {
    pub const DEFAULT: Task6Config = Task6Config {
        epochs: 100,
        variants: true,
    };
    /// A smoke run: every analysis, three epochs.
    pub const QUICK: Task6Config = Task6Config {
        epochs: 3,
        variants: true,
    };
}

/// Task 6 over the study's models.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Task6 {
    pub config: Task6Config,
    /// SPEC's SAE on each model's layer, the lazy model first, then the robust ones.
    pub main: Vec<SaeAnalysis>,
    /// Other SAEs on the lazy model (sum L1, decoder-norm-weighted, TopK).
    pub variants: Vec<SaeAnalysis>,
}

/// SPEC's SAE settings for a layer of width `d` (a 4× overcomplete dictionary).
pub fn spec_config(d: usize, epochs: usize) -> SaeConfig {
    SaeConfig {
        width: 4 * d,
        epochs,
        ..SaeConfig::SPEC
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Run Task 6 on `models` ((label, kind, model), the lazy model first) into `out`.
pub fn run(
    models: &[(String, ModelKind, &dyn Module)],
    data: &BiasedMnist,
    cfg: Task6Config,
    limit: Option<usize>,
    device: Device,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Task6> {
    let (mut main, mut variants) = (Vec::new(), Vec::new());
    for (i, (label, kind, model)) in models.iter().enumerate() {
        let layer = sae_layer(*kind);
        log(&format!("  {label}: activations of '{layer}'"));
        let acts = model_activations(*model, layer, data, limit, device)?;
        let dir = out.join(slug(label));
        let spec = spec_config(acts.train.d_in(), cfg.epochs);
        let a = analyze(
            *model,
            label,
            &acts,
            &spec,
            data,
            device,
            &dir.join("spec"),
            log,
        )?;
        log(&format!(
            "    MSE {:.2e}, explained variance {:.2} % (SPEC's formula), L0 {:.1} of {}, {} dead; {:.2} s/epoch",
            a.test.mse,
            100.0 * a.test.explained_variance_spec,
            a.test.l0,
            spec.width,
            a.test.dead,
            a.seconds_per_epoch
        ));
        if i == 0 && cfg.variants {
            let sum = SaeConfig {
                l1: crate::interp::sae::L1Form::Sum,
                ..spec
            };
            let s = analyze(
                *model,
                label,
                &acts,
                &sum,
                data,
                device,
                &dir.join("sum"),
                log,
            )?;
            let k = (s.test.l0.round() as usize).clamp(1, spec.width);
            let norm = SaeConfig {
                decoder_norm: true,
                ..sum
            };
            let topk = SaeConfig {
                kind: crate::interp::sae::SaeKind::TopK(k),
                ..spec
            };
            variants.push(s);
            variants.push(analyze(
                *model,
                label,
                &acts,
                &norm,
                data,
                device,
                &dir.join("sum-decoder-norm"),
                log,
            )?);
            variants.push(analyze(
                *model,
                label,
                &acts,
                &topk,
                data,
                device,
                &dir.join(format!("topk-{k}")),
                log,
            )?);
        }
        main.push(a);
    }
    Ok(Task6 {
        config: cfg,
        main,
        variants,
    })
}

fn pct(v: f64) -> String {
    format!("{:.1}", v)
}

fn probs_cell(p: &[f32], digit: usize) -> String {
    match p.get(digit) {
        Some(v) => format!(
            "{:.1} % (predicts {})",
            100.0 * v,
            crate::measure::stats::argmax(p)
        ),
        None => "—".to_string(),
    }
}

/// The SAE's loss in words.
fn loss_words(c: &SaeConfig) -> String {
    match c.kind {
        crate::interp::sae::SaeKind::TopK(k) => format!(
            "only each sample's k = {k} largest pre-activations kept (a TopK SAE), loss MSE alone"
        ),
        crate::interp::sae::SaeKind::Relu => format!(
            "loss MSE + λ·S(h) with λ = {}, S = {}{}",
            c.lambda,
            match c.l1 {
                crate::interp::sae::L1Form::Mean => {
                    "the mean of |h| over batch and features (the form that reproduces the report's dense code)"
                }
                crate::interp::sae::L1Form::Sum =>
                    "the sum of |h| over features, averaged over the batch",
            },
            if c.decoder_norm {
                ", each |hⱼ| weighted by its decoder column's norm"
            } else {
                ""
            }
        ),
    }
}

/// The report's Task 6 section (also `shortcut sae`'s page, with one analysis).
pub fn section_html(t: &Task6) -> Result<String> {
    let mut h = String::new();
    let Some(lazy) = t.main.first() else {
        return Ok(h);
    };
    let c = &lazy.config;
    let _ = write!(
        h,
        "<h2 id=\"task6\">Task 6 — sparse autoencoders</h2><p>An SAE rewrites the {d} values of <code>{layer}</code> \
of <b>{model}</b> as a code of {m} non-negative features: encoder Linear({d}→{m}) + ReLU, \
decoder Linear({m}→{d}), {loss}, Adam {lr}, batch {b}, {e} epochs, on the {n} train-split activations \
collected once through a forward hook. Every table below is measured on the {nt} hard-test images, where each \
digit wears one of the nine colours that are not its own, uniformly, so colour no longer predicts the digit and \
per-digit and per-colour means can be told apart.</p>",
        d = lazy.d_in,
        layer = esc(&lazy.layer),
        model = esc(&lazy.model),
        m = c.width,
        loss = loss_words(c),
        lr = c.lr,
        b = c.batch,
        e = c.epochs,
        n = lazy.train_samples,
        nt = lazy.test_samples
    );
    let amp = lazy.interventions.first();
    let sup = lazy.interventions.get(1);
    let point = |i: Option<&Intervention>| {
        i.and_then(|i| {
            let b = i.before.get(i.digit)?;
            let a = i.after.get(i.digit)?;
            Some(format!("{:+.1} points", 100.0 * (a - b)))
        })
        .unwrap_or_else(|| "— (no misclassified image)".to_string())
    };
    let _ = write!(
        h,
        "<table><tr><th>{model}</th><th>ours</th><th>report (its lazy model)</th></tr>\
<tr><td>reconstruction MSE</td><td>{:.2e}</td><td>{REFERENCE_MSE}</td></tr>\
<tr><td>explained variance, SPEC's 1 − ΣVar(x−x̂)/ΣVar(x)</td><td>{:.2} %</td><td>{REFERENCE_EV_PCT} %</td></tr>\
<tr><td>explained variance, 1 − E‖x−x̂‖²/total variance</td><td>{:.2} %</td><td>—</td></tr>\
<tr><td>active features per sample (L0)</td><td>{:.1} of {} ({:.1} %)</td><td>{REFERENCE_L0} of 256 (70.1 %)</td></tr>\
<tr><td>dead features (never active)</td><td>{}</td><td>—</td></tr>\
<tr><td>digit 0's top feature ×3 on a misclassified 0: p(0)</td><td>{}</td><td>+{REFERENCE_AMPLIFY_POINTS} points</td></tr>\
<tr><td>digit 3's top feature ×0 on a misclassified 3: p(3)</td><td>{}</td><td>+{REFERENCE_SUPPRESS_POINTS} points</td></tr>\
<tr><td>training time</td><td>{}</td><td>—</td></tr></table>",
        lazy.test.mse,
        100.0 * lazy.test.explained_variance_spec,
        100.0 * lazy.test.explained_variance,
        lazy.test.l0,
        c.width,
        100.0 * lazy.test.density,
        lazy.test.dead,
        point(amp),
        point(sup),
        if lazy.train.loss.is_empty() {
            "— (a saved SAE, not trained here)".to_string()
        } else {
            format!("{:.2} s / epoch", lazy.seconds_per_epoch)
        },
        model = esc(&lazy.model),
    );
    // Top-5 per digit.
    h.push_str("<h3>Top 5 features per digit</h3><table><tr><th>digit</th><th>features (mean activation)</th></tr>");
    for (d, row) in lazy.top5.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|(j, v)| format!("{j} ({v:.2})")).collect();
        let _ = write!(h, "<tr><td>{d}</td><td>{}</td></tr>", cells.join(", "));
    }
    let (f, k) = lazy.most_shared_feature;
    let _ = write!(
        h,
        "</table><p>Feature {f} is in the top 5 of {k} of the 10 digits (the report's feature 118: 9 of 10). \
The heatmaps show the 50 most active features' mean activation per digit and, for the same features, per painted colour.</p>"
    );
    h.push_str(&img(&lazy.folder.join("digits_top50.png"), "per digit")?);
    h.push_str(&img(
        &lazy.folder.join("colours_top50.png"),
        "per painted colour",
    )?);
    if !lazy.train.loss.is_empty() {
        h.push_str(&img(&lazy.folder.join("loss.png"), "training loss")?);
    }

    // Interventions.
    h.push_str(&interventions_html(lazy));

    // Lazy vs robust.
    if t.main.len() > 1 {
        h.push_str(&lazy_vs_robust_html(t));
    }
    h.push_str(&colour_html(t));
    h.push_str(&spliced_html(t));
    if !t.variants.is_empty() {
        h.push_str(&variants_html(t));
    }
    Ok(h)
}

fn interventions_html(a: &SaeAnalysis) -> String {
    let mut h = String::from(
        "<h3>Interventions through a forward hook</h3><p>The hook replaces the layer's output by the decoder's \
reconstruction of an edited code — without the error term (the model then also runs on whatever the SAE fails \
to reconstruct) and with it (x − x̂ added back, so only the edit changes the output, as SAELens does). The hook \
is removed afterwards. One image (the first misclassified one, as the report), then the mean over all \
misclassified hard-test images of the digit.</p><table><tr><th>edit</th><th>image</th><th>before</th>\
<th>after (no error term)</th><th>after (error term)</th><th>all misclassified: Δp, no error term / error term</th>\
<th>now right</th></tr>",
    );
    for i in &a.interventions {
        let _ = write!(
            h,
            "<tr><td>feature {} × {} (digit {}'s top)</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td>{:+.1} / {:+.1} points over {}</td><td>{} / {}</td></tr>",
            i.feature,
            i.factor,
            i.digit,
            i.image.map_or("none wrong".to_string(), |x| format!("hard #{x}")),
            probs_cell(&i.before, i.digit),
            probs_cell(&i.after, i.digit),
            probs_cell(&i.after_with_error, i.digit),
            i.mean_delta_points,
            i.mean_delta_points_with_error,
            i.images,
            i.now_right,
            i.now_right_with_error
        );
    }
    h.push_str("</table>");
    h
}

fn lazy_vs_robust_html(t: &Task6) -> String {
    let mut h = String::from(
        "<h3>Lazy vs robust</h3><p>The same SAE (4× overcomplete) on each model. SPEC's per-feature scores over \
the digit table — selectivity (max digit mean − mean of the other digits) / max digit mean, and the entropy \
(nats, 0 … ln 10 = 2.30) of the feature's distribution over digits — averaged over live features; and, beyond \
the report, the same scores over the colour table and how many features colour or digit explains (η² ≥ 0.5 on \
the hard split).</p><table><tr><th>model (layer)</th><th>digit selectivity</th><th>digit entropy</th>\
<th>density</th><th>colour selectivity</th><th>colour entropy</th><th>features reading colour / digit / \
neither / constant</th></tr>",
    );
    for a in &t.main {
        let _ = write!(
            h,
            "<tr><td>{} (<code>{}</code>, {}→{})</td><td>{:.3}</td><td>{:.3}</td><td>{:.1} %</td><td>{:.3}</td><td>{:.3}</td>\
<td>{} / {} / {} / {}</td></tr>",
            esc(&a.model),
            esc(&a.layer),
            a.d_in,
            a.config.width,
            a.digit_scores.selectivity,
            a.digit_scores.entropy,
            100.0 * a.test.density,
            a.colour_scores.selectivity,
            a.colour_scores.entropy,
            a.reads.colour,
            a.reads.digit,
            a.reads.mixed,
            a.reads.constant
        );
    }
    let _ = write!(
        h,
        "<tr><td>report: lazy / robust</td><td>{} / {}</td><td>{} / {}</td><td>{} / {} %</td><td>—</td><td>—</td><td>—</td></tr></table>",
        REFERENCE_SELECTIVITY.0,
        REFERENCE_SELECTIVITY.1,
        REFERENCE_ENTROPY.0,
        REFERENCE_ENTROPY.1,
        REFERENCE_DENSITY_PCT.0,
        REFERENCE_DENSITY_PCT.1
    );
    // The report's robust model is method 1, colour consistency, on the same architecture.
    let lazy = &t.main[0];
    let robust = t.main[1..]
        .iter()
        .find(|a| a.model.starts_with("consistency") && a.layer == lazy.layer);
    let more = |a: f64, b: f64| if b > a { "higher" } else { "lower" };
    if let Some(robust) = robust {
        let _ = write!(
        h,
        "<p>Measured: the robust model's ({}) features have {} digit selectivity ({:.2} vs {:.2}) and {} digit entropy \
({:.2} vs {:.2}) than the lazy model's — the report found higher selectivity and lower entropy for the robust \
model. The lazy model's features are {} colour-selective ({:.2}) than digit-selective ({:.2}); {} of its live \
features read colour, against {} of the robust model's.</p>",
        esc(&robust.model),
        more(lazy.digit_scores.selectivity, robust.digit_scores.selectivity),
        robust.digit_scores.selectivity,
        lazy.digit_scores.selectivity,
        more(lazy.digit_scores.entropy, robust.digit_scores.entropy),
        robust.digit_scores.entropy,
        lazy.digit_scores.entropy,
        if lazy.colour_scores.selectivity > lazy.digit_scores.selectivity { "more" } else { "less" },
        lazy.colour_scores.selectivity,
        lazy.digit_scores.selectivity,
        lazy.reads.colour,
        robust.reads.colour
    );
    }
    for a in &t.main[1..] {
        if let Ok(s) = img(
            &a.folder.join("digits_top50.png"),
            &format!("{} — per digit", a.model),
        ) {
            h.push_str(&s);
        }
    }
    h
}

fn colour_html(t: &Task6) -> String {
    let mut h = String::from(
        "<h3>Colour features and a colour-only intervention (beyond the report)</h3><p>On every misclassified \
hard-test image (digit t painted in another digit's colour), the colour features — those whose variance the \
painted colour explains (η² ≥ 0.5, more than the digit does) — are set to their mean under t's own colour, \
nothing else is touched, and the error term is kept. The control sets as many randomly chosen live non-colour \
features (all of them, if there are fewer) the same way.</p><table><tr><th>model</th><th>colour features</th><th>images</th><th>mean p(true) \
before → after</th><th>now right</th><th>control: now right</th></tr>",
    );
    for a in &t.main {
        match &a.colour_intervention {
            Some(c) => {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1} % → {:.1} %</td><td>{} ({:.1} %)</td><td>{} ({:.1} %) with {} features</td></tr>",
                    esc(&a.model),
                    c.colour_features.len(),
                    c.images,
                    100.0 * c.mean_p_true_before,
                    100.0 * c.mean_p_true_after,
                    c.now_right,
                    100.0 * c.now_right as f64 / c.images.max(1) as f64,
                    c.control_now_right,
                    100.0 * c.control_now_right as f64 / c.images.max(1) as f64,
                    c.control_features
                );
            }
            None => {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>0</td><td colspan=\"4\">no feature reads colour: nothing to edit</td></tr>",
                    esc(&a.model)
                );
            }
        }
    }
    h.push_str("</table>");
    h
}

fn spliced_html(t: &Task6) -> String {
    let mut h = String::from(
        "<h3>Spliced-in accuracy (beyond the report)</h3><p>The model with the SAE's reconstruction in place of \
the layer (no error term), against the clean model, zero-ablation (the layer outputs zeros) and mean-ablation \
(every output replaced by its train-split mean). Recovered = (SAE − zero) / (clean − zero), for accuracy and \
for cross-entropy.</p><table><tr><th>model, SAE</th><th>split</th><th>clean</th><th>SAE</th><th>zero-ablated</th>\
<th>mean-ablated</th><th>accuracy recovered</th><th>CE recovered</th></tr>",
    );
    for a in t.main.iter().chain(&t.variants) {
        for s in &a.spliced {
            let _ = write!(
                h,
                "<tr><td>{}, {}</td><td>{}</td><td>{} %</td><td>{} %</td><td>{} %</td><td>{} %</td><td>{:.3}</td><td>{:.3}</td></tr>",
                esc(&a.model),
                esc(&a.label),
                s.split,
                pct(s.clean.accuracy),
                pct(s.sae.accuracy),
                pct(s.zero_ablation.accuracy),
                pct(s.mean_ablation.accuracy),
                s.accuracy_recovered,
                s.ce_recovered
            );
        }
    }
    h.push_str("</table>");
    h
}

fn variants_html(t: &Task6) -> String {
    let mut h = String::from(
        "<h3>Other SAEs on the lazy model (beyond the report)</h3><p>The per-sample <code>sum</code> L1 \
(256× stronger at the same λ), the same with each feature's |h| weighted by its decoder column's norm (so the \
penalty cannot be dodged by shrinking h and growing the decoder), and a TopK SAE whose k is the sum-L1 SAE's \
L0 (sparsity set by k, trained on the MSE alone).</p><table><tr><th>SAE</th><th>MSE</th><th>EV (SPEC)</th>\
<th>EV</th><th>L0</th><th>dead</th><th>hard acc. spliced</th><th>digit selectivity</th><th>colour / digit \
features</th><th>s / epoch</th></tr>",
    );
    for a in t.main.first().into_iter().chain(&t.variants) {
        let hard = a.spliced.first().map_or(f64::NAN, |s| s.sae.accuracy);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.2e}</td><td>{:.2} %</td><td>{:.2} %</td><td>{:.1}</td><td>{}</td><td>{:.1} %</td>\
<td>{:.3}</td><td>{} / {}</td><td>{:.2}</td></tr>",
            esc(&a.label),
            a.test.mse,
            100.0 * a.test.explained_variance_spec,
            100.0 * a.test.explained_variance,
            a.test.l0,
            a.test.dead,
            hard,
            a.digit_scores.selectivity,
            a.reads.colour,
            a.reads.digit,
            a.seconds_per_epoch
        );
    }
    h.push_str("</table>");
    h
}

/// `shortcut sae`'s request.
pub struct SaeRequest<'a> {
    pub layer: Option<&'a str>,
    pub config: SaeConfig,
    /// Width given by the user (else 4× the layer's).
    pub width: Option<usize>,
    /// Evaluate this saved SAE instead of training one.
    pub load: Option<&'a Path>,
    pub limit: Option<usize>,
}

/// The widest layer an SAE here decomposes: one vector per image, so a convolution's whole
/// feature map (LazyCNN's 16×28×28 = 12,544 values) would make a 50,176-feature dictionary
/// of 1.3 billion weights.
pub const MAX_SAE_INPUT: usize = 2048;

/// `shortcut sae CHECKPOINT`: train (or load) an SAE on one model's layer, measure it, and
/// write `sae.safetensors`, `sae.json`, `sae.html`, the tables and the figures into `out`.
#[allow(clippy::too_many_arguments)]
pub fn sae_checkpoint(
    model: &dyn Module,
    kind: ModelKind,
    model_label: &str,
    req: &SaeRequest,
    data: &BiasedMnist,
    device: Device,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<SaeAnalysis> {
    let layer = req.layer.unwrap_or(sae_layer(kind));
    // Width of the layer, from one image, before any long work.
    let (_, probe) = crate::measure::capture::layer_output(
        model,
        layer,
        &data.batch(Split::Hard, 0, &[0], Paint::DRAWN, device)?.0,
    )?;
    let d = probe.numel();
    if d > MAX_SAE_INPUT {
        return Err(Error::Invalid(format!(
            "layer '{layer}' has {d} values per image ({}): an SAE here reads one vector of at most {MAX_SAE_INPUT} \
units per image; choose a Linear or pooled layer (the default for this model is '{}')",
            probe.shape(),
            sae_layer(kind)
        )));
    }
    // A saved SAE brings its own settings (the flags that shape training do not apply to it);
    // the file is checked against the layer before anything is collected.
    let loaded = match req.load {
        Some(path) => {
            let (sae, saved) = Sae::load(path, layer, d, device)?;
            let cfg = saved.unwrap_or(SaeConfig {
                width: sae.width(),
                kind: sae.kind,
                ..req.config
            });
            Some((Arc::new(sae), cfg))
        }
        None => None,
    };
    let cfg = match &loaded {
        Some((_, c)) => *c,
        None => SaeConfig {
            width: req.width.unwrap_or(4 * d),
            ..req.config
        },
    };
    cfg.validate(d)?;
    log(&format!(
        "collecting '{layer}' ({d} units) on the train and hard splits"
    ));
    let acts = model_activations(model, layer, data, req.limit, device)?;
    let a = match &loaded {
        Some((sae, _)) => {
            std::fs::create_dir_all(out)
                .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
            measure(
                model,
                model_label,
                &acts,
                sae,
                &cfg,
                TrainLog::default(),
                data,
                device,
                out,
            )?
        }
        None => analyze(model, model_label, &acts, &cfg, data, device, out, log)?,
    };
    super::write_json(&out.join("sae.json"), &a)?;
    let t = Task6 {
        config: Task6Config {
            epochs: cfg.epochs,
            variants: false,
        },
        main: vec![a.clone()],
        variants: vec![],
    };
    let mut page = super::report::page_head(&format!("SAE — {model_label}"));
    page.push_str(&section_html(&t)?);
    page.push_str("</body></html>\n");
    super::write_atomic(&out.join("sae.html"), page.as_bytes())?;
    Ok(a)
}

/// Task 6's cost per model in its training steps (2-core CPU, 2026-11-30): (the SPEC's
/// settings, quick), for ShapeCNN and for the lazy model's unit, which trains four SAEs (the
/// SPEC's and three variants; another LazyCNN trains one: a quarter of this).
const COST_STEPS_SHAPE: (f64, f64) = (1100.0, 250.0);
const COST_STEPS_LAZY: (f64, f64) = (140000.0, 4000.0);

/// The models Task 6 decomposes, of `models`: the lazy model first (the SPEC's SAE), then
/// method 1 (the report's robust model), then the ShapeCNNs.
pub fn chosen_models(models: &[ModelRef]) -> Vec<ModelRef> {
    let wanted = [
        (ModelKind::Lazy, "plain"),
        (ModelKind::Lazy, "consistency"),
        (ModelKind::Shape, "plain"),
        (ModelKind::Shape, "consistency"),
    ];
    wanted
        .iter()
        .filter_map(|(k, meth)| models.iter().find(|m| m.kind == *k && m.method == *meth))
        .cloned()
        .collect()
}

/// Task 6 in the study: one analysis unit over the lazy model, method 1 and the ShapeCNNs.
pub struct SaeTask;

impl Task for SaeTask {
    fn id(&self) -> TaskId {
        TaskId::Sae
    }

    fn title(&self) -> &'static str {
        "sparse autoencoders"
    }

    fn needs(&self) -> &'static [TaskId] {
        &[TaskId::Shortcut, TaskId::Debias]
    }

    fn units(&self, s: &Setup) -> Result<Vec<Unit>> {
        let config = s
            .cfg
            .profile
            .pick((Task6Config::DEFAULT, Task6Config::QUICK));
        let reads = chosen_models(&s.models);
        let cost = reads
            .iter()
            .enumerate()
            .map(|(i, m)| match (i, m.kind) {
                (_, ModelKind::Shape) => {
                    s.analysis_cost(m.kind, s.cfg.profile.pick(COST_STEPS_SHAPE))
                }
                (0, _) => s.analysis_cost(m.kind, s.cfg.profile.pick(COST_STEPS_LAZY)),
                _ => s.analysis_cost(m.kind, s.cfg.profile.pick(COST_STEPS_LAZY)) / 4.0,
            })
            .sum();
        let names = (self.id().key(), "sparse autoencoders".to_string());
        Ok(vec![s.analysis(
            self.id(),
            names,
            to_value(config)?,
            reads,
            cost,
        )])
    }

    fn analyse(
        &self,
        _unit: &Unit,
        inputs: &Inputs,
        dir: &Path,
        log: &mut dyn FnMut(&str),
    ) -> Result<serde_json::Value> {
        let cfg = inputs.cfg;
        let config = cfg.profile.pick((Task6Config::DEFAULT, Task6Config::QUICK));
        let decomposed: Vec<(String, ModelKind, &dyn Module)> = inputs
            .models
            .iter()
            .map(|(m, model)| (m.label.clone(), m.kind, *model))
            .collect();
        let t6 = run(
            &decomposed,
            inputs.data,
            config,
            cfg.limit,
            cfg.device,
            dir,
            log,
        )?;
        to_value(t6)
    }

    fn result(&self, done: &Finished) -> Result<serde_json::Value> {
        // Read as its type and written again: its numbers print as their type prints them.
        to_value(done.board.analysis::<Task6>(&self.id().key())?)
    }

    fn section(&self, r: &StudyResults, _out: &Path) -> Result<String> {
        section_of(r, self.id(), |t: Task6| section_html(&t))
    }
}
