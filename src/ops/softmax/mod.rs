//! Softmax and log-softmax over the last axis.
//!
//! softmax: yᵢ = exp(xᵢ − m) / Σⱼ exp(xⱼ − m) with m = maxⱼ xⱼ (subtracting the maximum keeps
//! exp from overflowing and does not change the result).
//! log_softmax: yᵢ = xᵢ − m − ln Σⱼ exp(xⱼ − m).
//!
//! Backward (per row, g = ∂L/∂y):
//! * softmax:     ∂L/∂xᵢ = yᵢ · (gᵢ − Σⱼ gⱼ yⱼ)
//! * log_softmax: ∂L/∂xᵢ = gᵢ − exp(yᵢ) · Σⱼ gⱼ
//!
//! Both rules read the output y, saved detached.

pub mod cpu;
pub mod gpu;

use super::same_device;
use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::sync::Arc;

fn rows(t: &Tensor, op: &'static str) -> Result<(usize, usize)> {
    if t.rank() == 0 {
        return Err(Error::shape(op, "needs at least one axis"));
    }
    let c = t.dim(t.rank() - 1);
    Ok((t.numel() / c.max(1), c))
}

impl Tensor {
    /// Softmax over the last axis.
    pub fn softmax(&self) -> Result<Tensor> {
        self.softmax_impl(false)
    }

    /// Log-softmax over the last axis.
    pub fn log_softmax(&self) -> Result<Tensor> {
        self.softmax_impl(true)
    }

    fn softmax_impl(&self, log: bool) -> Result<Tensor> {
        let op = if log { "log_softmax" } else { "softmax" };
        let (r, c) = rows(self, op)?;
        let s = self.storage();
        let y = Arc::new(match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::softmax_fwd(s.cpu()?, r, c, log)),
            Device::Cuda => Storage::Cuda(gpu::softmax_fwd::<Cuda>(s.cuda()?, r, c, log)?),
            Device::Wgpu => Storage::Wgpu(gpu::softmax_fwd::<Wgpu>(s.wgpu()?, r, c, log)?),
        });
        let saved = Tensor::from_shared(y.clone(), self.shape().clone());
        Ok(record(op, &[self], y, self.shape().clone(), move |_, g| {
            Ok(vec![Some(softmax_bwd(g, &saved, log)?)])
        }))
    }
}

/// Primitive: softmax (`log = false`) or log-softmax backward from the saved output.
pub fn softmax_bwd(g: &Tensor, y: &Tensor, log: bool) -> Result<Tensor> {
    same_device("softmax_bwd", &[g, y])?;
    let (r, c) = rows(y, "softmax_bwd")?;
    let (sg, sy) = (g.storage(), y.storage());
    let dx = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::softmax_bwd(sg.cpu()?, sy.cpu()?, r, c, log)),
        Device::Cuda => Storage::Cuda(gpu::softmax_bwd::<Cuda>(sg.cuda()?, sy.cuda()?, r, c, log)?),
        Device::Wgpu => Storage::Wgpu(gpu::softmax_bwd::<Wgpu>(sg.wgpu()?, sy.wgpu()?, r, c, log)?),
    };
    Ok(Tensor::from_storage(dx, y.shape().clone()))
}

/// Rows, row length and which function, mirrored in `shaders/softmax.wgsl` and `kernels/softmax.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SoftmaxArgs {
    pub rows: u32,
    pub c: u32,
    pub log: u32,
    pub _pad: u32,
}
