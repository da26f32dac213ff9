//! WebGPU launcher `upsample_bilinear2d_fwd_f32` (`shaders/upsample.wgsl`).

use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

/// Planes and sizes, mirrored in WGSL.
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

/// Upsample `planes` planes of h×w to oh×ow.
pub fn upsample_bilinear2d_fwd(
    x: &GpuBuffer,
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let n = planes * oh * ow;
    let y = g.alloc(n)?;
    let args = UpArgs {
        planes: planes as u32,
        h: h as u32,
        w: w as u32,
        out_h: oh as u32,
        out_w: ow as u32,
        _pad: [0; 3],
    };
    g.launch_1d(
        "upsample",
        "upsample_bilinear2d_fwd_f32",
        &args,
        &[x, &y],
        n,
    )?;
    Ok(y)
}
