//! Feature visualization by activation maximization (SPEC Task 2.1 and 2.2): gradient ascent on
//! the input image to make one unit fire, with the model's parameters frozen.
//!
//! For image b and its unit k_b, the objective is the mean of channel k_b of the chosen output
//! over its positions (a class logit is the model output's channel k; a conv filter's mean
//! activation is its layer's channel k). Each step minimizes
//!
//! ```text
//! loss = Σ_b [ −objective_b + l2·Σ x_b² + tv·TV(x_b) ]
//! TV(x) = Σ |x[.., h, w] − x[.., h, w+1]| + Σ |x[.., h, w] − x[.., h+1, w]|
//! ```
//!
//! with Adam on the image, then clamps the image to [0, 1]. The images of a batch do not
//! interact (every term is per image, Adam is per element), so optimizing ten classes as one
//! batch of ten gives exactly the ten separate optimizations, in one forward and backward per
//! step. The parameters are frozen ([`crate::nn::freeze`]): backward computes ∂loss/∂x only.

use crate::autograd::no_grad;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::measure::capture;
use crate::nn::{freeze, Module};
use crate::optim::{Adam, Optimizer};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// Settings of one activation maximization.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct AmConfig {
    pub steps: usize,
    pub lr: f32,
    pub l2: f32,
    pub tv: f32,
    /// Seeds the initial noise: image b starts from 0.5 + N(0, 0.01²) drawn from stream b.
    pub seed: u64,
}

impl AmConfig {
    /// SPEC 2.1, class logits: Adam lr 0.05, 300 steps, L2 5e-5, TV 5e-3.
    pub const CLASS_LOGIT: AmConfig = AmConfig {
        steps: 300,
        lr: 0.05,
        l2: 5e-5,
        tv: 5e-3,
        seed: 0,
    };
    /// SPEC 2.2, first-layer filters: lr 0.1, 400 steps, L2 1e-4, TV 3e-3.
    pub const FILTER: AmConfig = AmConfig {
        steps: 400,
        lr: 0.1,
        l2: 1e-4,
        tv: 3e-3,
        seed: 0,
    };
}

/// The optimized images and how their objectives evolved.
pub struct Maximized {
    /// `[N, 3, 28, 28]`, in [0, 1].
    pub images: Tensor,
    /// `trace[step][b]`: image b's objective at the start of each step, then after the last.
    pub trace: Vec<Vec<f32>>,
}

impl Maximized {
    /// Each image as CHW values.
    pub fn image_vecs(&self) -> Result<Vec<Vec<f32>>> {
        let v = self.images.to_vec()?;
        let per = v.len() / self.images.dim(0).max(1);
        Ok(v.chunks(per).map(|c| c.to_vec()).collect())
    }
}

/// Maximize, for each b, the mean of channel `units[b]` of `layer`'s output (`None`: the
/// model's output, i.e. the logits) over 28×28 RGB images.
pub fn maximize(
    model: &dyn Module,
    layer: Option<&str>,
    units: &[usize],
    cfg: AmConfig,
    device: Device,
) -> Result<Maximized> {
    if units.is_empty() || cfg.steps == 0 || cfg.lr.is_nan() || cfg.lr <= 0.0 {
        return Err(Error::Invalid(
            "activation maximization needs ≥ 1 unit, ≥ 1 step and a positive learning rate".into(),
        ));
    }
    let _frozen = freeze(model)?;
    let n = units.len();
    let mut init = Vec::with_capacity(n * 3 * 784);
    for b in 0..n {
        let mut rng = Rng::new(cfg.seed, b as u32);
        init.extend((0..3 * 784).map(|_| (0.5 + 0.01 * rng.normal()).clamp(0.0, 1.0)));
    }
    let x = Tensor::from_vec(init, [n, 3, 28, 28], device)?.requires_grad_(true)?;
    let mut opt = Adam::new(vec![x.clone()], cfg.lr)?;
    let mut trace = Vec::with_capacity(cfg.steps + 1);
    for _ in 0..cfg.steps {
        crate::interrupt::check()?;
        opt.zero_grad();
        let objective = objective(model, layer, units, &x)?;
        trace.push(objective.to_vec()?);
        let loss = objective
            .sum_all()?
            .neg()?
            .add(&x.sqr()?.sum_all()?.mul_scalar(cfg.l2)?)?
            .add(&total_variation(&x)?.mul_scalar(cfg.tv)?)?;
        loss.backward()?;
        opt.step()?;
        no_grad(|| x.assign(&x.clamp(0.0, 1.0)?))?;
    }
    let last = no_grad(|| objective(model, layer, units, &x))?;
    trace.push(last.to_vec()?);
    Ok(Maximized {
        images: x.detach(),
        trace,
    })
}

/// `[N]`: image b's mean of channel `units[b]` of the output of `layer` (or of the model).
fn objective(
    model: &dyn Module,
    layer: Option<&str>,
    units: &[usize],
    x: &Tensor,
) -> Result<Tensor> {
    let out = match layer {
        None => model.forward(x)?,
        Some(name) => {
            let (slot, handle) = capture::keep_output(model, name)?;
            let ran = model.forward(x);
            handle.remove();
            ran?;
            capture::take(&slot, name)?
        }
    };
    let dims = out.dims().to_vec();
    let (n, c) = (dims[0], *dims.get(1).unwrap_or(&1));
    if let Some(&bad) = units.iter().find(|&&k| k >= c) {
        return Err(Error::Invalid(format!(
            "unit {bad} is out of range: the output has {c} channels (0–{})",
            c.saturating_sub(1)
        )));
    }
    let per = out.numel() / (n * c);
    let mut mask = vec![0.0f32; n * c];
    for (b, &k) in units.iter().enumerate() {
        mask[b * c + k] = 1.0 / per as f32;
    }
    let mut mask_dims = vec![n, c];
    mask_dims.extend(std::iter::repeat_n(1, dims.len().saturating_sub(2)));
    let mask = Tensor::from_vec(mask, mask_dims, out.device())?;
    out.mul(&mask)?.reshape([n, c * per])?.sum(1, false)
}

/// Anisotropic total variation of a [N, C, H, W] batch (summed over everything).
pub fn total_variation(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x
        .shape()
        .nchw()
        .ok_or_else(|| Error::shape_expected("total_variation", "[N, C, H, W]", x.shape()))?;
    let dx = x
        .slice(3, 0, w - 1)?
        .sub(&x.slice(3, 1, w - 1)?)?
        .abs()?
        .sum_all()?;
    let dy = x
        .slice(2, 0, h - 1)?
        .sub(&x.slice(2, 1, h - 1)?)?
        .abs()?
        .sum_all()?;
    dx.add(&dy)
}

/// Colour purity of an optimized image (CHW, 3×H×W) against the colour it should show
/// (SPEC 2.1): cos(mean RGB, expected) · (1 − min(mean per-channel std, 1)), the std taken
/// over the pixels (population), as NumPy's `img.std(axis=(0, 1)).mean()` does.
pub fn color_purity(image: &[f32], expected: [f32; 3]) -> f32 {
    let per = image.len() / 3;
    let mut mean = [0.0f64; 3];
    let mut std = 0.0f64;
    for ch in 0..3 {
        let plane = &image[ch * per..(ch + 1) * per];
        let m = plane.iter().map(|&v| v as f64).sum::<f64>() / per as f64;
        let var = plane.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / per as f64;
        mean[ch] = m;
        std += var.sqrt() / 3.0;
    }
    let dot: f64 = (0..3).map(|i| mean[i] * expected[i] as f64).sum();
    let norm = |v: [f64; 3]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let e = [expected[0] as f64, expected[1] as f64, expected[2] as f64];
    let denom = norm(mean) * norm(e);
    let cos = if denom > 0.0 { dot / denom } else { 0.0 };
    (cos * (1.0 - std.min(1.0))) as f32
}

/// Mean RGB of a CHW image.
pub fn mean_rgb(image: &[f32]) -> [f32; 3] {
    let per = image.len() / 3;
    let m = |ch: usize| {
        (image[ch * per..(ch + 1) * per]
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>()
            / per as f64) as f32
    };
    [m(0), m(1), m(2)]
}

/// A conv layer's filters as images: weight [O, 3, k, k] → O tiles (CHW, k×k), each min–max
/// normalized to [0, 1] on its own (SPEC 2.2). A constant filter becomes mid-grey.
pub fn filter_tiles(weight: &Tensor) -> Result<Vec<Vec<f32>>> {
    let dims = weight.dims().to_vec();
    if dims.len() != 4 || dims[1] != 3 {
        return Err(Error::Invalid(format!(
            "filter tiles need an RGB conv weight [O, 3, k, k], got {}",
            weight.shape()
        )));
    }
    let v = weight.to_vec()?;
    let per = v.len() / dims[0];
    Ok(v.chunks(per)
        .map(|f| {
            let lo = f.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = f.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            f.iter()
                .map(|&x| if hi > lo { (x - lo) / (hi - lo) } else { 0.5 })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purity_is_one_for_a_uniform_patch_of_the_expected_colour() {
        let mut img = vec![0.0f32; 3 * 784];
        img[..784].fill(1.0); // red
        assert!((color_purity(&img, [1.0, 0.0, 0.0]) - 1.0).abs() < 1e-6);
        // Orthogonal colour: cosine 0.
        assert!(color_purity(&img, [0.0, 1.0, 0.0]).abs() < 1e-6);
        // Half the red plane lit: mean (0.5, 0, 0), cos 1, red std 0.5, others 0 → 1 − 0.5/3.
        let mut half = vec![0.0f32; 3 * 784];
        half[..392].fill(1.0);
        assert!((color_purity(&half, [1.0, 0.0, 0.0]) - (1.0 - 0.5 / 3.0)).abs() < 1e-6);
    }
}
