//! Grad-CAM (Selvaraju et al. 2017, SPEC Task 3), built from one forward hook and one gradient
//! hook on the target layer.
//!
//! For image b and its class c_b, with A the target layer's output [K, h, w]:
//!
//! ```text
//! α_k  = mean over (i, j) of ∂y_c/∂A_k,i,j           (how much channel k matters for c)
//! cam  = ReLU(Σ_k α_k · A_k)                        [h, w]
//! cam ← (cam − min) / (max − min)                   per image; all zero if max = min
//! cam ← bilinear upsample to 28×28
//! ```
//!
//! How the hooks do it: the model's parameters are frozen and the input needs no gradient, so
//! nothing below the target layer is differentiated at all. The forward hook replaces the
//! layer's output by a detached copy that requires a gradient — a leaf of a new, short graph
//! from the layer to the logits — keeps it, and registers a gradient hook on it that keeps
//! ∂(Σ_b y_b,c_b)/∂A when backward arrives. Summing the chosen logits over the batch gives every
//! image its own gradient in one backward (images do not interact). Both hooks are removed
//! before [`grad_cam`] returns.

use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::measure::stats::{argmax, spearman};
use crate::nn::{freeze, get_submodule, named_modules, Module};
use crate::tensor::Tensor;
use std::sync::{Arc, Mutex};

/// Grad-CAMs of a batch.
#[derive(Clone, Debug)]
pub struct CamBatch {
    /// `cams[b]`: 28×28 values in [0, 1], row-major.
    pub cams: Vec<Vec<f32>>,
    /// Softmax probabilities `[b][class]`.
    pub probs: Vec<Vec<f32>>,
    /// The class each CAM explains.
    pub classes: Vec<usize>,
    /// True where ReLU left nothing (no positive evidence for the class): the CAM is all zero.
    pub empty: Vec<bool>,
}

impl CamBatch {
    /// The model's predicted class per image.
    pub fn predicted(&self) -> Vec<usize> {
        self.probs.iter().map(|p| argmax(p)).collect()
    }
}

/// Grad-CAM of one image (`shortcut gradcam`).
#[derive(Clone, Debug)]
pub struct OneCam {
    /// The class the model predicts, and its probability.
    pub predicted: usize,
    pub probability: f32,
    /// The class the CAM explains (the one asked for, else the predicted one).
    pub class: usize,
    /// 28×28 values in [0, 1], row-major.
    pub cam: Vec<f32>,
    /// No positive evidence for the class: the CAM is all zero.
    pub empty: bool,
    /// The fraction of pixels holding 80 % of the CAM (`None` for an empty CAM).
    pub ratio: Option<f32>,
}

/// Grad-CAM of the one image `x` ([1, 3, 28, 28]) at `layer`, of `class` or, without one, of
/// the class the model predicts.
pub fn grad_cam_one(
    model: &dyn Module,
    layer: &str,
    x: &Tensor,
    class: Option<usize>,
) -> Result<OneCam> {
    let logits = no_grad(|| model.forward(x))?;
    let predicted = crate::measure::eval::predictions(&logits)?[0];
    let class = class.unwrap_or(predicted);
    let mut b = grad_cam(model, layer, x, &[class])?;
    let cam = b.cams.swap_remove(0);
    Ok(OneCam {
        predicted,
        probability: b.probs[0][predicted],
        class,
        ratio: concentration_ratio(&cam, 0.8),
        cam,
        empty: b.empty[0],
    })
}

/// Grad-CAM of `x` ([N, 3, 28, 28]) for class `classes[b]` of image b, at the conv layer named
/// `layer`. The model is left with the hooks removed and its parameters' flags restored.
pub fn grad_cam(
    model: &dyn Module,
    layer: &str,
    x: &Tensor,
    classes: &[usize],
) -> Result<CamBatch> {
    let n = x.dim(0);
    if classes.len() != n {
        return Err(Error::Invalid(format!(
            "Grad-CAM needs one class per image: {} classes for {n} images",
            classes.len()
        )));
    }
    let target = get_submodule(model, layer)?;
    let _frozen = freeze(model)?;
    let was_training = model.is_training();
    model.set_training(false);

    type Kept = Arc<Mutex<Option<Tensor>>>;
    let (activation, gradient): (Kept, Kept) = Default::default();
    let (a_sink, g_sink) = (activation.clone(), gradient.clone());
    let handle = target.hooks().add(move |_, out| {
        let a = out.detach().requires_grad_(true)?;
        let g_sink = g_sink.clone();
        a.register_grad_hook(move |g| {
            *g_sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(g.clone());
            Ok(None)
        })?;
        *a_sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(a.clone());
        Ok(Some(a))
    });
    let ran = forward_backward(model, x, classes);
    handle.remove();
    model.set_training(was_training);
    let logits = ran?;

    let take = |k: &Kept, what: &str| {
        k.lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| Error::Invalid(format!("Grad-CAM: layer '{layer}' {what}")))
    };
    let a = take(&activation, "was not run by the model")?;
    let g = take(&gradient, "received no gradient from the logits")?;
    let (_, k, h, w) = a.shape().nchw().ok_or_else(|| {
        Error::Invalid(format!(
            "Grad-CAM needs a convolution's [N, C, H, W] output; layer '{layer}' gives {}",
            a.shape()
        ))
    })?;
    let raw = no_grad(|| -> Result<Tensor> {
        let alpha = g.reshape([n, k, h * w])?.mean(2, true)?; // [N, K, 1]
        a.reshape([n, k, h * w])?.mul(&alpha)?.sum(1, false)?.relu() // [N, h·w]
    })?;
    let (cams, empty) = normalize_and_upsample(&raw.to_vec()?, n, h, w)?;
    let probs = no_grad(|| logits.softmax())?.to_vec()?;
    let classes_n = probs.len() / n.max(1);
    Ok(CamBatch {
        cams,
        probs: probs.chunks(classes_n.max(1)).map(|c| c.to_vec()).collect(),
        classes: classes.to_vec(),
        empty,
    })
}

/// Forward with recording on, then backward from Σ_b logits[b, c_b]; returns the logits.
fn forward_backward(model: &dyn Module, x: &Tensor, classes: &[usize]) -> Result<Tensor> {
    let logits = model.forward(x)?;
    let (n, c) = (logits.dim(0), logits.dim(1));
    if let Some(&bad) = classes.iter().find(|&&k| k >= c) {
        return Err(Error::Invalid(format!(
            "class {bad} is out of range: the model has {c} classes (0–{})",
            c - 1
        )));
    }
    let mut onehot = vec![0.0f32; n * c];
    for (b, &k) in classes.iter().enumerate() {
        onehot[b * c + k] = 1.0;
    }
    let onehot = Tensor::from_vec(onehot, [n, c], logits.device())?;
    logits.mul(&onehot)?.sum_all()?.backward()?;
    Ok(logits.detach())
}

/// Min–max normalize each h×w map, then upsample it bilinearly to 28×28.
fn normalize_and_upsample(
    raw: &[f32],
    n: usize,
    h: usize,
    w: usize,
) -> Result<(Vec<Vec<f32>>, Vec<bool>)> {
    let mut norm = Vec::with_capacity(raw.len());
    let mut empty = Vec::with_capacity(n);
    for m in raw.chunks(h * w) {
        let lo = m.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        empty.push(hi <= lo || hi.is_nan());
        norm.extend(
            m.iter()
                .map(|&v| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 }),
        );
    }
    let up = Tensor::from_vec(norm, [n, 1, h, w], crate::device::Device::Cpu)?
        .upsample_bilinear2d(28, 28)?
        .to_vec()?;
    Ok((up.chunks(784).map(|c| c.to_vec()).collect(), empty))
}

/// SPEC's concentration ratio: the fraction of pixels, taken from the largest down, needed to
/// hold `mass` (0.8) of the map's total. Near 1: spread evenly; small: concentrated. `None`
/// for an all-zero map.
pub fn concentration_ratio(map: &[f32], mass: f32) -> Option<f32> {
    let total: f64 = map.iter().map(|&v| v.max(0.0) as f64).sum();
    if total <= 0.0 {
        return None;
    }
    let mut sorted: Vec<f32> = map.iter().map(|&v| v.max(0.0)).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut acc = 0.0f64;
    for (i, &v) in sorted.iter().enumerate() {
        acc += v as f64;
        // A relative slack of 1e-6 absorbs f32 `mass` (0.8 is 0.800000012 in f32).
        if acc >= mass as f64 * total * (1.0 - 1e-6) {
            return Some((i + 1) as f32 / map.len() as f32);
        }
    }
    Some(1.0)
}

/// Share of the map's mass on the stroke pixels (`stroke[i]` true). `None` for an all-zero map.
pub fn stroke_mass(map: &[f32], stroke: &[bool]) -> Option<f32> {
    let total: f64 = map.iter().map(|&v| v.max(0.0) as f64).sum();
    if total <= 0.0 {
        return None;
    }
    let on: f64 = map
        .iter()
        .zip(stroke)
        .filter(|(_, &s)| s)
        .map(|(&v, _)| v.max(0.0) as f64)
        .sum();
    Some((on / total) as f32)
}

/// The pointing game: is the map's maximum (the first, on ties) on the stroke?
/// `None` for an all-zero map (it points nowhere).
pub fn pointing_hit(map: &[f32], stroke: &[bool]) -> Option<bool> {
    let i = argmax(map);
    (map[i] > 0.0).then(|| stroke[i])
}

/// The stroke of a grey MNIST digit (bytes 0–255): pixels of intensity ≥ 128, i.e. ≥ 0.5 once
/// scaled to [0, 1] — the digit's core, without the anti-aliased rim.
pub fn stroke_mask(gray: &[u8]) -> Vec<bool> {
    gray.iter().map(|&g| g >= 128).collect()
}

/// One step of the randomization test: the layer re-randomized (with every layer above it).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RandomizationStep {
    pub layer: String,
    /// Mean over images of Spearman's ρ between the original and the randomized CAM.
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub mean_rank_correlation: f64,
    /// Images whose CAM was constant on one side (ρ undefined), left out of the mean.
    pub undefined: usize,
}

/// Model-parameter randomization test (Adebayo et al. 2018), cascading from the top: for each
/// parametrized layer from the last to the first, its parameters are replaced by those of
/// `fresh` (the same architecture, independently initialized), keeping the layers above
/// randomized too, and the CAMs are recomputed. A CAM that stays the same is not explaining
/// the model. `model`'s parameters are restored before returning.
pub fn randomization_test(
    model: &dyn Module,
    fresh: &dyn Module,
    layer: &str,
    x: &Tensor,
    classes: &[usize],
) -> Result<Vec<RandomizationStep>> {
    let original = grad_cam(model, layer, x, classes)?;
    let backup: Vec<(Tensor, Tensor)> = model
        .parameters()
        .into_iter()
        .map(|p| Ok((p.clone(), no_grad(|| p.mul_scalar(1.0))?)))
        .collect::<Result<_>>()?;
    let fresh_params: std::collections::HashMap<String, Tensor> =
        fresh.named_parameters().into_iter().collect();
    // Layers with parameters of their own (not only their children's), top layer first.
    let own = |m: &dyn Module| -> Vec<(String, Tensor)> {
        m.named_parameters()
            .into_iter()
            .filter(|(n, _)| !n.contains('.'))
            .collect()
    };
    let layers: Vec<String> = named_modules(model)
        .into_iter()
        .filter(|(_, m)| !own(*m).is_empty())
        .map(|(n, _)| n)
        .rev()
        .collect();
    let run = || -> Result<Vec<RandomizationStep>> {
        let mut steps = Vec::new();
        for name in &layers {
            for (p, t) in own(get_submodule(model, name)?) {
                let full = format!("{name}.{p}");
                let src = fresh_params.get(&full).ok_or_else(|| {
                    Error::Invalid(format!("the fresh model has no parameter '{full}'"))
                })?;
                t.assign(&src.to_device(t.device())?)?;
            }
            let now = grad_cam(model, layer, x, classes)?;
            let mut rhos = Vec::new();
            for (a, b) in original.cams.iter().zip(&now.cams) {
                let a: Vec<f64> = a.iter().map(|&v| v as f64).collect();
                let b: Vec<f64> = b.iter().map(|&v| v as f64).collect();
                if let Some(r) = spearman(&a, &b) {
                    rhos.push(r);
                }
            }
            steps.push(RandomizationStep {
                layer: name.clone(),
                mean_rank_correlation: crate::measure::stats::mean(&rhos),
                undefined: original.cams.len() - rhos.len(),
            });
        }
        Ok(steps)
    };
    let result = run();
    for (p, saved) in &backup {
        p.assign(saved)?;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concentration_ratio_of_uniform_and_peaked_maps() {
        // Uniform: 80 % of the mass needs 80 % of the pixels.
        assert!((concentration_ratio(&[1.0; 100], 0.8).unwrap() - 0.8).abs() < 1e-6);
        // One hot pixel holds everything: 1 pixel of 100.
        let mut peak = vec![0.0; 100];
        peak[7] = 3.0;
        assert!((concentration_ratio(&peak, 0.8).unwrap() - 0.01).abs() < 1e-6);
        // Mass 0.5, 0.3, 0.2: 0.8 is reached after two pixels of 4.
        let r = concentration_ratio(&[0.2, 0.5, 0.0, 0.3], 0.8).unwrap();
        assert!((r - 0.5).abs() < 1e-6);
        assert_eq!(concentration_ratio(&[0.0; 4], 0.8), None);
    }

    #[test]
    fn stroke_mass_and_pointing_game() {
        let map = [0.0, 1.0, 3.0, 0.0];
        let stroke = [false, true, false, false];
        assert!((stroke_mass(&map, &stroke).unwrap() - 0.25).abs() < 1e-6);
        assert_eq!(pointing_hit(&map, &stroke), Some(false));
        assert_eq!(pointing_hit(&[0.0, 2.0, 1.0, 0.0], &stroke), Some(true));
        assert_eq!(pointing_hit(&[0.0; 4], &stroke), None);
    }
}
