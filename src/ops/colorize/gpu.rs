//! The GPU launcher `colorize_fwd_f32` (`kernels/colorize.cu`, `shaders/colorize.wgsl`),
//! written once for both devices ([`Backend`]).
//!
//! One thread per (image, block of 4 noise values): 588 threads per image; the kernel takes
//! [`ColorizeArgs`], then the split's grey pixels (bytes packed 4 to a word), the batch's
//! indices and labels (u32), the constants table and the output.

use super::{ColorizeArgs, IMAGE_LEN};
use crate::device::backend::Backend;
use crate::error::Result;

/// Paint the batch `indices` (with `labels`) from the uploaded grey pixels `gray`.
pub fn colorize_fwd<B: Backend>(
    gray: &B::Buffer,
    consts: &B::Buffer,
    indices: &[usize],
    labels: &[usize],
    args: &ColorizeArgs,
) -> Result<B::Buffer> {
    let g = B::get()?;
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
