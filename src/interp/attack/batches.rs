//! Attacks over many images at once: in chunks (bounded memory), success rates, the parts a
//! colour attack repaints, and the figure every attack page shows — original, perturbation and
//! adversarial image side by side. Used by `shortcut attack` ([`super::checkpoint`]) and the
//! study's Task 5.

use super::probabilities;
use crate::data::{BiasedMnist, Split, PALETTE};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::plots::labelled_grid_png;
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};

/// Images per chunk of the many-image analyses (bounds memory: ShapeCNN's activations and
/// their gradients for 250 images take a few hundred MB).
pub const CHUNK: usize = 250;

/// Run `f` on the ranges of `n` images, `CHUNK` at a time, and concatenate the results.
pub fn in_chunks<T>(
    n: usize,
    mut f: impl FnMut(std::ops::Range<usize>) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(CHUNK) {
        out.extend(f(start..(start + CHUNK).min(n))?);
    }
    Ok(out)
}

/// Run an attack `f` on chunks of a batch and put the adversarial images back together.
pub fn chunked(
    x: &Tensor,
    labels: &[usize],
    f: &dyn Fn(&Tensor, &[usize]) -> Result<Tensor>,
) -> Result<Tensor> {
    let parts = in_chunks(x.dim(0), |r| {
        Ok(vec![f(&x.slice(0, r.start, r.len())?, &labels[r])?])
    })?;
    Tensor::cat(&parts, 0)
}

/// [`probabilities`] of a batch, `CHUNK` images at a time.
pub fn probs_chunked(model: &dyn Module, x: &Tensor) -> Result<Vec<Vec<f32>>> {
    in_chunks(x.dim(0), |r| {
        probabilities(model, &x.slice(0, r.start, r.len())?)
    })
}

/// The fraction of `true`s (0 for none).
pub fn rate(v: &[bool]) -> f64 {
    v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64
}

/// The images a colour attack repaints: grey levels [N, 1, 28, 28], backgrounds, own colours.
pub fn paint_parts(
    data: &BiasedMnist,
    idx: &[usize],
    device: Device,
) -> Result<(Tensor, Tensor, Vec<[f32; 3]>)> {
    let n = idx.len();
    let gray: Vec<f32> = idx
        .iter()
        .flat_map(|&i| data.gray_levels(Split::Hard, i))
        .collect();
    let bg: Vec<f32> = idx
        .iter()
        .flat_map(|&i| data.background(Split::Hard, 0, i))
        .collect();
    let own: Vec<[f32; 3]> = idx
        .iter()
        .map(|&i| PALETTE[data.color_of(Split::Hard, 0, i)])
        .collect();
    Ok((
        Tensor::from_vec(gray, [n, 1, 28, 28], device)?,
        Tensor::from_vec(bg, [n, 3, 28, 28], device)?,
        own,
    ))
}

/// One image strip: its title, the adversarial images with their probabilities, and the clean
/// probabilities.
pub type Strip = (String, (Tensor, Vec<Vec<f32>>), Vec<Vec<f32>>);

/// A figure's error as ours.
pub fn plot(r: std::result::Result<(), crate::plots::PlotError>) -> Result<()> {
    r.map_err(|e| Error::Invalid(e.to_string()))
}

/// Image strips: original, perturbation × 10 (around grey), adversarial, for the first 4 images.
pub fn draw_strips(strips: &[Strip], xs: &Tensor, out: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut figs = Vec::new();
    let clean_imgs: Vec<Vec<f32>> = xs.to_vec()?.chunks(3 * 784).map(|c| c.to_vec()).collect();
    for (k, (label, (adv, pp), clean)) in strips.iter().enumerate() {
        let adv_imgs: Vec<Vec<f32>> = adv.to_vec()?.chunks(3 * 784).map(|c| c.to_vec()).collect();
        let mut tiles = Vec::new();
        let mut labels = Vec::new();
        for b in 0..4.min(adv_imgs.len()) {
            let pert: Vec<f32> = adv_imgs[b]
                .iter()
                .zip(&clean_imgs[b])
                .map(|(a, c)| 0.5 + 10.0 * (a - c))
                .collect();
            tiles.extend([clean_imgs[b].clone(), pert, adv_imgs[b].clone()]);
            let pc = crate::measure::stats::argmax(&clean[b]);
            let pa = crate::measure::stats::argmax(&pp[b]);
            labels.push(format!(
                "{pc} ({:.2}) → {pa} ({:.2})",
                clean[b][pc], pp[b][pa]
            ));
        }
        let heads = vec![
            "original".to_string(),
            "perturbation × 10".into(),
            "adversarial".into(),
        ];
        let p = out.join(format!("strip_{k}.png"));
        plot(labelled_grid_png(
            &p,
            &tiles,
            28,
            28,
            labels.len(),
            3,
            4,
            Some(&labels),
            Some(&heads),
            Some(label),
        ))?;
        figs.push((
            p,
            format!("{label} (prediction and confidence before → after)"),
        ));
    }
    Ok(figs)
}
