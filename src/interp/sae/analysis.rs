//! One model's sparse autoencoder, measured: the activations it reads, its training, the
//! SPEC's tables (mean activation per digit and per painted colour), which features read
//! colour, the SAE spliced back into the model, and the interventions that edit its code.
//! Both the study's Task 6 (`study/task6.rs`, over several models) and `shortcut sae` (one
//! checkpoint, [`sae_checkpoint`]) run this; neither draws a page here.
//!
//! Tables are measured on the hard test split: there, every digit is painted in one of the nine
//! colours that are not its own, uniformly, so colour no longer predicts the digit and a
//! feature's mean activation per digit and per colour can be told apart.

use super::metrics::{
    eta_squared, feature_scores, group_means, most_active, reads, reconstruction, top_features,
    FeatureScores, Reads, Reconstruction,
};
use super::splice::{spliced_probabilities, spliced_scores, Edit, Splice, SplicedScores};
use super::{collect, encode_all, train, Activations, Sae, SaeConfig, TrainLog};
use crate::data::{BiasedMnist, Paint, Split, COLOR_NAMES};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::nn::Module;
use crate::plots::{heatmap_png, line_chart_png};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The layer an SAE decomposes: LazyCNN's first Linear after its ReLU (SPEC), ShapeCNN's
/// pooled channels, AttentionCNN's attention-pooled channels (the features their classifier
/// reads; neither has a hidden Linear), the MLP's last hidden layer (the 100 features its
/// classifier reads).
pub fn sae_layer(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Lazy => "classifier.2",
        ModelKind::Shape => "pool",
        ModelKind::Attention => "attention",
        ModelKind::Mlp => "feature",
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
    let n = |s| crate::measure::eval::split_len(data, s, limit);
    let train = collect(model, layer, data, Split::Train, n(Split::Train), device)?;
    let test = collect(model, layer, data, Split::Hard, n(Split::Hard), device)?;
    let test_predictions =
        crate::measure::eval::predict_split(model, data, Split::Hard, n(Split::Hard), device)?;
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
    crate::files::write_atomic(&dir.join("digit_table.csv"), csv(digit, &digits).as_bytes())?;
    crate::files::write_atomic(
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

/// SPEC's SAE settings for a layer of width `d` (a 4× overcomplete dictionary).
pub fn spec_config(d: usize, epochs: usize) -> SaeConfig {
    SaeConfig {
        width: 4 * d,
        epochs,
        ..SaeConfig::SPEC
    }
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
/// write `sae.safetensors`, `sae.json`, the tables and the figures into `out` (the page,
/// `sae.html`, is the study's Task 6 section on this one SAE: `study::task6::sae_page`).
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
    crate::files::write_json(&out.join("sae.json"), &a)?;
    Ok(a)
}
