//! Colour selectivity of a layer's channels, read through a forward hook.
//!
//! For each colour c of a list (the palette), a uniform 3×28×28 image of that colour goes
//! through the model; a forward hook on the layer keeps its output, and channel k's response
//! r[k][c] is the mean of that output over the spatial positions (or the unit's value, for a
//! Linear layer). The **colour selectivity index** of a channel is
//!
//! ```text
//! CSI = (max_c r[c] − mean_c r[c]) / (std_c r[c] + 1e-8)        (population std)
//! ```
//!
//! high for a channel that fires for one colour far more than for the others. With n colours it
//! cannot exceed (n − 1)/√(n − 1) = √(n − 1): 3.0 for the 10 palette colours.

use crate::autograd::no_grad;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::nn::{get_submodule, Module};
use crate::tensor::Tensor;
use std::sync::{Arc, Mutex};

/// Responses `r[channel][colour]` of layer `layer` (dotted name) to uniform 28×28 images of
/// each of `colors` (RGB in [0, 1]). The hook is removed before returning.
pub fn channel_color_responses(
    model: &dyn Module,
    layer: &str,
    colors: &[[f32; 3]],
    device: Device,
) -> Result<Vec<Vec<f32>>> {
    let target = get_submodule(model, layer)?;
    let kept: Arc<Mutex<Option<Tensor>>> = Arc::new(Mutex::new(None));
    let sink = kept.clone();
    let handle = target.hooks().add(move |_, out| {
        *sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(out.detach());
        Ok(None)
    });
    let mut pixels = Vec::with_capacity(colors.len() * 3 * 784);
    for rgb in colors {
        for &v in rgb {
            pixels.extend(std::iter::repeat_n(v, 784));
        }
    }
    let x = Tensor::from_vec(pixels, [colors.len(), 3, 28, 28], device)?;
    let ran = no_grad(|| model.forward(&x));
    handle.remove();
    ran?;
    let out = kept
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| Error::Invalid(format!("layer '{layer}' was not run by the model")))?;
    let dims = out.dims().to_vec();
    let (n, c) = (dims[0], *dims.get(1).unwrap_or(&1));
    let per = out.numel() / (n * c).max(1);
    let v = out.to_vec()?;
    let mut r = vec![vec![0.0f32; n]; c];
    for (img, chunk) in v.chunks(c * per).enumerate() {
        for (k, plane) in chunk.chunks(per).enumerate() {
            r[k][img] = (plane.iter().map(|&x| x as f64).sum::<f64>() / per as f64) as f32;
        }
    }
    Ok(r)
}

/// CSI = (max − mean) / (std + 1e-8) of one channel's responses (population std).
pub fn csi(responses: &[f32]) -> f32 {
    let n = responses.len().max(1) as f64;
    let mean = responses.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = responses
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let max = responses
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    ((max - mean) / (var.sqrt() + 1e-8)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csi_is_bounded_by_sqrt_n_minus_one_and_zero_for_flat_responses() {
        let mut one_hot = vec![0.0f32; 10];
        one_hot[3] = 1.0;
        assert!((csi(&one_hot) - 3.0).abs() < 1e-4);
        assert!(csi(&[0.5; 10]).abs() < 1e-6);
    }
}
