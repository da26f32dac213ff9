//! The attention CNN's attention maps, read by a forward hook on its `attention.softmax` layer
//! (the softmax over positions that weights the pooling): where the model looks, by its own
//! account rather than by gradients.

use crate::error::Result;
use crate::measure::capture;
use crate::nn::Module;
use crate::tensor::Tensor;

/// The layer whose output is the attention map.
pub const ATTENTION_LAYER: &str = "attention.softmax";

/// Attention maps of a batch, upsampled bilinearly to 28×28 and scaled so each map's maximum
/// is 1 (as Grad-CAM's are; the concentration ratio does not depend on the scale).
pub fn attention_maps(model: &dyn Module, x: &Tensor) -> Result<Vec<Vec<f32>>> {
    let (_, a) = capture::layer_output(model, ATTENTION_LAYER, x)?;
    let up = a
        .to_device(crate::device::Device::Cpu)?
        .upsample_bilinear2d(28, 28)?;
    Ok(up
        .to_vec()?
        .chunks(784)
        .map(|m| {
            let hi = m.iter().copied().fold(0.0f32, f32::max);
            m.iter()
                .map(|&v| if hi > 0.0 { v / hi } else { 0.0 })
                .collect()
        })
        .collect())
}
