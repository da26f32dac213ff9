//! The GPU launchers of the reductions (`kernels/reduce.cu`, `shaders/reduce.wgsl`) on the
//! [outer, n, inner] view, written once for both devices ([`Backend`]). Every kernel takes
//! [`ReduceArgs`], then its buffers.
//!
//! * `sum_axis_f32` (x, out): one thread per output, k ascending; outer·inner threads.
//! * `sum_axis_wg_f32` (x, out): long contiguous rows (inner = 1, n ≥ 1024): one group of 256
//!   threads per output, strided partial sums then a fixed tree in shared (workgroup) memory,
//!   the same order on both devices.
//! * `max_axis_f32` (x, val, idx): one thread per output; outer·inner threads.
//! * `max_bwd_f32` (g, idx, dx): one thread per dx element; outer·n·inner threads.
//!
//! The kernels index with 32-bit integers, so the [outer, n, inner] view must hold fewer than
//! 2³² elements (checked).

use super::ReduceArgs;
use crate::device::backend::{fits_u32, Backend};
use crate::error::Result;

/// Threads per group of `sum_axis_wg_f32`: its shared-memory tree is sized for exactly 256
/// threads (`BLOCK` in kernels/common.cuh, `@workgroup_size(256)` in shaders/reduce.wgsl).
pub const WG_THREADS: u32 = 256;

fn args(outer: usize, n: usize, inner: usize) -> ReduceArgs {
    ReduceArgs {
        outer: outer as u32,
        n: n as u32,
        inner: inner as u32,
        _pad: 0,
    }
}

/// The kernels' 32-bit index arithmetic must cover the whole [outer, n, inner] view.
fn check(entry: &str, outer: usize, n: usize, inner: usize) -> Result<()> {
    let total = outer
        .checked_mul(n.max(1))
        .and_then(|v| v.checked_mul(inner));
    fits_u32(
        &format!("{entry} over a [{outer}, {n}, {inner}] view"),
        total,
    )
}

/// `sum_axis_f32`: out[o, i] = Σ_k x[o, k, i]. Long contiguous rows (inner = 1, n ≥ 1024) get
/// one group each (`sum_axis_wg_f32`); everything else one thread per output.
pub fn sum_axis<B: Backend>(
    x: &B::Buffer,
    outer: usize,
    n: usize,
    inner: usize,
) -> Result<B::Buffer> {
    let g = B::get()?;
    let outs = outer * inner;
    if outs == 0 {
        return g.alloc(outs);
    }
    if n == 0 {
        return g.zeros(outs);
    }
    check("sum_axis_f32", outer, n, inner)?;
    let out = g.alloc(outs)?;
    let a = args(outer, n, inner);
    if inner == 1 && n >= 1024 {
        g.launch_groups(
            "reduce",
            "sum_axis_wg_f32",
            &a,
            &[x, &out],
            outs,
            WG_THREADS,
        )?;
    } else {
        g.launch_1d("reduce", "sum_axis_f32", &a, &[x, &out], outs)?;
    }
    Ok(out)
}

/// `max_axis_f32`: maxima and argmax indices (as f32).
pub fn max_axis<B: Backend>(
    x: &B::Buffer,
    outer: usize,
    n: usize,
    inner: usize,
) -> Result<(B::Buffer, B::Buffer)> {
    check("max_axis_f32", outer, n, inner)?;
    let g = B::get()?;
    let outs = outer * inner;
    let (vals, idx) = (g.alloc(outs)?, g.alloc(outs)?);
    g.launch_1d(
        "reduce",
        "max_axis_f32",
        &args(outer, n, inner),
        &[x, &vals, &idx],
        outs,
    )?;
    Ok((vals, idx))
}

/// `max_bwd_f32`: g placed at the argmax positions, zeros elsewhere.
pub fn max_bwd<B: Backend>(
    grad: &B::Buffer,
    idx: &B::Buffer,
    outer: usize,
    n: usize,
    inner: usize,
) -> Result<B::Buffer> {
    check("max_bwd_f32", outer, n, inner)?;
    let g = B::get()?;
    let total = outer * n * inner;
    let dx = g.alloc(total)?;
    g.launch_1d(
        "reduce",
        "max_bwd_f32",
        &args(outer, n, inner),
        &[grad, idx, &dx],
        total,
    )?;
    Ok(dx)
}
