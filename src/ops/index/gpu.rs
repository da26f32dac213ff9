//! The GPU launchers of the layout and indexing kernels (`kernels/index.cu`,
//! `shaders/index.wgsl`), written once for both devices ([`Backend`]).
//!
//! * `permute_fwd_f32` (`ShapeArgs`; x, y): y[j] = x[Σ_d j_d · stride_{perm[d]}].
//! * `index_select_fwd_f32` (`IndexArgs`; x, idx, y): output row j = input row idx[j].
//! * `index_select_bwd_f32` (`IndexArgs`; g, offsets, sources, dx): a gather — the host inverts
//!   the index list into CSR form (per input row r, the output rows j with idx[j] = r, ascending)
//!   and each thread sums its column over them in that order (the CPU's), with no atomics.
//! * `slice_fwd_f32`, `slice_bwd_f32`, `cat_fwd_f32` (`IndexArgs`; src, dst) on the
//!   [outer, n, inner] view of the axis; cat launches once per part.
//!
//! Every launch runs one thread per output element (cat: per element of the part). The
//! parameter structs, the 32-bit range checks and the CSR table come from `gpu_args.rs`; the
//! launchers also check buffer lengths ([`need`]).

use super::gpu_args;
use crate::device::backend::{need, Backend};
use crate::error::{Error, Result};

/// `permute_fwd_f32`.
pub fn permute<B: Backend>(x: &B::Buffer, dims: &[usize], perm: &[usize]) -> Result<B::Buffer> {
    let g = B::get()?;
    let args = gpu_args::permute(dims, perm)?;
    need::<B>(x, dims.iter().product(), "permute")?;
    let n = B::len(x);
    let y = g.alloc(n)?;
    g.launch_1d("index", "permute_fwd_f32", &args, &[x, &y], n)?;
    Ok(y)
}

/// `index_select_fwd_f32`: rows `idx` of x (rows of `row` elements).
pub fn index_select<B: Backend>(x: &B::Buffer, row: usize, idx: &[usize]) -> Result<B::Buffer> {
    let g = B::get()?;
    let count = idx.len() * row;
    let y = g.alloc(count)?;
    if count == 0 {
        return Ok(y);
    }
    gpu_args::u32_size(B::len(x), "index_select")?;
    let ib = g.upload(&gpu_args::indices(idx, B::len(x) / row, "index_select")?)?;
    let args = gpu_args::index_select(count, row, "index_select")?;
    g.launch_1d("index", "index_select_fwd_f32", &args, &[x, &ib, &y], count)?;
    Ok(y)
}

/// `index_select_bwd_f32`: dx row r = Σ g row j over the j with idx[j] = r (ascending j), through
/// the CSR inverse of `idx` built on the host.
pub fn index_select_bwd<B: Backend>(
    g_in: &B::Buffer,
    row: usize,
    idx: &[usize],
    rows: usize,
) -> Result<B::Buffer> {
    let g = B::get()?;
    let count = rows * row;
    if count == 0 {
        return g.alloc(0);
    }
    let (offsets, sources) = gpu_args::inverse_csr(idx, rows)?;
    need::<B>(g_in, idx.len() * row, "index_select backward")?;
    gpu_args::u32_size(B::len(g_in), "index_select backward")?;
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
pub fn slice<B: Backend>(
    x: &B::Buffer,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<B::Buffer> {
    let g = B::get()?;
    let count = outer * len * inner;
    let args = gpu_args::slice(count, outer, n, inner, start, len, "slice")?;
    if count > 0 {
        need::<B>(x, outer * n * inner, "slice")?;
    }
    let y = g.alloc(count)?;
    g.launch_1d("index", "slice_fwd_f32", &args, &[x, &y], count)?;
    Ok(y)
}

/// `slice_bwd_f32`: g placed at `start` in zeros of the [outer, n, inner] shape.
pub fn slice_bwd<B: Backend>(
    grad: &B::Buffer,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<B::Buffer> {
    let g = B::get()?;
    let count = outer * n * inner;
    let args = gpu_args::slice(count, outer, n, inner, start, len, "slice backward")?;
    if count > 0 {
        need::<B>(grad, outer * len * inner, "slice backward")?;
    }
    let dx = g.alloc(count)?;
    g.launch_1d("index", "slice_bwd_f32", &args, &[grad, &dx], count)?;
    Ok(dx)
}

/// `cat_fwd_f32`, one launch per part, along the middle axis of [outer, total, inner].
pub fn cat<B: Backend>(
    parts: &[&B::Buffer],
    sizes: &[usize],
    outer: usize,
    total: usize,
    inner: usize,
) -> Result<B::Buffer> {
    let g = B::get()?;
    if parts.len() != sizes.len() || sizes.iter().sum::<usize>() != total {
        return Err(Error::Invalid(format!(
            "cat: {} parts of sizes {sizes:?} do not fill an axis of {total}",
            parts.len()
        )));
    }
    let out = g.alloc(outer * total * inner)?;
    let mut start = 0;
    for (p, &s) in parts.iter().zip(sizes) {
        let count = outer * s * inner;
        let args = gpu_args::slice(count, outer, total, inner, start, s, "cat")?;
        need::<B>(p, count, "cat")?;
        g.launch_1d("index", "cat_fwd_f32", &args, &[p, &out], count)?;
        start += s;
    }
    Ok(out)
}
