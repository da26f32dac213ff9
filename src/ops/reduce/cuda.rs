//! CUDA launchers of the reductions (`kernels/reduce.cu`, a port of `shaders/reduce.wgsl`) on
//! the [outer, n, inner] view. Every kernel takes [`ReduceArgs`] by value, then its buffers.
//!
//! * `sum_axis_f32` (x, out): one thread per output, k ascending; 1-D, outer·inner threads.
//! * `sum_axis_wg_f32` (x, out): long contiguous rows (inner = 1, n ≥ 1024): one block of 256
//!   threads per output (grid = outer·inner blocks), strided partial sums then a fixed tree in
//!   shared memory, the same order as the WGSL workgroup version.
//! * `max_axis_f32` (x, val, idx): one thread per output; 1-D, outer·inner threads.
//! * `max_bwd_f32` (g, idx, dx): one thread per dx element; 1-D, outer·n·inner threads.
//!
//! 1-D launches use ⌈threads / 256⌉ blocks of 256. The kernels index with 32-bit integers, so
//! the [outer, n, inner] view must hold fewer than 2³² elements (checked).

use super::ReduceArgs;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

/// Threads per block of `sum_axis_wg_f32`: its shared-memory tree is sized for exactly
/// `BLOCK` = 256 threads (kernels/common.cuh).
const WG_THREADS: u32 = 256;

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
    match total {
        Some(t) if t <= u32::MAX as usize => Ok(()),
        _ => Err(Error::Invalid(format!(
            "{entry}: a [{outer}, {n}, {inner}] view exceeds the 2^32 elements a CUDA reduction \
             kernel can index"
        ))),
    }
}

/// `sum_axis_f32`: out[o, i] = Σ_k x[o, k, i]. Long contiguous rows (inner = 1, n ≥ 1024) get
/// one block each (`sum_axis_wg_f32`); everything else one thread per output.
pub fn sum_axis(x: &CudaBuffer, outer: usize, n: usize, inner: usize) -> Result<CudaBuffer> {
    let g = gpu()?;
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
        // outs ≤ 2³² / 1024, well inside the 2³¹ − 1 blocks a grid can have along x.
        g.launch(
            "reduce",
            "sum_axis_wg_f32",
            &a,
            &[x, &out],
            (outs as u32, 1, 1),
            (WG_THREADS, 1, 1),
        )?;
    } else {
        g.launch_1d("reduce", "sum_axis_f32", &a, &[x, &out], outs)?;
    }
    Ok(out)
}

/// `max_axis_f32`: maxima and argmax indices (as f32).
pub fn max_axis(
    x: &CudaBuffer,
    outer: usize,
    n: usize,
    inner: usize,
) -> Result<(CudaBuffer, CudaBuffer)> {
    check("max_axis_f32", outer, n, inner)?;
    let g = gpu()?;
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
pub fn max_bwd(
    grad: &CudaBuffer,
    idx: &CudaBuffer,
    outer: usize,
    n: usize,
    inner: usize,
) -> Result<CudaBuffer> {
    check("max_bwd_f32", outer, n, inner)?;
    let g = gpu()?;
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
