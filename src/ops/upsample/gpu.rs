//! The GPU launcher `upsample_bilinear2d_fwd_f32` (`kernels/upsample.cu`,
//! `shaders/upsample.wgsl`), written once for both devices ([`Backend`]).
//!
//! One thread per output element i = (p·out_h + oy)·out_w + ox (n = planes·out_h·out_w); the
//! kernel takes [`UpArgs`], then x and y. Forward only, as on the CPU (the op has no backward).

use super::UpArgs;
use crate::device::backend::{fits_u32, Backend};
use crate::error::{Error, Result};

/// Upsample `planes` planes of h×w to oh×ow.
pub fn upsample_bilinear2d_fwd<B: Backend>(
    x: &B::Buffer,
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Result<B::Buffer> {
    let g = B::get()?;
    let n = planes * oh * ow;
    let y = g.alloc(n)?;
    if n == 0 {
        return Ok(y);
    }
    let src = planes * h * w;
    if h == 0 || w == 0 || B::len(x) < src {
        return Err(Error::Invalid(format!(
            "upsample_bilinear2d: {planes} planes of {h}×{w} need a nonempty buffer of {src} \
             elements, got {}",
            B::len(x)
        )));
    }
    fits_u32("upsample_bilinear2d", Some(n.max(src)))?;
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
