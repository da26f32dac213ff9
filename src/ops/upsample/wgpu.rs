//! WebGPU launcher `upsample_bilinear2d_fwd_f32` (`shaders/upsample.wgsl`).

use super::UpArgs;
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

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
