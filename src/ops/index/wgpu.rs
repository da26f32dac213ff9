//! WebGPU launchers of the layout and indexing kernels (`shaders/index.wgsl`).
//!
//! The parameter structs, the 32-bit range checks and the CSR table come from `gpu_args.rs`,
//! shared with the CUDA launchers.

use super::gpu_args;
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

/// `permute_fwd_f32`.
pub fn permute(x: &GpuBuffer, dims: &[usize], perm: &[usize]) -> Result<GpuBuffer> {
    let g = gpu()?;
    let args = gpu_args::permute(dims, perm)?;
    let n = x.len();
    let y = g.alloc(n)?;
    g.launch_1d("index", "permute_fwd_f32", &args, &[x, &y], n)?;
    Ok(y)
}

/// `index_select_fwd_f32`: rows `idx` of x (rows of `row` elements).
pub fn index_select(x: &GpuBuffer, row: usize, idx: &[usize]) -> Result<GpuBuffer> {
    let g = gpu()?;
    let count = idx.len() * row;
    let y = g.alloc(count)?;
    if count == 0 {
        return Ok(y);
    }
    gpu_args::u32_size(x.len(), "index_select")?;
    let ib = g.upload(&gpu_args::indices(idx, x.len() / row, "index_select")?)?;
    let args = gpu_args::index_select(count, row, "index_select")?;
    g.launch_1d("index", "index_select_fwd_f32", &args, &[x, &ib, &y], count)?;
    Ok(y)
}

/// `index_select_bwd_f32`: dx row r = Σ g row j over the j with idx[j] = r (ascending j), through
/// the CSR inverse of `idx` built on the host.
pub fn index_select_bwd(
    g_in: &GpuBuffer,
    row: usize,
    idx: &[usize],
    rows: usize,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let count = rows * row;
    if count == 0 {
        return g.alloc(0);
    }
    let (offsets, sources) = gpu_args::inverse_csr(idx, rows)?;
    gpu_args::u32_size(g_in.len(), "index_select backward")?;
    let args = gpu_args::index_select(count, row, "index_select backward")?;
    let (ob, sb) = (g.upload(&offsets)?, g.upload(&sources)?);
    let dx = g.alloc(count)?;
    g.launch_1d(
        "index",
        "index_select_bwd_f32",
        &args,
        &[g_in, &ob, &sb, &dx],
        count,
    )?;
    Ok(dx)
}

/// `slice_fwd_f32` on the [outer, n, inner] view.
pub fn slice(
    x: &GpuBuffer,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let count = outer * len * inner;
    let args = gpu_args::slice(count, outer, n, inner, start, len, "slice")?;
    let y = g.alloc(count)?;
    g.launch_1d("index", "slice_fwd_f32", &args, &[x, &y], count)?;
    Ok(y)
}

/// `slice_bwd_f32`: g placed at `start` in zeros of the [outer, n, inner] shape.
pub fn slice_bwd(
    grad: &GpuBuffer,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let count = outer * n * inner;
    let args = gpu_args::slice(count, outer, n, inner, start, len, "slice backward")?;
    let dx = g.alloc(count)?;
    g.launch_1d("index", "slice_bwd_f32", &args, &[grad, &dx], count)?;
    Ok(dx)
}

/// `cat_fwd_f32`, one launch per part, along the middle axis of [outer, total, inner].
pub fn cat(
    parts: &[&GpuBuffer],
    sizes: &[usize],
    outer: usize,
    total: usize,
    inner: usize,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let out = g.alloc(outer * total * inner)?;
    let mut start = 0;
    for (p, &s) in parts.iter().zip(sizes) {
        let count = outer * s * inner;
        let args = gpu_args::slice(count, outer, total, inner, start, s, "cat")?;
        g.launch_1d("index", "cat_fwd_f32", &args, &[p, &out], count)?;
        start += s;
    }
    Ok(out)
}
