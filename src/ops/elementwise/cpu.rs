//! CPU kernels of the element-wise family.
//!
//! Broadcasting follows NumPy's rule: shapes are aligned on the right, and an axis of size 1 (or
//! a missing leading axis) repeats. A kernel sees each operand through *broadcast strides*: the
//! contiguous stride of an axis, or 0 where the operand repeats along it, so output element
//! `(i0, …, i_{r−1})` reads operand element `Σ_d i_d · bstride_d`.

use super::{BinaryOp, UnaryOp};
use crate::device::cpu::{for_each_chunk, map1, map2, take, take_zeroed};
use rayon::prelude::*;

/// The broadcast shape of two shapes, or `None` if they are incompatible.
pub fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Strides (in elements) to read an operand of dims `src` as if it had dims `out`.
pub fn broadcast_strides(src: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let mut strides = vec![0; r];
    let mut s = 1;
    for i in (0..src.len()).rev() {
        let o = i + r - src.len();
        strides[o] = if src[i] == 1 { 0 } else { s };
        s *= src[i];
    }
    strides
}

/// Offset of the first element of output row `row` (all axes but the last), given the
/// operand's broadcast strides.
fn row_offset(mut row: usize, out: &[usize], strides: &[usize]) -> usize {
    let mut off = 0;
    for d in (0..out.len().saturating_sub(1)).rev() {
        off += (row % out[d]) * strides[d];
        row /= out[d];
    }
    off
}

/// `out = f(a, b)` with broadcasting (`binary_fwd_f32`).
pub fn binary(
    op: BinaryOp,
    a: &[f32],
    a_dims: &[usize],
    b: &[f32],
    b_dims: &[usize],
    out_dims: &[usize],
) -> Vec<f32> {
    let f = op.scalar_fn();
    if a_dims == b_dims {
        return map2(a, b, f);
    }
    if b.len() == 1 {
        let y = b[0];
        return map1(a, move |x| f(x, y));
    }
    if a.len() == 1 {
        let x = a[0];
        return map1(b, move |y| f(x, y));
    }
    let n: usize = out_dims.iter().product();
    let last = *out_dims.last().unwrap_or(&1);
    let sa = broadcast_strides(a_dims, out_dims);
    let sb = broadcast_strides(b_dims, out_dims);
    let (sal, sbl) = (*sa.last().unwrap_or(&0), *sb.last().unwrap_or(&0));
    let mut out = take(n);
    let rows = n / last.max(1);
    let body = |row: usize, o: &mut [f32]| {
        let oa = row_offset(row, out_dims, &sa);
        let ob = row_offset(row, out_dims, &sb);
        for (j, v) in o.iter_mut().enumerate() {
            *v = f(a[oa + j * sal], b[ob + j * sbl]);
        }
    };
    if n >= crate::device::cpu::PAR_THRESHOLD && rows > 1 {
        out.par_chunks_mut(last)
            .enumerate()
            .for_each(|(r, o)| body(r, o));
    } else {
        for (r, o) in out.chunks_mut(last.max(1)).enumerate() {
            body(r, o);
        }
    }
    out
}

/// `out = f(x)` element-wise (`unary_fwd_f32`).
pub fn unary(op: UnaryOp, x: &[f32]) -> Vec<f32> {
    match op {
        UnaryOp::Neg => map1(x, |v| -v),
        UnaryOp::Exp => map1(x, f32::exp),
        UnaryOp::Log => map1(x, f32::ln),
        UnaryOp::Sqrt => map1(x, f32::sqrt),
        UnaryOp::Abs => map1(x, f32::abs),
        UnaryOp::Sign => map1(x, |v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        UnaryOp::AddScalar(s) => map1(x, move |v| v + s),
        UnaryOp::MulScalar(s) => map1(x, move |v| v * s),
        UnaryOp::PowScalar(p) => map1(x, move |v| pow(v, p)),
        UnaryOp::Clamp(lo, hi) => map1(x, move |v| v.max(lo).min(hi)),
        UnaryOp::InRange(lo, hi) => map1(x, move |v| if v >= lo && v <= hi { 1.0 } else { 0.0 }),
    }
}

/// x^p with the common exponents done exactly (x² as x·x, as PyTorch does).
fn pow(v: f32, p: f32) -> f32 {
    if p == 2.0 {
        v * v
    } else if p == 1.0 {
        v
    } else if p == 0.5 {
        v.sqrt()
    } else {
        v.powf(p)
    }
}

/// Sum `src` (dims `src_dims`) down to `dst_dims`, the inverse of broadcasting
/// (`sum_to_fwd_f32`): `dst[j] = Σ src[i]` over every `i` that broadcasting maps to `j`.
/// Each output element is summed by one task in a fixed order: deterministic.
pub fn sum_to(src: &[f32], src_dims: &[usize], dst_dims: &[usize]) -> Vec<f32> {
    let dst_n: usize = dst_dims.iter().product();
    if src_dims == dst_dims {
        return src.to_vec();
    }
    if dst_n == 1 {
        return vec![sum_pairwise(src)];
    }
    let strides = broadcast_strides(dst_dims, src_dims);
    let r = src_dims.len();
    // Fast path: the destination is a suffix of the source (per-row operand, e.g. a bias):
    // dst[j] = Σ_rows src[row·dst_n + j].
    let suffix = dst_dims.len() <= r && src_dims[r - dst_dims.len()..] == *dst_dims;
    if suffix {
        let rows = src.len() / dst_n;
        let mut out = take_zeroed(dst_n);
        for_each_chunk(&mut out, |off, o| {
            for row in 0..rows {
                let s = &src[row * dst_n + off..row * dst_n + off + o.len()];
                for (v, &x) in o.iter_mut().zip(s) {
                    *v += x;
                }
            }
        });
        return out;
    }
    // General path: walk the source once, adding each element into its destination.
    let mut out = take_zeroed(dst_n);
    let last = src_dims[r - 1];
    let sl = strides[r - 1];
    for (row, chunk) in src.chunks(last).enumerate() {
        let base = row_offset(row, src_dims, &strides);
        for (j, &x) in chunk.iter().enumerate() {
            out[base + j * sl] += x;
        }
    }
    out
}

/// Copy `src` (dims `src_dims`) to the larger broadcast shape `dst_dims` (`broadcast_to_fwd_f32`):
/// `dst[i] = src[Σ_d i_d · bstride_d]`.
pub fn broadcast_to(src: &[f32], src_dims: &[usize], dst_dims: &[usize]) -> Vec<f32> {
    let n: usize = dst_dims.iter().product();
    if src.len() == 1 {
        return vec![src[0]; n];
    }
    let strides = broadcast_strides(src_dims, dst_dims);
    let last = (*dst_dims.last().unwrap_or(&1)).max(1);
    let sl = *strides.last().unwrap_or(&0);
    let mut out = take(n);
    let body = |row: usize, o: &mut [f32]| {
        let base = row_offset(row, dst_dims, &strides);
        for (j, v) in o.iter_mut().enumerate() {
            *v = src[base + j * sl];
        }
    };
    if n >= crate::device::cpu::PAR_THRESHOLD {
        out.par_chunks_mut(last)
            .enumerate()
            .for_each(|(r, o)| body(r, o));
    } else {
        for (r, o) in out.chunks_mut(last).enumerate() {
            body(r, o);
        }
    }
    out
}

/// Pairwise (tree) summation: error grows like log n instead of n.
pub fn sum_pairwise(x: &[f32]) -> f32 {
    if x.len() <= 256 {
        // 8 independent accumulators vectorize and shorten the dependency chain.
        let mut acc = [0.0f32; 8];
        let chunks = x.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for k in 0..8 {
                acc[k] += c[k];
            }
        }
        let mut s = acc.iter().sum::<f32>();
        for &v in rest {
            s += v;
        }
        s
    } else {
        let mid = x.len() / 2;
        sum_pairwise(&x[..mid]) + sum_pairwise(&x[mid..])
    }
}
