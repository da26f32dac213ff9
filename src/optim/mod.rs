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
}

/// `x ≥ 0` and not NaN: the validity test for learning rates and similar settings.
pub(crate) fn non_negative(x: f32) -> bool {
    x >= 0.0
}
