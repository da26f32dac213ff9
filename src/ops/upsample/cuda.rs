//! CUDA launcher `upsample_bilinear2d_fwd_f32` (`kernels/upsample.cu`, a port of
//! `shaders/upsample.wgsl`).
//!
//! One thread per output element i = (p·out_h + oy)·out_w + ox, in a 1-D grid of ⌈n / 256⌉
//! blocks of 256 threads (n = planes·out_h·out_w); the kernel takes [`UpArgs`] by value, then
//! x and y. Forward only, as on the other devices (the op has no backward).

use super::UpArgs;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

/// Upsample `planes` planes of h×w to oh×ow.
pub fn upsample_bilinear2d_fwd(
    x: &CudaBuffer,
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let n = planes * oh * ow;
    let y = g.alloc(n)?;
    if n == 0 {
        return Ok(y);
    }
    let src = planes * h * w;
    if h == 0 || w == 0 || x.len() < src {
        return Err(Error::Invalid(format!(
            "upsample_bilinear2d: {planes} planes of {h}×{w} need a nonempty buffer of {src} \
             elements, got {}",
            x.len()
        )));
    }
    if u32::try_from(n.max(src)).is_err() {
        return Err(Error::Invalid(format!(
            "upsample_bilinear2d: {} elements exceed the 32-bit indexing of the cuda kernels",
            n.max(src)
        )));
    }
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
