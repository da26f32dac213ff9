//! Making tensors: constants, host data, ranges and seeded random values.

use super::Tensor;
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::shape::Shape;

impl Tensor {
    /// A tensor from host data laid out row-major; `data.len()` must equal the shape's numel.
    pub fn from_vec(data: Vec<f32>, shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        let shape = shape.into();
        if data.len() != shape.numel() {
            return Err(Error::shape(
                "from_vec",
                format!(
                    "{} values cannot fill shape {shape} ({} elements)",
                    data.len(),
                    shape.numel()
                ),
            ));
        }
        Ok(Tensor::from_storage(
            Storage::from_host(device, data)?,
            shape,
        ))
    }

    /// A tensor filled with `value`.
    pub fn full(shape: impl Into<Shape>, value: f32, device: Device) -> Result<Tensor> {
        let shape = shape.into();
        Tensor::from_vec(vec![value; shape.numel()], shape, device)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        Tensor::full(shape, 0.0, device)
    }

    /// A tensor of ones.
    pub fn ones(shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        Tensor::full(shape, 1.0, device)
    }

    /// Zeros with this tensor's shape and device.
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.shape().clone(), self.device())
    }

    /// Ones with this tensor's shape and device.
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::ones(self.shape().clone(), self.device())
    }

    /// A rank-0 tensor holding `value`.
    pub fn scalar(value: f32, device: Device) -> Result<Tensor> {
        Tensor::from_vec(vec![value], Shape::scalar(), device)
    }

    /// `[0, 1, …, n−1]` as floats, shape `[n]`.
    pub fn arange(n: usize, device: Device) -> Result<Tensor> {
        Tensor::from_vec((0..n).map(|i| i as f32).collect(), [n], device)
    }

    /// Values uniform in `[lo, hi)` from `rng` (drawn in row-major order).
    pub fn rand_uniform(
        shape: impl Into<Shape>,
        lo: f32,
        hi: f32,
        rng: &mut Rng,
        device: Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let data = (0..shape.numel())
            .map(|_| rng.uniform_range(lo, hi))
            .collect();
        Tensor::from_vec(data, shape, device)
    }

    /// Values from N(mean, std²) drawn from `rng`.
    pub fn randn(
        shape: impl Into<Shape>,
        mean: f32,
        std: f32,
        rng: &mut Rng,
        device: Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let data = (0..shape.numel())
            .map(|_| mean + std * rng.normal())
            .collect();
        Tensor::from_vec(data, shape, device)
    }
}
