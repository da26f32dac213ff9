//! Host-side preparation of the layout kernels' launches (`gpu.rs`, for both GPUs): the
//! parameter structs, the 32-bit range checks both
//! kernel sets rely on (they index with `u32`), and the CSR inverse of an index list that
//! `index_select_bwd_f32` gathers through.

use super::IndexArgs;
use crate::device::args::ShapeArgs;
use crate::error::{Error, Result};
use crate::shape::Shape;

/// A size the 32-bit kernels can index, or an error naming the op.
pub fn u32_size(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::Invalid(format!(
            "{what}: {v} elements exceed the 32-bit indexing of the GPU kernels"
        ))
    })
}

/// `permute_fwd_f32`: output dims and, per output axis, the source stride.
pub fn permute(dims: &[usize], perm: &[usize]) -> Result<ShapeArgs> {
    if perm.len() != dims.len() || perm.iter().any(|&p| p >= dims.len()) {
        return Err(Error::Invalid(format!(
            "permute: {perm:?} is not a permutation of {} axes",
            dims.len()
        )));
    }
    let strides = Shape::new(dims.to_vec()).strides();
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let src_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    Ok(ShapeArgs {
        n: u32_size(dims.iter().product(), "permute")?,
        rank: dims.len() as u32,
        op: 0,
        count: 0,
        out_dims: ShapeArgs::axes(&out_dims)?,
        a_strides: ShapeArgs::axes(&src_strides)?,
        b_strides: [0; 8],
        extra: [0; 8],
    })
}

/// The row indices of `index_select` as `u32`, each checked against the `rows` rows.
pub fn indices(idx: &[usize], rows: usize, what: &str) -> Result<Vec<u32>> {
    idx.iter()
        .map(|&i| {
            if i >= rows {
                return Err(Error::Invalid(format!(
                    "{what}: index {i} out of range for {rows} rows"
                )));
            }
            u32_size(i, what)
        })
        .collect()
}

/// The inverse of `idx` in CSR form, for `index_select_bwd_f32`: `offsets[r] .. offsets[r+1]`
/// indexes `sources`, which lists the j with idx[j] = r in ascending order — so every dx row
/// sums its gradient rows in a fixed order.
pub fn inverse_csr(idx: &[usize], rows: usize) -> Result<(Vec<u32>, Vec<u32>)> {
    indices(idx, rows, "index_select backward")?;
    u32_size(idx.len(), "index_select backward")?;
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
    Ok((offsets, sources))
}

/// `index_select_fwd_f32` / `_bwd_f32`: `count` outputs, rows of `row` elements.
pub fn index_select(count: usize, row: usize, what: &str) -> Result<IndexArgs> {
    Ok(IndexArgs {
        count: u32_size(count, what)?,
        row: u32_size(row, what)?,
        ..Default::default()
    })
}

/// The [outer, n, inner] sizes of a slice or cat launch. The [outer, n, inner] tensor is the
/// largest buffer the launch touches: once its size fits the kernels' 32-bit indexing, so does
/// every field.
pub fn slice(
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
