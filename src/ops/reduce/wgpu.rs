//! WebGPU launchers of the reductions (`shaders/reduce.wgsl`) on the [outer, n, inner] view.

use super::ReduceArgs;
use crate::device::wgpu::{gpu, grid_groups, GpuBuffer};
use crate::error::Result;

fn args(outer: usize, n: usize, inner: usize) -> ReduceArgs {
    ReduceArgs {
        outer: outer as u32,
        n: n as u32,
        inner: inner as u32,
        _pad: 0,
    }
}

/// `sum_axis_f32`: out[o, i] = Σ_k x[o, k, i]. Long contiguous rows (inner = 1, n ≥ 1024) get
/// one workgroup each (`sum_axis_wg_f32`); everything else one thread per output.
pub fn sum_axis(x: &GpuBuffer, outer: usize, n: usize, inner: usize) -> Result<GpuBuffer> {
    let g = gpu()?;
    let outs = outer * inner;
    let out = g.alloc(outs)?;
    if outs == 0 {
        return Ok(out);
    }
    if n == 0 {
        return g.zeros(outs);
    }
    let a = args(outer, n, inner);
    if inner == 1 && n >= 1024 {
        g.launch(
            "reduce",
            "sum_axis_wg_f32",
            &a,
            &[x, &out],
            grid_groups(outs),
        )?;
    } else {
        g.launch_1d("reduce", "sum_axis_f32", &a, &[x, &out], outs)?;
    }
    Ok(out)
}

/// `max_axis_f32`: maxima and argmax indices (as f32).
pub fn max_axis(
    x: &GpuBuffer,
    outer: usize,
    n: usize,
    inner: usize,
) -> Result<(GpuBuffer, GpuBuffer)> {
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
    grad: &GpuBuffer,
    idx: &GpuBuffer,
    outer: usize,
    n: usize,
    inner: usize,
) -> Result<GpuBuffer> {
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
