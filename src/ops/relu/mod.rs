//! ReLU: y = max(x, 0).
//!
//! Backward: ∂L/∂x = ∂L/∂y · [y > 0]. The rule reads the *output* y (x > 0 ⇔ y > 0), through
//! the primitive `relu_bwd`; the output is saved detached so the node does not own itself.

pub mod cpu;
pub mod gpu;

use super::same_device;
use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::Arc;

impl Tensor {
    /// max(x, 0) element-wise.
    pub fn relu(&self) -> Result<Tensor> {
        let s = self.storage();
        let storage = Arc::new(match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::relu_fwd(s.cpu()?)),
            Device::Cuda => Storage::Cuda(gpu::relu_fwd::<Cuda>(s.cuda()?)?),
            Device::Wgpu => Storage::Wgpu(gpu::relu_fwd::<Wgpu>(s.wgpu()?)?),
        });
        // the output's data, shared (not copied) with a detached handle for the backward rule
        let saved_y = Tensor::from_shared(storage.clone(), self.shape().clone());
        Ok(record(
            "relu",
            &[self],
            storage,
            self.shape().clone(),
            move |_, g| Ok(vec![Some(relu_bwd(g, &saved_y)?)]),
        ))
    }
}

/// The primitive ∂L/∂x = g · [y > 0].
pub fn relu_bwd(g: &Tensor, y: &Tensor) -> Result<Tensor> {
    same_device("relu_bwd", &[g, y])?;
    let (gs, ys) = (g.storage(), y.storage());
    let storage = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::relu_bwd(gs.cpu()?, ys.cpu()?)),
        Device::Cuda => Storage::Cuda(gpu::relu_bwd::<Cuda>(gs.cuda()?, ys.cuda()?)?),
        Device::Wgpu => Storage::Wgpu(gpu::relu_bwd::<Wgpu>(gs.wgpu()?, ys.wgpu()?)?),
    };
    Ok(Tensor::from_storage(storage, g.shape().clone()))
}
