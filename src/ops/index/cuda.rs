//! CUDA launchers of the layout and indexing kernels (`kernels/index.cu`, a port of
//! `shaders/index.wgsl`).
//!
//! * `permute_fwd_f32` (`ShapeArgs`; x, y): y[j] = x[Σ_d j_d · stride_{perm[d]}].
//! * `index_select_fwd_f32` (`IndexArgs`; x, idx, y): output row j = input row idx[j].
//! * `index_select_bwd_f32` (`IndexArgs`; g, offsets, sources, dx): a gather — the host inverts
//!   the index list into CSR form (per input row r, the output rows j with idx[j] = r, ascending)
//!   and each thread sums its column over them in that order (the CPU's), with no atomics.
//! * `slice_fwd_f32`, `slice_bwd_f32`, `cat_fwd_f32` (`IndexArgs`; src, dst) on the
//!   [outer, n, inner] view of the axis; cat launches once per part.
//!
//! Every launch is 1-D: one thread per output element (cat: per element of the part), blocks of
//! 256 threads, ⌈count / 256⌉ blocks. The kernels index in 32-bit unsigned arithmetic, so the
//! launchers refuse tensors of 2³² elements or more; they also check buffer lengths, since an
//! out-of-bounds access on CUDA would poison the whole context.

use super::IndexArgs;
use crate::device::args::ShapeArgs;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

/// A size the 32-bit kernels can index, or an error naming the op.
fn u32_size(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::Invalid(format!(
            "{what}: {v} elements exceed the 32-bit indexing of the cuda kernels"
        ))
    })
}

/// An error unless `buf` holds at least `words` elements.
fn need(buf: &CudaBuffer, words: usize, what: &str) -> Result<()> {
    if buf.len() < words {
        return Err(Error::Invalid(format!(
            "{what}: buffer of {} elements, needs {words}",
            buf.len()
        )));
    }
    Ok(())
}

/// `permute_fwd_f32`.
pub fn permute(x: &CudaBuffer, dims: &[usize], perm: &[usize]) -> Result<CudaBuffer> {
    let g = gpu()?;
    if perm.len() != dims.len() || perm.iter().any(|&p| p >= dims.len()) {
        return Err(Error::Invalid(format!(
            "permute: {perm:?} is not a permutation of {} axes",
            dims.len()
        )));
    }
    let strides = crate::shape::Shape::new(dims.to_vec()).strides();
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let src_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let n = x.len();
    need(x, dims.iter().product(), "permute")?;
    let y = g.alloc(n)?;
    let args = ShapeArgs {
        n: u32_size(n, "permute")?,
        rank: dims.len() as u32,
        op: 0,
        count: 0,
        out_dims: ShapeArgs::axes(&out_dims)?,
        a_strides: ShapeArgs::axes(&src_strides)?,
        b_strides: [0; 8],
        extra: [0; 8],
    };
    g.launch_1d("index", "permute_fwd_f32", &args, &[x, &y], n)?;
    Ok(y)
}

fn as_u32(v: &[usize], what: &str) -> Result<Vec<u32>> {
    v.iter()
        .map(|&i| {
            u32::try_from(i)
                .map_err(|_| Error::Invalid(format!("{what}: index {i} exceeds u32 on cuda")))
        })
        .collect()
}

/// `index_select_fwd_f32`: rows `idx` of x (rows of `row` elements).
pub fn index_select(x: &CudaBuffer, row: usize, idx: &[usize]) -> Result<CudaBuffer> {
    let g = gpu()?;
    let count = idx.len() * row;
    let y = g.alloc(count)?;
    if count == 0 {
        return Ok(y);
    }
    let rows = x.len() / row;
    if let Some(&bad) = idx.iter().find(|&&i| i >= rows) {
        return Err(Error::Invalid(format!(
            "index_select: index {bad} out of range for {rows} rows"
        )));
    }
    u32_size(x.len(), "index_select")?;
    let ib = g.upload(&as_u32(idx, "index_select")?)?;
    let args = IndexArgs {
        count: u32_size(count, "index_select")?,
        row: row as u32,
        ..Default::default()
    };
    g.launch_1d("index", "index_select_fwd_f32", &args, &[x, &ib, &y], count)?;
    Ok(y)
}

/// `index_select_bwd_f32`: dx row r = Σ g row j over the j with idx[j] = r (ascending j).
/// The host inverts `idx` into CSR form (offsets per input row, then the j's).
pub fn index_select_bwd(
    g_in: &CudaBuffer,
    row: usize,
    idx: &[usize],
    rows: usize,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let count = rows * row;
    if count == 0 {
        return g.alloc(0);
    }
    if let Some(&bad) = idx.iter().find(|&&i| i >= rows) {
        return Err(Error::Invalid(format!(
            "index_select backward: index {bad} out of range for {rows} rows"
        )));
    }
    need(g_in, idx.len() * row, "index_select backward")?;
    u32_size(g_in.len(), "index_select backward")?;
    let count32 = u32_size(count, "index_select backward")?;
    let mut offsets = vec![0u32; rows + 1];
    for &i in idx {
        offsets[i + 1] += 1;
    }
    for r in 0..rows {
        offsets[r + 1] += offsets[r];
    }
    let mut fill = offsets.clone();
    let mut sources = vec![0u32; idx.len().max(1)];
    for (j, &i) in idx.iter().enumerate() {
        sources[fill[i] as usize] = j as u32;
        fill[i] += 1;
    }
    let (ob, sb) = (g.upload(&offsets)?, g.upload(&sources)?);
    let dx = g.alloc(count)?;
    let args = IndexArgs {
        count: count32,
        row: row as u32,
        ..Default::default()
    };
    g.launch_1d(
        "index",
        "index_select_bwd_f32",
        &args,
        &[g_in, &ob, &sb, &dx],
        count,
    )?;
    Ok(dx)
}

/// The [outer, n, inner] sizes of a slice or cat launch. The [outer, n, inner] tensor is the
/// largest buffer the launch touches: once its size fits the kernels' 32-bit indexing, so does
/// every field.
fn slice_args(
    count: usize,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
    what: &str,
) -> Result<IndexArgs> {
    if start + len > n {
        return Err(Error::Invalid(format!(
            "{what}: {start}..{} exceeds an axis of size {n}",
            start + len
        )));
    }
    u32_size(outer * n * inner, what)?;
    Ok(IndexArgs {
        count: count as u32,
        outer: outer as u32,
        n: n as u32,
        inner: inner as u32,
        start: start as u32,
        len: len as u32,
        row: 0,
        _pad: 0,
    })
}

/// `slice_fwd_f32` on the [outer, n, inner] view.
pub fn slice(
    x: &CudaBuffer,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let count = outer * len * inner;
    let args = slice_args(count, outer, n, inner, start, len, "slice")?;
    if count > 0 {
        need(x, outer * n * inner, "slice")?;
    }
    let y = g.alloc(count)?;
    g.launch_1d("index", "slice_fwd_f32", &args, &[x, &y], count)?;
    Ok(y)
}

/// `slice_bwd_f32`: g placed at `start` in zeros of the [outer, n, inner] shape.
pub fn slice_bwd(
    grad: &CudaBuffer,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let count = outer * n * inner;
    let args = slice_args(count, outer, n, inner, start, len, "slice backward")?;
    if count > 0 {
        need(grad, outer * len * inner, "slice backward")?;
    }
    let dx = g.alloc(count)?;
    g.launch_1d("index", "slice_bwd_f32", &args, &[grad, &dx], count)?;
    Ok(dx)
}

/// `cat_fwd_f32`, one launch per part, along the middle axis of [outer, total, inner].
pub fn cat(
    parts: &[&CudaBuffer],
    sizes: &[usize],
    outer: usize,
    total: usize,
    inner: usize,
) -> Result<CudaBuffer> {
    let g = gpu()?;
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
        let args = slice_args(count, outer, total, inner, start, s, "cat")?;
        need(p, count, "cat")?;
        g.launch_1d("index", "cat_fwd_f32", &args, &[p, &out], count)?;
        start += s;
    }
    Ok(out)
}
