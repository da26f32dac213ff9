//! CUDA launcher `color_jitter_fwd_f32` (`kernels/color_jitter.cu`).
//!
//! One block of [`LANES`] threads per image (grid = count); the kernel takes [`JitterArgs`] by
//! value, then x, the per-image sample indices (u32) and the output.

use super::{JitterArgs, LANES};
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::Result;

/// Jitter `args.count` images of 3 × `args.hw` values.
pub fn color_jitter_fwd(x: &CudaBuffer, indices: &[u32], args: &JitterArgs) -> Result<CudaBuffer> {
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
        (args.count, 1, 1),
        (LANES as u32, 1, 1),
    )?;
    Ok(out)
}
