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
    let mut out = take(n);
    for_each_chunk(&mut out, |off, c| {
        for (j, o) in c.iter_mut().enumerate() {
            *o = f(off + j);
        }
    });
    out
}

/// `out[i] = f(a[i])`, in parallel when large.
pub fn map1(a: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    let mut out = take(a.len());
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
    let mut out = take(a.len());
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
    let mut out = take(a.len());
    for_each_chunk(&mut out, |off, o| {
        let n = o.len();
        for j in 0..n {
            o[j] = f(a[off + j], b[off + j], c[off + j]);
        }
    });
    out
}

// ----- the buffer pool (a caching allocator) -----

use std::collections::HashMap;
use std::sync::Mutex;

/// Buffers smaller than this go straight to the system allocator (it is fast for them).
const MIN_POOLED_LEN: usize = 4096;
/// At most this many bytes wait in the pool; beyond that, freed buffers go back to the system.
const POOL_MAX_BYTES: usize = 1 << 30;

/// Freed buffers by length, and for each length how many buffers [`take`] had to allocate
/// afresh — the most of that length ever needed at once through the pool. A freed buffer is
/// kept only while fewer than that many wait: buffers of a length that no kernel takes from
/// the pool (made elsewhere, with `vec!` or `collect`) go straight back to the system, so they
/// cannot fill the pool (a sparse-autoencoder run once held 1 GB of them).
struct Pool {
    by_len: HashMap<usize, Vec<Vec<f32>>>,
    fresh: HashMap<usize, usize>,
    bytes: usize,
}

fn with_pool<T>(f: impl FnOnce(&mut Pool) -> T) -> Option<T> {
    let mut g = POOL.lock().ok()?;
    let pool = g.get_or_insert_with(|| Pool {
        by_len: HashMap::new(),
        fresh: HashMap::new(),
        bytes: 0,
    });
    Some(f(pool))
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// A buffer of exactly `n` elements whose contents are unspecified (a reused buffer holds an
/// earlier tensor's values): for kernels that write every element. Training allocates the same
/// sizes every step, so reusing freed buffers saves the page faults and zeroing of fresh memory,
/// which cost more than the small kernels themselves. In debug builds a reused buffer is filled
/// with NaN, so a kernel that forgets an element fails its tests.
pub fn take(n: usize) -> Vec<f32> {
    if n >= MIN_POOLED_LEN {
        let reused = with_pool(|pool| match pool.by_len.get_mut(&n).and_then(Vec::pop) {
            Some(v) => {
                pool.bytes -= n * 4;
                Some(v)
            }
            None => {
                *pool.fresh.entry(n).or_default() += 1;
                None
            }
        })
        .flatten();
        if let Some(mut v) = reused {
            if cfg!(debug_assertions) {
                v.fill(f32::NAN);
            }
            return v;
        }
    }
    vec![0.0; n]
}

/// A zero-filled buffer of `n` elements (for kernels that accumulate into their output).
pub fn take_zeroed(n: usize) -> Vec<f32> {
    let mut v = take(n);
    v.fill(0.0);
    v
}

/// Return a buffer to the pool (called when CPU storage is dropped).
pub fn give(v: Vec<f32>) {
    let n = v.len();
    if n < MIN_POOLED_LEN || v.capacity() != n {
        return;
    }
    with_pool(|pool| {
        let wanted = pool.fresh.get(&n).copied().unwrap_or(0);
        let waiting = pool.by_len.get(&n).map_or(0, Vec::len);
        if waiting < wanted && pool.bytes + n * 4 <= POOL_MAX_BYTES {
            pool.bytes += n * 4;
            pool.by_len.entry(n).or_default().push(v);
        }
    });
}

/// Bytes currently waiting in the pool (for tests and diagnostics).
pub fn pooled_bytes() -> usize {
    POOL.lock()
        .ok()
        .and_then(|g| g.as_ref().map(|p| p.bytes))
        .unwrap_or(0)
}

/// Host memory of a CPU tensor: a `Vec<f32>` that returns to the pool when dropped.
#[derive(Debug)]
pub struct CpuBuffer(Vec<f32>);

impl CpuBuffer {
    /// Take the vector out (it then bypasses the pool).
    pub fn into_vec(mut self) -> Vec<f32> {
        std::mem::take(&mut self.0)
    }
}

impl From<Vec<f32>> for CpuBuffer {
    fn from(v: Vec<f32>) -> Self {
        CpuBuffer(v)
    }
}

impl Clone for CpuBuffer {
    fn clone(&self) -> Self {
        let mut v = take(self.0.len());
        v.copy_from_slice(&self.0);
        CpuBuffer(v)
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

impl std::ops::Deref for CpuBuffer {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for CpuBuffer {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    fn waiting(n: usize) -> usize {
        with_pool(|p| p.by_len.get(&n).map_or(0, Vec::len)).unwrap_or(0)
    }

    #[test]
    fn the_pool_keeps_only_lengths_it_hands_out_and_no_more_than_were_needed_at_once() {
        // Lengths no other test uses (the pool is process-wide).
        let (taken, foreign) = (MIN_POOLED_LEN + 7919, MIN_POOLED_LEN + 7927);
        give(vec![0.0; foreign]);
        assert_eq!(
            waiting(foreign),
            0,
            "a length never taken must not be pooled"
        );
        let (a, b) = (take(taken), take(taken));
        give(a);
        give(b);
        assert_eq!(waiting(taken), 2);
        give(vec![0.0; taken]); // a third one, made elsewhere: two were ever needed at once
        assert_eq!(waiting(taken), 2);
        let c = take(taken);
        assert_eq!(waiting(taken), 1, "take reuses a waiting buffer");
        give(c);
    }
}
