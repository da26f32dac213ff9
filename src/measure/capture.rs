//! Reading a layer's output with a forward hook: the one mechanism every interpretability tool
//! here builds on.
//!
//! A forward hook registered on the layer (found by its dotted name) keeps the output; the
//! hook is removed before the function returns, whatever happened, so the model is left as it
//! was found.

use crate::autograd::HookHandle;
use crate::error::{Error, Result};
use crate::nn::{get_submodule, Module};
use crate::tensor::Tensor;
use std::sync::{Arc, Mutex};

/// A layer's output as the last forward produced it.
pub type Slot = Arc<Mutex<Option<Tensor>>>;

/// Register a hook on `layer` that stores each output (still attached to the graph, so an
/// objective built on it can be differentiated) in the returned slot.
pub fn keep_output(model: &dyn Module, layer: &str) -> Result<(Slot, HookHandle)> {
    let target = get_submodule(model, layer)?;
    let slot: Slot = Arc::new(Mutex::new(None));
    let sink = slot.clone();
    let handle = target.hooks().add(move |_, out| {
        *sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(out.clone());
        Ok(None)
    });
    Ok((slot, handle))
}

/// Take what the slot holds, or say that the layer never ran.
pub fn take(slot: &Slot, layer: &str) -> Result<Tensor> {
    slot.lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| Error::Invalid(format!("layer '{layer}' was not run by the model")))
}

/// Run `model` on `x` and return (its output, the output of `layer`), both detached.
pub fn layer_output(model: &dyn Module, layer: &str, x: &Tensor) -> Result<(Tensor, Tensor)> {
    let (slot, handle) = keep_output(model, layer)?;
    let ran = crate::autograd::no_grad(|| model.forward(x));
    handle.remove();
    let y = ran?;
    Ok((y, take(&slot, layer)?.detach()))
}

/// Mean of each channel of a layer output `[N, C, …]` over its remaining axes: `[unit][image]`
/// (a Linear layer's `[N, C]` output is its own mean).
pub fn channel_means(out: &Tensor) -> Result<Vec<Vec<f32>>> {
    let dims = out.dims().to_vec();
    if dims.is_empty() {
        return Err(Error::Invalid(
            "a layer output must have a batch axis".into(),
        ));
    }
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
