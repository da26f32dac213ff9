//! Bilinear upsampling of NCHW planes (forward only), as PyTorch's
//! `F.interpolate(mode="bilinear", align_corners=False)`.
//!
//! Output pixel (oy, ox) samples the input at
//! `sy = max((oy + ½)·H/OH − ½, 0)`, `sx` likewise: with y0 = ⌊sy⌋, y1 = min(y0 + 1, H − 1),
//! λ = sy − y0 (and x0, x1, μ for columns),
//! `out = (1−λ)·((1−μ)·x[y0,x0] + μ·x[y0,x1]) + λ·((1−μ)·x[y1,x0] + μ·x[y1,x1])`.
//!
//! Grad-CAM upsamples a map that needs no gradient; asking backward to go through this op is an
//! error that says so.

pub mod cpu;
pub mod gpu;

use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

impl Tensor {
    /// Resize [N, C, H, W] to [N, C, out_h, out_w] by bilinear interpolation.
    pub fn upsample_bilinear2d(&self, out_h: usize, out_w: usize) -> Result<Tensor> {
        let (n, c, h, w) = self.shape().nchw().ok_or_else(|| {
            Error::shape_expected("upsample_bilinear2d", "input [N, C, H, W]", self.shape())
        })?;
        if out_h == 0 || out_w == 0 || h == 0 || w == 0 {
            return Err(Error::Invalid(
                "upsample_bilinear2d: sizes must be ≥ 1".into(),
            ));
        }
        let s = self.storage();
        let out = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::upsample_bilinear2d_fwd(
                s.cpu()?,
                n * c,
                h,
                w,
                out_h,
                out_w,
            )),
            Device::Cuda => Storage::Cuda(gpu::upsample_bilinear2d_fwd::<Cuda>(
                s.cuda()?,
                n * c,
                h,
                w,
                out_h,
                out_w,
            )?),
            Device::Wgpu => Storage::Wgpu(gpu::upsample_bilinear2d_fwd::<Wgpu>(
                s.wgpu()?,
                n * c,
                h,
                w,
                out_h,
                out_w,
            )?),
        };
        Ok(record(
            "upsample_bilinear2d",
            &[self],
            out,
            Shape::new([n, c, out_h, out_w]),
            |_, _| {
                Err(Error::Autograd(
                "upsample_bilinear2d has no backward; detach its input (it is meant for visualizing maps)".into(),
            ))
            },
        ))
    }
}

/// Planes and sizes, mirrored in `shaders/upsample.wgsl` and `kernels/upsample.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct UpArgs {
    pub planes: u32,
    pub h: u32,
    pub w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub _pad: [u32; 3],
}
