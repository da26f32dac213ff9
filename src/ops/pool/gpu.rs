//! The GPU launchers of pooling (`kernels/pool.cu`, `shaders/pool.wgsl`), written once for
//! both devices ([`Backend`]).
//!
//! Kernels (all take [`PoolArgs`], then the buffers in the order below):
//! * `max_pool2d_fwd_f32` (x, y, idx) and `avg_pool2d_fwd_f32` / `adaptive_avg_pool2d_fwd_f32`
//!   (x, y): one thread per output element, planes·OH·OW threads.
//! * `max_pool2d_bwd_f32` (g, idx, dx) and `avg_pool2d_bwd_f32` / `adaptive_avg_pool2d_bwd_f32`
//!   (g, dx): one thread per input element, planes·H·W threads, each gathering the gradients of
//!   the windows that hold it (no atomics).
//!
//! The kernels index with 32-bit integers, so both the input and the output must hold fewer
//! than 2³² elements (checked).

use super::PoolArgs;
use crate::device::backend::{fits_u32, Backend};
use crate::error::Result;

fn out_len(a: &PoolArgs) -> usize {
    a.planes as usize * a.out_h as usize * a.out_w as usize
}

fn in_len(a: &PoolArgs) -> usize {
    a.planes as usize * a.h as usize * a.w as usize
}

/// The kernels' 32-bit index arithmetic must cover the input and the output.
fn check(entry: &str, a: &PoolArgs) -> Result<()> {
    fits_u32(entry, Some(in_len(a).max(out_len(a))))
}

/// `max_pool2d_fwd_f32`: values and argmax indices.
pub fn max_pool2d_fwd<B: Backend>(x: &B::Buffer, a: &PoolArgs) -> Result<(B::Buffer, B::Buffer)> {
    check("max_pool2d_fwd_f32", a)?;
    let g = B::get()?;
    let n = out_len(a);
    let (y, idx) = (g.alloc(n)?, g.alloc(n)?);
    g.launch_1d("pool", "max_pool2d_fwd_f32", a, &[x, &y, &idx], n)?;
    Ok((y, idx))
}

/// `max_pool2d_bwd_f32`.
pub fn max_pool2d_bwd<B: Backend>(
    grad: &B::Buffer,
    idx: &B::Buffer,
    a: &PoolArgs,
) -> Result<B::Buffer> {
    check("max_pool2d_bwd_f32", a)?;
    let g = B::get()?;
    let n = in_len(a);
    let dx = g.alloc(n)?;
    g.launch_1d("pool", "max_pool2d_bwd_f32", a, &[grad, idx, &dx], n)?;
    Ok(dx)
}

/// One input, one output: the avg and adaptive passes.
fn simple<B: Backend>(
    entry: &'static str,
    src: &B::Buffer,
    n: usize,
    a: &PoolArgs,
) -> Result<B::Buffer> {
    check(entry, a)?;
    let g = B::get()?;
    let out = g.alloc(n)?;
    g.launch_1d("pool", entry, a, &[src, &out], n)?;
    Ok(out)
}

/// `avg_pool2d_fwd_f32`.
pub fn avg_pool2d_fwd<B: Backend>(x: &B::Buffer, a: &PoolArgs) -> Result<B::Buffer> {
    simple::<B>("avg_pool2d_fwd_f32", x, out_len(a), a)
}

/// `avg_pool2d_bwd_f32`.
pub fn avg_pool2d_bwd<B: Backend>(grad: &B::Buffer, a: &PoolArgs) -> Result<B::Buffer> {
    simple::<B>("avg_pool2d_bwd_f32", grad, in_len(a), a)
}

/// `adaptive_avg_pool2d_fwd_f32`.
pub fn adaptive_avg_pool2d_fwd<B: Backend>(x: &B::Buffer, a: &PoolArgs) -> Result<B::Buffer> {
    simple::<B>("adaptive_avg_pool2d_fwd_f32", x, out_len(a), a)
}

/// `adaptive_avg_pool2d_bwd_f32`.
pub fn adaptive_avg_pool2d_bwd<B: Backend>(grad: &B::Buffer, a: &PoolArgs) -> Result<B::Buffer> {
    simple::<B>("adaptive_avg_pool2d_bwd_f32", grad, in_len(a), a)
}
