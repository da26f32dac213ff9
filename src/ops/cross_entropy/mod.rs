//! Cross-entropy from logits, per sample, fused with the log-softmax.
//!
//! For logits x[n, :] and target class tₙ:
//! `loss[n] = −log softmax(x[n])[tₙ] = logsumexp(x[n]) − x[n, tₙ]`.
//!
//! Backward: ∂loss[n]/∂x[n, c] = softmax(x[n])[c] − [c = tₙ], so with g = ∂L/∂loss,
//! ∂L/∂x[n, c] = g[n] · (softmax(x[n])[c] − [c = tₙ]). The backward kernel recomputes the
//! softmax from the logits (cheaper than storing it).
//!
//! Targets are class indices held as f32 in a tensor on the logits' device.

pub mod cpu;
pub mod gpu;

use super::same_device;
use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

impl Tensor {
    /// Per-sample cross-entropy of logits [N, C] against class indices `targets` (length N),
    /// shape [N]. Take `.mean_all()` for the usual mean loss.
    pub fn cross_entropy(&self, targets: &[usize]) -> Result<Tensor> {
        let t = Tensor::from_vec(
            targets.iter().map(|&v| v as f32).collect(),
            [targets.len()],
            self.device(),
        )?;
        self.cross_entropy_t(&t, targets.iter().copied().max())
    }

    /// Like [`Tensor::cross_entropy`] with the targets already a tensor of class indices.
    /// `max_target` (when known on the host) is range-checked.
    pub fn cross_entropy_t(&self, targets: &Tensor, max_target: Option<usize>) -> Result<Tensor> {
        if self.rank() != 2 {
            return Err(Error::shape_expected(
                "cross_entropy",
                "logits [N, C]",
                self.shape(),
            ));
        }
        let (n, c) = (self.dim(0), self.dim(1));
        if targets.dims() != [n] {
            return Err(Error::shape(
                "cross_entropy",
                format!(
                    "{n} samples of logits but targets of shape {}",
                    targets.shape()
                ),
            ));
        }
        if let Some(m) = max_target {
            if m >= c {
                return Err(Error::Invalid(format!(
                    "cross_entropy: target class {m} is out of range for {c} classes"
                )));
            }
        }
        same_device("cross_entropy", &[self, targets])?;
        let (sx, st) = (self.storage(), targets.storage());
        let loss = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::cross_entropy_fwd(sx.cpu()?, st.cpu()?, n, c)),
            Device::Cuda => Storage::Cuda(gpu::cross_entropy_fwd::<Cuda>(
                sx.cuda()?,
                st.cuda()?,
                n,
                c,
            )?),
            Device::Wgpu => Storage::Wgpu(gpu::cross_entropy_fwd::<Wgpu>(
                sx.wgpu()?,
                st.wgpu()?,
                n,
                c,
            )?),
        };
        let targets = targets.detach();
        Ok(record(
            "cross_entropy",
            &[self],
            loss,
            Shape::new([n]),
            move |inp, g| Ok(vec![Some(cross_entropy_bwd(&inp[0], &targets, g)?)]),
        ))
    }
}

/// Primitive: ∂L/∂logits = g[n] · (softmax − one_hot).
pub fn cross_entropy_bwd(logits: &Tensor, targets: &Tensor, g: &Tensor) -> Result<Tensor> {
    same_device("cross_entropy_bwd", &[logits, targets, g])?;
    let (n, c) = (logits.dim(0), logits.dim(1));
    let (sx, st, sg) = (logits.storage(), targets.storage(), g.storage());
    let dx = match logits.device() {
        Device::Cpu => Storage::from_cpu(cpu::cross_entropy_bwd(
            sx.cpu()?,
            st.cpu()?,
            sg.cpu()?,
            n,
            c,
        )),
        Device::Cuda => Storage::Cuda(gpu::cross_entropy_bwd::<Cuda>(
            sx.cuda()?,
            st.cuda()?,
            sg.cuda()?,
            n,
            c,
        )?),
        Device::Wgpu => Storage::Wgpu(gpu::cross_entropy_bwd::<Wgpu>(
            sx.wgpu()?,
            st.wgpu()?,
            sg.wgpu()?,
            n,
            c,
        )?),
    };
    Ok(Tensor::from_storage(dx, logits.shape().clone()))
}

/// Samples and classes, mirrored in `shaders/cross_entropy.wgsl` and `kernels/cross_entropy.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CeArgs {
    pub n: u32,
    pub c: u32,
    pub _pad: [u32; 2],
}
