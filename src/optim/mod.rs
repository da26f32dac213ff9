//! Optimizers with PyTorch's update rules: [`Sgd`] (momentum, dampening, Nesterov, weight decay)
//! and [`Adam`] (bias correction, eps added after the square root, L2 weight decay).
//!
//! Usage mirrors PyTorch: `opt.zero_grad(); loss.backward()?; opt.step()?;`. A parameter whose
//! gradient is `None` (not reached by backward) is skipped, as in PyTorch.

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

use crate::error::Result;

/// Something that updates parameters from their gradients.
pub trait Optimizer {
    /// Apply one update to every parameter that has a gradient.
    fn step(&mut self) -> Result<()>;
    /// The parameters this optimizer updates.
    fn params(&self) -> &[crate::tensor::Tensor];
    /// Clear the gradients of all managed parameters.
    fn zero_grad(&self) {
        for p in self.params() {
            p.zero_grad();
        }
    }
    /// The current learning rate.
    fn lr(&self) -> f32;
    /// Change the learning rate (schedules).
    fn set_lr(&mut self, lr: f32);
    /// What a resumed run needs to continue exactly as if it had never stopped (PyTorch's
    /// `optimizer.state_dict()`): moments or momentum buffers, and step counters. Empty for an
    /// optimizer that has not stepped.
    fn state(&self) -> OptimizerState;
    /// Restore a state taken by [`Optimizer::state`] from an optimizer over the same
    /// parameters; checks every shape first and changes nothing if one is wrong.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;
}

/// An optimizer's state: named tensors and named counters.
#[derive(Clone, Default)]
pub struct OptimizerState {
    pub tensors: Vec<(String, crate::tensor::Tensor)>,
    pub counters: Vec<(String, u64)>,
}

impl OptimizerState {
    pub(crate) fn tensor(&self, name: &str) -> Option<&crate::tensor::Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
    pub(crate) fn counter(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c)
    }
}

/// The state tensor `name` for parameter `p`, checked for shape (None when absent).
pub(crate) fn state_for(
    state: &OptimizerState,
    name: &str,
    p: &crate::tensor::Tensor,
) -> Result<Option<crate::tensor::Tensor>> {
    match state.tensor(name) {
        None => Ok(None),
        Some(t) if t.dims() == p.dims() => Ok(Some(t.to_device(p.device())?.detach())),
        Some(t) => Err(crate::error::Error::Invalid(format!(
            "optimizer state '{name}' has shape {}, its parameter {}",
            t.shape(),
            p.shape()
        ))),
    }
}

/// `x ≥ 0` and not NaN: the validity test for learning rates and similar settings.
pub(crate) fn non_negative(x: f32) -> bool {
    x >= 0.0
}
