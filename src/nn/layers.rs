//! The layers: Conv2d, Linear, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten.

use super::init::{default_bias, kaiming_uniform};
use super::{ForwardHooks, Module};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::{Conv2dParams, PoolParams};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// 2-D convolution with weight [out, in, k, k] and bias [out] (PyTorch's `nn.Conv2d`).
pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub params: Conv2dParams,
    hooks: ForwardHooks,
}

impl Conv2d {
    /// A square `kernel`×`kernel` convolution with bias, PyTorch's default initialization
    /// (weight drawn first, then bias, from `rng`).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        params: Conv2dParams,
        rng: &mut Rng,
        device: Device,
    ) -> Result<Conv2d> {
        if in_channels == 0
            || out_channels == 0
            || kernel == 0
            || params.stride.0 == 0
            || params.stride.1 == 0
        {
            return Err(Error::Invalid(
                "Conv2d: channels, kernel and stride must be ≥ 1".into(),
            ));
        }
        let fan_in = in_channels * kernel * kernel;
        let weight = kaiming_uniform(
            [out_channels, in_channels, kernel, kernel],
            fan_in,
            5f32.sqrt(),
            rng,
            device,
        )?;
        let bias = Some(default_bias([out_channels], fan_in, rng, device)?);
        Ok(Conv2d {
            weight,
            bias,
            params,
            hooks: ForwardHooks::default(),
        })
    }

    /// The same layer without a bias term (`bias=False`).
    pub fn without_bias(mut self) -> Conv2d {
        self.bias = None;
        self
    }
}

impl Module for Conv2d {
    fn kind(&self) -> &'static str {
        "Conv2d"
    }
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.params)
    }
    fn forward_relu_fused(&self, x: &Tensor) -> Option<Result<Tensor>> {
        Some(x.conv2d_relu(&self.weight, self.bias.as_ref(), self.params))
    }
    fn forward_relu_max_pool_fused(&self, x: &Tensor) -> Option<Result<Tensor>> {
        Some(x.conv2d_relu_max_pool2d(&self.weight, self.bias.as_ref(), self.params))
    }
    fn forward_relu_pool_fused(&self, x: &Tensor, out: (usize, usize)) -> Option<Result<Tensor>> {
        Some(x.conv2d_relu_adaptive_avg_pool2d(
            &self.weight,
            self.bias.as_ref(),
            self.params,
            out.0,
            out.1,
        ))
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}

/// y = x·Wᵀ + b with W [out, in] (PyTorch's `nn.Linear`), for x [N, in].
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    hooks: ForwardHooks,
}

impl Linear {
    /// A linear layer with PyTorch's default initialization.
    pub fn new(
        in_features: usize,
        out_features: usize,
        bias: bool,
        rng: &mut Rng,
        device: Device,
    ) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::Invalid("Linear: feature counts must be ≥ 1".into()));
        }
        let weight = kaiming_uniform(
            [out_features, in_features],
            in_features,
            5f32.sqrt(),
            rng,
            device,
        )?;
        let bias = if bias {
            Some(default_bias([out_features], in_features, rng, device)?)
        } else {
            None
        };
        Ok(Linear {
            weight,
            bias,
            hooks: ForwardHooks::default(),
        })
    }
}

impl Module for Linear {
    fn kind(&self) -> &'static str {
        "Linear"
    }
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() != 2 || x.dim(1) != self.weight.dim(1) {
            return Err(Error::shape(
                "Linear",
                format!(
                    "expected input [N, {}], got {}",
                    self.weight.dim(1),
                    x.shape()
                ),
            ));
        }
        let y = x.matmul_t(&self.weight, false, true)?;
        match &self.bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}

/// max(x, 0).
#[derive(Default)]
pub struct ReLU {
    hooks: ForwardHooks,
}

impl ReLU {
    pub fn new() -> ReLU {
        ReLU::default()
    }
}

impl Module for ReLU {
    fn kind(&self) -> &'static str {
        "ReLU"
    }
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        x.relu()
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
}

/// Max pooling with a square window.
pub struct MaxPool2d {
    pub params: PoolParams,
    hooks: ForwardHooks,
}

impl MaxPool2d {
    /// Window `kernel`, stride `stride` (PyTorch's default stride is the window), no padding.
    pub fn new(kernel: usize, stride: usize) -> MaxPool2d {
        MaxPool2d {
            params: PoolParams::new(kernel, stride, 0),
            hooks: ForwardHooks::default(),
        }
    }
}

impl Module for MaxPool2d {
    fn kind(&self) -> &'static str {
        "MaxPool2d"
    }
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        x.max_pool2d(self.params)
    }
    fn max_pool_params(&self) -> Option<PoolParams> {
        Some(self.params)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
}

/// Average pooling with a square window.
pub struct AvgPool2d {
    pub params: PoolParams,
    hooks: ForwardHooks,
}

impl AvgPool2d {
    pub fn new(kernel: usize, stride: usize) -> AvgPool2d {
        AvgPool2d {
            params: PoolParams::new(kernel, stride, 0),
            hooks: ForwardHooks::default(),
        }
    }
}

impl Module for AvgPool2d {
    fn kind(&self) -> &'static str {
        "AvgPool2d"
    }
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        x.avg_pool2d(self.params)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
}

/// Average pooling to a fixed output grid.
pub struct AdaptiveAvgPool2d {
    pub out: (usize, usize),
    hooks: ForwardHooks,
}

impl AdaptiveAvgPool2d {
    pub fn new(out_h: usize, out_w: usize) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d {
            out: (out_h, out_w),
            hooks: ForwardHooks::default(),
        }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn kind(&self) -> &'static str {
        "AdaptiveAvgPool2d"
    }
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        x.adaptive_avg_pool2d(self.out.0, self.out.1)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
}

/// Flatten all axes from 1 on: [N, …] → [N, ∏…] (PyTorch's `nn.Flatten()`).
#[derive(Default)]
pub struct Flatten {
    hooks: ForwardHooks,
}

impl Flatten {
    pub fn new() -> Flatten {
        Flatten::default()
    }
}

impl Module for Flatten {
    fn kind(&self) -> &'static str {
        "Flatten"
    }
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        x.flatten(1)
    }
    fn hooks(&self) -> &ForwardHooks {
        &self.hooks
    }
}
