//! Fused optimizer updates: one pass over parameter, gradient and state per step.
//!
//! The rules are PyTorch's (`torch.optim.Adam`, `torch.optim.SGD`); the per-step scalars
//! (bias corrections) are computed on the host and passed in the argument struct.

pub mod cpu;
pub mod cuda;
pub mod wgpu;

use super::same_device;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Adam hyper-parameters for one step, mirrored in CUDA and WGSL.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamArgs {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// 1 − β₁ᵗ
    pub bias_correction1: f32,
    /// √(1 − β₂ᵗ)
    pub bias_correction2_sqrt: f32,
    pub _pad: f32,
}

/// SGD hyper-parameters for one step.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SgdArgs {
    pub lr: f32,
    pub momentum: f32,
    pub dampening: f32,
    pub weight_decay: f32,
    /// 1 for Nesterov momentum.
    pub nesterov: u32,
    /// 1 on the first step: the momentum buffer starts as the gradient itself.
    pub first_step: u32,
    pub _pad: [u32; 2],
}

fn check(op: &'static str, p: &Tensor, others: &[&Tensor]) -> Result<()> {
    let mut all = vec![p];
    all.extend_from_slice(others);
    same_device(op, &all)?;
    for t in others {
        if t.shape() != p.shape() {
            return Err(Error::shape(
                op,
                format!(
                    "state of shape {} for a parameter of shape {}",
                    t.shape(),
                    p.shape()
                ),
            ));
        }
    }
    Ok(())
}

/// `adam_step_f32`, in place on `param`, `m` and `v`.
pub fn adam_step(
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    args: &AdamArgs,
) -> Result<()> {
    check("adam_step", param, &[grad, m, v])?;
    let g = grad.storage();
    match param.device() {
        Device::Cpu => {
            let g = g.cpu()?;
            param.update_storage(|p| {
                m.update_storage(|ms| {
                    v.update_storage(|vs| {
                        cpu::adam_step(p.cpu_mut()?, g, ms.cpu_mut()?, vs.cpu_mut()?, args);
                        Ok(())
                    })
                })
            })
        }
        Device::Cuda => {
            let g = g.cuda()?;
            param.update_storage(|p| {
                m.update_storage(|ms| {
                    v.update_storage(|vs| {
                        cuda::adam_step(p.cuda_mut()?, g, ms.cuda_mut()?, vs.cuda_mut()?, args)
                    })
                })
            })
        }
        Device::Wgpu => {
            let g = g.wgpu()?;
            param.update_storage(|p| {
                m.update_storage(|ms| {
                    v.update_storage(|vs| {
                        wgpu::adam_step(p.wgpu_mut()?, g, ms.wgpu_mut()?, vs.wgpu_mut()?, args)
                    })
                })
            })
        }
    }
}

/// `sgd_step_f32`, in place on `param` and the momentum buffer `buf`.
pub fn sgd_step(param: &Tensor, grad: &Tensor, buf: &Tensor, args: &SgdArgs) -> Result<()> {
    check("sgd_step", param, &[grad, buf])?;
    let g = grad.storage();
    match param.device() {
        Device::Cpu => {
            let g = g.cpu()?;
            param.update_storage(|p| {
                buf.update_storage(|b| {
                    cpu::sgd_step(p.cpu_mut()?, g, b.cpu_mut()?, args);
                    Ok(())
                })
            })
        }
        Device::Cuda => {
            let g = g.cuda()?;
            param.update_storage(|p| {
                buf.update_storage(|b| cuda::sgd_step(p.cuda_mut()?, g, b.cuda_mut()?, args))
            })
        }
        Device::Wgpu => {
            let g = g.wgpu()?;
            param.update_storage(|p| {
                buf.update_storage(|b| wgpu::sgd_step(p.wgpu_mut()?, g, b.wgpu_mut()?, args))
            })
        }
    }
}
