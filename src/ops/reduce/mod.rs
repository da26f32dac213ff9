//! Reductions over one axis or over everything: sum, mean, max, argmax.
//!
//! A tensor reduced over axis d is viewed as [outer, n, inner] (`Shape::split_at_axis`):
//! `out[o, i] = reduce_k x[o, k, i]`.
//!
//! Backward: sum → ∂L/∂x = g broadcast back over the axis; mean → the same divided by n;
//! max → g goes to the position of the (first) maximum only (`max_bwd`, a scatter along the
//! axis), as PyTorch does for `max(dim)`.

pub mod cpu;
pub mod gpu;

use super::normalize_axis;
use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

fn reduced_shape(x: &Shape, axis: usize, keepdim: bool) -> Shape {
    let mut d = x.dims().to_vec();
    if keepdim {
        d[axis] = 1;
    } else {
        d.remove(axis);
    }
    Shape::new(d)
}

impl Tensor {
    /// Sum over `axis` (negative counts from the end).
    pub fn sum(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let ax = normalize_axis("sum", axis, self.rank())?;
        let (outer, n, inner) = self.shape().split_at_axis(ax);
        let s = self.storage();
        let out = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::sum_axis(s.cpu()?, outer, n, inner)),
            Device::Cuda => Storage::Cuda(gpu::sum_axis::<Cuda>(s.cuda()?, outer, n, inner)?),
            Device::Wgpu => Storage::Wgpu(gpu::sum_axis::<Wgpu>(s.wgpu()?, outer, n, inner)?),
        };
        let in_shape = self.shape().clone();
        let keep = reduced_shape(&in_shape, ax, true);
        Ok(record(
            "sum",
            &[self],
            out,
            reduced_shape(self.shape(), ax, keepdim),
            move |_, g| {
                Ok(vec![Some(
                    g.reshape(keep.clone())?.broadcast_to(&in_shape)?,
                )])
            },
        ))
    }

    /// Mean over `axis`.
    pub fn mean(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let ax = normalize_axis("mean", axis, self.rank())?;
        let n = self.dim(ax);
        if n == 0 {
            return Err(Error::shape("mean", "mean over an empty axis"));
        }
        self.sum(axis, keepdim)?.mul_scalar(1.0 / n as f32)
    }

    /// Sum of all elements, as a rank-0 tensor.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.reshape([self.numel()])?.sum(0, false)
    }

    /// Mean of all elements, as a rank-0 tensor.
    pub fn mean_all(&self) -> Result<Tensor> {
        if self.numel() == 0 {
            return Err(Error::shape("mean_all", "mean of an empty tensor"));
        }
        self.sum_all()?.mul_scalar(1.0 / self.numel() as f32)
    }

    /// Maximum over `axis`; the gradient goes to the first maximal element.
    pub fn max(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let ax = normalize_axis("max", axis, self.rank())?;
        let (outer, n, inner) = self.shape().split_at_axis(ax);
        if n == 0 {
            return Err(Error::shape("max", "max over an empty axis"));
        }
        let s = self.storage();
        let (vals, idx) = match self.device() {
            Device::Cpu => {
                let (v, i) = cpu::max_axis(s.cpu()?, outer, n, inner);
                (Storage::from_cpu(v), Storage::from_cpu(i))
            }
            Device::Cuda => {
                let (v, i) = gpu::max_axis::<Cuda>(s.cuda()?, outer, n, inner)?;
                (Storage::Cuda(v), Storage::Cuda(i))
            }
            Device::Wgpu => {
                let (v, i) = gpu::max_axis::<Wgpu>(s.wgpu()?, outer, n, inner)?;
                (Storage::Wgpu(v), Storage::Wgpu(i))
            }
        };
        let idx = Tensor::from_storage(idx, Shape::new([outer * inner]));
        let in_shape = self.shape().clone();
        Ok(record(
            "max",
            &[self],
            vals,
            reduced_shape(self.shape(), ax, keepdim),
            move |_, g| Ok(vec![Some(max_bwd(g, &idx, &in_shape, ax)?)]),
        ))
    }

    /// Maximum of all elements, as a rank-0 tensor.
    pub fn max_all(&self) -> Result<Tensor> {
        self.reshape([self.numel()])?.max(0, false)
    }

    /// Flat index of the (first) maximum of all elements, as a rank-0 f32 tensor.
    pub fn argmax_all(&self) -> Result<Tensor> {
        self.reshape([self.numel()])?.argmax(0)
    }

    /// Index of the (first) maximum along `axis`, as f32 values (not differentiable).
    pub fn argmax(&self, axis: isize) -> Result<Tensor> {
        let ax = normalize_axis("argmax", axis, self.rank())?;
        let (outer, n, inner) = self.shape().split_at_axis(ax);
        if n == 0 {
            return Err(Error::shape("argmax", "argmax over an empty axis"));
        }
        let s = self.storage();
        let idx = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::max_axis(s.cpu()?, outer, n, inner).1),
            Device::Cuda => Storage::Cuda(gpu::max_axis::<Cuda>(s.cuda()?, outer, n, inner)?.1),
            Device::Wgpu => Storage::Wgpu(gpu::max_axis::<Wgpu>(s.wgpu()?, outer, n, inner)?.1),
        };
        Ok(Tensor::from_storage(
            idx,
            reduced_shape(self.shape(), ax, false),
        ))
    }
}

/// Primitive: scatter g into zeros of `in_shape` at the argmax positions along `axis`.
pub fn max_bwd(g: &Tensor, idx: &Tensor, in_shape: &Shape, axis: usize) -> Result<Tensor> {
    let (outer, n, inner) = in_shape.split_at_axis(axis);
    let (sg, si) = (g.storage(), idx.storage());
    let dx = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::max_bwd(sg.cpu()?, si.cpu()?, outer, n, inner)),
        Device::Cuda => Storage::Cuda(gpu::max_bwd::<Cuda>(
            sg.cuda()?,
            si.cuda()?,
            outer,
            n,
            inner,
        )?),
        Device::Wgpu => Storage::Wgpu(gpu::max_bwd::<Wgpu>(
            sg.wgpu()?,
            si.wgpu()?,
            outer,
            n,
            inner,
        )?),
    };
    Ok(Tensor::from_storage(dx, in_shape.clone()))
}

/// Sizes of the [outer, n, inner] view, mirrored in `shaders/reduce.wgsl` and `kernels/reduce.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ReduceArgs {
    pub outer: u32,
    pub n: u32,
    pub inner: u32,
    pub _pad: u32,
}
