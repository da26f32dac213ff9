//! The GPU launcher `color_jitter_fwd_f32` (`kernels/color_jitter.cu`,
//! `shaders/color_jitter.wgsl`), written once for both devices ([`Backend`]).
//!
//! One group of [`LANES`] threads per image (`@workgroup_size(256)` in the shader; WebGPU folds
//! the groups into two dimensions past 65,535 images); the kernel takes [`JitterArgs`], then x,
//! the per-image sample indices (u32) and the output.

use super::{JitterArgs, LANES};
use crate::device::backend::Backend;
use crate::error::Result;

/// Jitter `args.count` images of 3 × `args.hw` values.
pub fn color_jitter_fwd<B: Backend>(
    x: &B::Buffer,
    indices: &[u32],
    args: &JitterArgs,
) -> Result<B::Buffer> {
    let g = B::get()?;
    let out = g.alloc(B::len(x))?;
    if indices.is_empty() {
        return Ok(out);
    }
    let idx = g.upload(indices)?;
    g.launch_groups(
        "color_jitter",
        "color_jitter_fwd_f32",
        args,
        &[x, &idx, &out],
        args.count as usize,
        LANES as u32,
    )?;
    Ok(out)
}
