//! WebGPU launchers of the layout and indexing kernels (`shaders/index.wgsl`).

use super::IndexArgs;
use crate::device::args::ShapeArgs;
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::{Error, Result};

fn u(v: usize) -> u32 {
    v as u32
}

/// `permute_fwd_f32`.
pub fn permute(x: &GpuBuffer, dims: &[usize], perm: &[usize]) -> Result<GpuBuffer> {
    let g = gpu()?;
    let strides = crate::shape::Shape::new(dims.to_vec()).strides();
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let src_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let n = x.len();
    let y = g.alloc(n)?;
    let args = ShapeArgs {
        n: u(n),
        rank: u(dims.len()),
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
                .map_err(|_| Error::Invalid(format!("{what}: index {i} exceeds u32 on wgpu")))
        })
        .collect()
}

/// `index_select_fwd_f32`: rows `idx` of x (rows of `row` elements).
pub fn index_select(x: &GpuBuffer, row: usize, idx: &[usize]) -> Result<GpuBuffer> {
    let g = gpu()?;
    let count = idx.len() * row;
    let y = g.alloc(count)?;
    if count == 0 {
        return Ok(y);
    }
    let ib = g.upload(&as_u32(idx, "index_select")?)?;
    let args = IndexArgs {
        count: u(count),
        row: u(row),
        ..Default::default()
    };
    g.launch_1d("index", "index_select_fwd_f32", &args, &[x, &ib, &y], count)?;
    Ok(y)
}

/// `index_select_bwd_f32`: dx row r = Σ g row j over the j with idx[j] = r (ascending j).
/// The host inverts `idx` into CSR form (offsets per input row, then the j's).
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
        sources[fill[i] as usize] = u(j);
        fill[i] += 1;
    }
    let (ob, sb) = (g.upload(&offsets)?, g.upload(&sources)?);
    let dx = g.alloc(count)?;
    let args = IndexArgs {
        count: u(count),
        row: u(row),
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

fn slice_args(
    count: usize,
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> IndexArgs {
    IndexArgs {
        count: u(count),
        outer: u(outer),
        n: u(n),
        inner: u(inner),
        start: u(start),
        len: u(len),
        row: 0,
        _pad: 0,
    }
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
    let y = g.alloc(count)?;
    let args = slice_args(count, outer, n, inner, start, len);
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
    let dx = g.alloc(count)?;
    let args = slice_args(count, outer, n, inner, start, len);
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
        let args = slice_args(count, outer, total, inner, start, s);
        g.launch_1d("index", "cat_fwd_f32", &args, &[p, &out], count)?;
        start += s;
    }
    Ok(out)
}
