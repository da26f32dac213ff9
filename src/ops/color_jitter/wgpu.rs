//! WebGPU launcher `color_jitter_fwd_f32` (`shaders/color_jitter.wgsl`).
//!
//! One workgroup of [`super::LANES`] threads per image (folded into two dimensions past
//! 65,535 images); binding 0 is [`JitterArgs`], then x, the per-image sample indices (u32) and
//! the output.

use super::JitterArgs;
use crate::device::wgpu::{gpu, grid_groups, GpuBuffer};
use crate::error::Result;

/// Jitter `args.count` images of 3 × `args.hw` values.
pub fn color_jitter_fwd(x: &GpuBuffer, indices: &[u32], args: &JitterArgs) -> Result<GpuBuffer> {
    let g = gpu()?;
    let out = g.alloc(x.len())?;
    if indices.is_empty() {
        return Ok(out);
    }
    let idx = g.upload(indices)?;
    g.launch(
        "color_jitter",
        "color_jitter_fwd_f32",
        args,
        &[x, &idx, &out],
        grid_groups(args.count as usize),
    )?;
    Ok(out)
}
