//! WebGPU launcher `colorize_fwd_f32` (`shaders/colorize.wgsl`).
//!
//! One thread per (image, block of 4 noise values): 588 threads per image in a 1-D grid of
//! workgroups of 256; binding 0 is [`ColorizeArgs`], then the split's grey pixels
//! (bytes packed 4 to a word), the batch's indices and labels (u32), the constants table and
//! the output.

use super::{ColorizeArgs, IMAGE_LEN};
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

/// Paint the batch `indices` (with `labels`) from the uploaded grey pixels `gray`.
pub fn colorize_fwd(
    gray: &GpuBuffer,
    consts: &GpuBuffer,
    indices: &[usize],
    labels: &[usize],
    args: &ColorizeArgs,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let out = g.alloc(indices.len() * IMAGE_LEN)?;
    if indices.is_empty() {
        return Ok(out);
    }
    let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
    let lab: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let (ib, lb) = (g.upload(&idx)?, g.upload(&lab)?);
    g.launch_1d(
        "colorize",
        "colorize_fwd_f32",
        args,
        &[gray, &ib, &lb, consts, &out],
        indices.len() * (IMAGE_LEN / 4),
    )?;
    Ok(out)
}
