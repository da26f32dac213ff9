//! Parameter initialization, as PyTorch does it by default.
//!
//! `nn.Conv2d` and `nn.Linear` call `kaiming_uniform_(weight, a=√5)`: a uniform draw in
//! [−bound, bound] with `bound = gain·√(3/fan_in)` and `gain = √(2/(1+a²))`. With a = √5,
//! gain = √(1/3), so bound = 1/√fan_in. The bias is uniform in [−1/√fan_in, 1/√fan_in] as well.
//! fan_in is the number of inputs feeding one output: C·KH·KW for a conv, `in_features` for a
//! linear layer.

use crate::device::Device;
use crate::error::Result;
use crate::rng::Rng;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `kaiming_uniform_` with negative slope `a`, as a new leaf tensor that requires grad.
pub fn kaiming_uniform(
    shape: impl Into<Shape>,
    fan_in: usize,
    a: f32,
    rng: &mut Rng,
    device: Device,
) -> Result<Tensor> {
    let gain = (2.0 / (1.0 + a * a)).sqrt();
    let bound = gain * (3.0 / fan_in as f32).sqrt();
    Tensor::rand_uniform(shape, -bound, bound, rng, device)?.requires_grad_(true)
}

/// PyTorch's default bias init: uniform in [−1/√fan_in, 1/√fan_in], requiring grad.
pub fn default_bias(
    shape: impl Into<Shape>,
    fan_in: usize,
    rng: &mut Rng,
    device: Device,
) -> Result<Tensor> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    Tensor::rand_uniform(shape, -bound, bound, rng, device)?.requires_grad_(true)
}
