//! CPU kernels for layout and indexing.

use crate::device::cpu::take_zeroed;

/// `permute_fwd_f32`: out[j] = x[Σ_i idx_i · stride_{perm[i]}] where (idx_i) is j's multi-index
/// in the permuted shape.
pub fn permute(x: &[f32], dims: &[usize], perm: &[usize]) -> Vec<f32> {
    let r = dims.len();
    let strides = crate::shape::Shape::new(dims.to_vec()).strides();
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let src_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let n = x.len();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; r];
    let mut off = 0usize;
    for _ in 0..n {
        out.push(x[off]);
        // advance the multi-index like an odometer, updating the source offset incrementally
        for d in (0..r).rev() {
            idx[d] += 1;
            off += src_strides[d];
            if idx[d] < out_dims[d] {
                break;
            }
            off -= src_strides[d] * out_dims[d];
            idx[d] = 0;
        }
    }
    out
}

/// `index_select_fwd_f32`: out row j = x row idx[j] (rows of `row` elements).
pub fn index_select(x: &[f32], row: usize, idx: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(idx.len() * row);
    for &i in idx {
        out.extend_from_slice(&x[i * row..(i + 1) * row]);
    }
    out
}

/// `index_select_bwd_f32`: dx row idx[j] += g row j, in j order (deterministic).
pub fn index_select_bwd(g: &[f32], row: usize, idx: &[usize], rows: usize) -> Vec<f32> {
    let mut dx = take_zeroed(rows * row);
    for (j, &i) in idx.iter().enumerate() {
        for (d, &v) in dx[i * row..(i + 1) * row]
            .iter_mut()
            .zip(&g[j * row..(j + 1) * row])
        {
            *d += v;
        }
    }
    dx
}

/// `slice_fwd_f32` on the [outer, n, inner] view.
pub fn slice(
    x: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        out.extend_from_slice(&x[(o * n + start) * inner..(o * n + start + len) * inner]);
    }
    out
}

/// `slice_bwd_f32`: g placed at `start` in zeros of the [outer, n, inner] shape.
pub fn slice_bwd(
    g: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Vec<f32> {
    let mut dx = take_zeroed(outer * n * inner);
    for o in 0..outer {
        dx[(o * n + start) * inner..(o * n + start + len) * inner]
            .copy_from_slice(&g[o * len * inner..(o + 1) * len * inner]);
    }
    dx
}

/// `cat_fwd_f32`: parts laid one after another along the middle axis of [outer, total, inner].
pub fn cat(
    parts: &[&[f32]],
    sizes: &[usize],
    outer: usize,
    total: usize,
    inner: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(outer * total * inner);
    for o in 0..outer {
        for (p, &s) in parts.iter().zip(sizes) {
            out.extend_from_slice(&p[o * s * inner..(o + 1) * s * inner]);
        }
    }
    out
}
