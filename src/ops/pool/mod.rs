//! Pooling over NCHW planes: max_pool2d, avg_pool2d, adaptive_avg_pool2d.
//!
//! Window (oy, ox) covers input rows `oy·sh − ph … oy·sh − ph + kh − 1` (likewise columns);
//! `OH = (H + 2·ph − kh)/sh + 1` (PyTorch's floor mode).
//!
//! * **max**: y = max over the window (padding never wins: it counts as −∞). The flat index
//!   `iy·W + ix` of the winner is kept (first one on ties, as PyTorch), so backward sends each
//!   output gradient to exactly one input element: dx[idx] += g.
//! * **avg**: y = (Σ window) / (kh·kw), padding counted as zeros (PyTorch's default
//!   `count_include_pad=True`); backward spreads g/(kh·kw) over the window.
//! * **adaptive avg**: output cell (i, j) averages rows `⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1` and the
//!   matching columns (PyTorch's formula), so any input size maps onto a fixed output size.
//!
//! The argmax indices live in an f32 tensor on the same device as the data (exact for planes
//! of fewer than 2²⁴ pixels, which is checked).

pub mod cpu;
pub mod gpu;

use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Window size, stride and padding of a pooling op, per axis (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl PoolParams {
    /// A square window; stride defaults to the window size in PyTorch, pass it explicitly here.
    pub fn new(kernel: usize, stride: usize, padding: usize) -> Self {
        PoolParams {
            kernel: (kernel, kernel),
            stride: (stride, stride),
            padding: (padding, padding),
        }
    }
}

/// Sizes for the pooling kernels, mirrored in CUDA and WGSL.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PoolArgs {
    /// Number of planes, N·C.
    pub planes: u32,
    pub h: u32,
    pub w: u32,
    pub kh: u32,
    pub kw: u32,
    pub stride_h: u32,
    pub stride_w: u32,
    pub pad_h: u32,
    pub pad_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub _pad: u32,
}

impl PoolArgs {
    pub(crate) fn new(op: &'static str, x: &Shape, p: &PoolParams) -> Result<(PoolArgs, Shape)> {
        let (n, c, h, w) = x
            .nchw()
            .ok_or_else(|| Error::shape_expected(op, "input [N, C, H, W]", x))?;
        let (kh, kw) = p.kernel;
        if kh == 0 || kw == 0 || p.stride.0 == 0 || p.stride.1 == 0 {
            return Err(Error::Invalid(format!(
                "{op}: kernel and stride must be ≥ 1"
            )));
        }
        if p.padding.0 * 2 > kh || p.padding.1 * 2 > kw {
            return Err(Error::Invalid(format!(
                "{op}: padding {:?} must be at most half the kernel {:?} (as in PyTorch)",
                p.padding, p.kernel
            )));
        }
        if h + 2 * p.padding.0 < kh || w + 2 * p.padding.1 < kw {
            return Err(Error::shape(
                op,
                format!("window {kh}×{kw} is larger than the padded input {h}×{w}"),
            ));
        }
        if h * w >= 1 << 24 {
            return Err(Error::shape(
                op,
                format!("planes of {h}×{w} are too large (limit 2^24 pixels)"),
            ));
        }
        let out_h = (h + 2 * p.padding.0 - kh) / p.stride.0 + 1;
        let out_w = (w + 2 * p.padding.1 - kw) / p.stride.1 + 1;
        let u = |v: usize| v as u32;
        let args = PoolArgs {
            planes: u(n * c),
            h: u(h),
            w: u(w),
            kh: u(kh),
            kw: u(kw),
            stride_h: u(p.stride.0),
            stride_w: u(p.stride.1),
            pad_h: u(p.padding.0),
            pad_w: u(p.padding.1),
            out_h: u(out_h),
            out_w: u(out_w),
            _pad: 0,
        };
        Ok((args, Shape::new([n, c, out_h, out_w])))
    }
}

impl Tensor {
    /// Max pooling. Backward routes each gradient to the window's (first) maximum.
    pub fn max_pool2d(&self, params: PoolParams) -> Result<Tensor> {
        let (args, out_shape) = PoolArgs::new("max_pool2d", self.shape(), &params)?;
        let s = self.storage();
        let (y, idx) = match self.device() {
            Device::Cpu => {
                let (y, idx) = cpu::max_pool2d_fwd(s.cpu()?, &args);
                (Storage::from_cpu(y), Storage::from_cpu(idx))
            }
            Device::Cuda => {
                let (y, idx) = gpu::max_pool2d_fwd::<Cuda>(s.cuda()?, &args)?;
                (Storage::Cuda(y), Storage::Cuda(idx))
            }
            Device::Wgpu => {
                let (y, idx) = gpu::max_pool2d_fwd::<Wgpu>(s.wgpu()?, &args)?;
                (Storage::Wgpu(y), Storage::Wgpu(idx))
            }
        };
        let idx = Tensor::from_storage(idx, out_shape.clone());
        let in_shape = self.shape().clone();
        Ok(record("max_pool2d", &[self], y, out_shape, move |_, g| {
            Ok(vec![Some(max_pool2d_bwd(g, &idx, &in_shape, &args)?)])
        }))
    }

    /// Average pooling (padding counted as zeros in the average, as PyTorch's default).
    pub fn avg_pool2d(&self, params: PoolParams) -> Result<Tensor> {
        let (args, out_shape) = PoolArgs::new("avg_pool2d", self.shape(), &params)?;
        let s = self.storage();
        let y = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::avg_pool2d_fwd(s.cpu()?, &args)),
            Device::Cuda => Storage::Cuda(gpu::avg_pool2d_fwd::<Cuda>(s.cuda()?, &args)?),
            Device::Wgpu => Storage::Wgpu(gpu::avg_pool2d_fwd::<Wgpu>(s.wgpu()?, &args)?),
        };
        let in_shape = self.shape().clone();
        Ok(record("avg_pool2d", &[self], y, out_shape, move |_, g| {
            Ok(vec![Some(avg_pool2d_bwd(g, &in_shape, &args)?)])
        }))
    }

    /// Adaptive average pooling to an `out_h × out_w` grid.
    pub fn adaptive_avg_pool2d(&self, out_h: usize, out_w: usize) -> Result<Tensor> {
        let (n, c, h, w) = self.shape().nchw().ok_or_else(|| {
            Error::shape_expected("adaptive_avg_pool2d", "input [N, C, H, W]", self.shape())
        })?;
        if out_h == 0 || out_w == 0 {
            return Err(Error::Invalid(
                "adaptive_avg_pool2d: output size must be ≥ 1".into(),
            ));
        }
        let args = PoolArgs {
            planes: (n * c) as u32,
            h: h as u32,
            w: w as u32,
            kh: 0,
            kw: 0,
            stride_h: 0,
            stride_w: 0,
            pad_h: 0,
            pad_w: 0,
            out_h: out_h as u32,
            out_w: out_w as u32,
            _pad: 0,
        };
        let s = self.storage();
        let y = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::adaptive_avg_pool2d_fwd(s.cpu()?, &args)),
            Device::Cuda => Storage::Cuda(gpu::adaptive_avg_pool2d_fwd::<Cuda>(s.cuda()?, &args)?),
            Device::Wgpu => Storage::Wgpu(gpu::adaptive_avg_pool2d_fwd::<Wgpu>(s.wgpu()?, &args)?),
        };
        let in_shape = self.shape().clone();
        Ok(record(
            "adaptive_avg_pool2d",
            &[self],
            y,
            Shape::new([n, c, out_h, out_w]),
            move |_, g| Ok(vec![Some(adaptive_avg_pool2d_bwd(g, &in_shape, &args)?)]),
        ))
    }
}

/// Primitive: max-pool backward from the kept argmax indices.
pub fn max_pool2d_bwd(
    g: &Tensor,
    idx: &Tensor,
    in_shape: &Shape,
    args: &PoolArgs,
) -> Result<Tensor> {
    let (sg, si) = (g.storage(), idx.storage());
    let dx = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::max_pool2d_bwd(sg.cpu()?, si.cpu()?, args)),
        Device::Cuda => Storage::Cuda(gpu::max_pool2d_bwd::<Cuda>(sg.cuda()?, si.cuda()?, args)?),
        Device::Wgpu => Storage::Wgpu(gpu::max_pool2d_bwd::<Wgpu>(sg.wgpu()?, si.wgpu()?, args)?),
    };
    Ok(Tensor::from_storage(dx, in_shape.clone()))
}

/// Primitive: avg-pool backward.
pub fn avg_pool2d_bwd(g: &Tensor, in_shape: &Shape, args: &PoolArgs) -> Result<Tensor> {
    let sg = g.storage();
    let dx = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::avg_pool2d_bwd(sg.cpu()?, args)),
        Device::Cuda => Storage::Cuda(gpu::avg_pool2d_bwd::<Cuda>(sg.cuda()?, args)?),
        Device::Wgpu => Storage::Wgpu(gpu::avg_pool2d_bwd::<Wgpu>(sg.wgpu()?, args)?),
    };
    Ok(Tensor::from_storage(dx, in_shape.clone()))
}

/// Primitive: adaptive-avg-pool backward.
pub fn adaptive_avg_pool2d_bwd(g: &Tensor, in_shape: &Shape, args: &PoolArgs) -> Result<Tensor> {
    let sg = g.storage();
    let dx = match g.device() {
        Device::Cpu => Storage::from_cpu(cpu::adaptive_avg_pool2d_bwd(sg.cpu()?, args)),
        Device::Cuda => Storage::Cuda(gpu::adaptive_avg_pool2d_bwd::<Cuda>(sg.cuda()?, args)?),
        Device::Wgpu => Storage::Wgpu(gpu::adaptive_avg_pool2d_bwd::<Wgpu>(sg.wgpu()?, args)?),
    };
    Ok(Tensor::from_storage(dx, in_shape.clone()))
}
