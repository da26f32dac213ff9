//! Helpers shared by the CPU kernels: when to go parallel, and how.
//!
//! The CPU kernels use rayon's global thread pool (size it with `RAYON_NUM_THREADS`). Small
//! tensors are processed on the calling thread: forking costs a few microseconds, more than an
//! element-wise op on a few thousand floats.

use rayon::prelude::*;

/// Below this many elements an element-wise kernel runs on one thread.
pub const PAR_THRESHOLD: usize = 1 << 15;

/// Elements per parallel task for element-wise kernels (large enough to amortize scheduling).
pub const PAR_CHUNK: usize = 1 << 14;

/// Number of threads the CPU kernels may use.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// Apply `f(offset, chunk)` to `out` in chunks, in parallel when `out` is large. `offset` is the
/// index of the chunk's first element, so `f` can read the matching inputs.
pub fn for_each_chunk(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if out.len() < PAR_THRESHOLD {
        f(0, out);
    } else {
        out.par_chunks_mut(PAR_CHUNK)
            .enumerate()
            .for_each(|(i, c)| f(i * PAR_CHUNK, c));
    }
}

/// `out[i] = f(i)` for every i, in parallel when large.
pub fn map_indexed(n: usize, f: impl Fn(usize) -> f32 + Sync + Send) -> Vec<f32> {
    let mut out = vec![0.0f32; n];
    for_each_chunk(&mut out, |off, c| {
        for (j, o) in c.iter_mut().enumerate() {
            *o = f(off + j);
        }
    });
    out
}

/// `out[i] = f(a[i])`, in parallel when large.
pub fn map1(a: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    let mut out = vec![0.0f32; a.len()];
    for_each_chunk(&mut out, |off, c| {
        let n = c.len();
        for (o, &x) in c.iter_mut().zip(&a[off..off + n]) {
            *o = f(x);
        }
    });
    out
}

/// `out[i] = f(a[i], b[i])` for equal-length inputs, in parallel when large.
pub fn map2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Vec<f32> {
    debug_assert_eq!(a.len(), b.len());
    let mut out = vec![0.0f32; a.len()];
    for_each_chunk(&mut out, |off, c| {
        let n = c.len();
        let a = &a[off..off + n];
        let b = &b[off..off + n];
        for ((o, &x), &y) in c.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    });
    out
}

/// `out[i] = f(a[i], b[i], c[i])`, in parallel when large.
pub fn map3(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    f: impl Fn(f32, f32, f32) -> f32 + Sync + Send,
) -> Vec<f32> {
    debug_assert!(a.len() == b.len() && b.len() == c.len());
    let mut out = vec![0.0f32; a.len()];
    for_each_chunk(&mut out, |off, o| {
        let n = o.len();
        for j in 0..n {
            o[j] = f(a[off + j], b[off + j], c[off + j]);
        }
    });
    out
}
