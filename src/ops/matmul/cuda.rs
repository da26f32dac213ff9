//! CUDA launchers of matmul (`kernels/matmul.cu`), C[m×n] = op(A)·op(B).
//!
//! * [`matmul`]: the tiled GEMM, blocks of 256 threads on a 1-D grid of one block per output
//!   tile: `matmul_fwd_128x128_f32` (128×128 tiles, 8×8 per thread) when there are at least
//!   [`BIG_TILE_MIN_BLOCKS`] such tiles, else `matmul_fwd_f32` (64×64 tiles, 4×4 per thread),
//!   so that small products still spread over the GPU's multiprocessors.
//! * [`matmul_naive`]: `matmul_fwd_naive_f32`, one thread per output element (`⌈m·n / 256⌉`
//!   blocks of 256), kept for the bench's comparison.
//!
//! Both sum each output over k in ascending order, so they agree with each other bit for bit.

use super::MatmulArgs;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

/// Threads per block of the tiled kernels.
const THREADS: u32 = 256;

/// The 128×128 kernel runs when it has at least this many tiles (about two blocks per
/// multiprocessor of an H100); below that the 64×64 kernel's four times as many blocks win.
pub const BIG_TILE_MIN_BLOCKS: usize = 256;

/// C[m×n] = op(A)·op(B), tiled.
pub fn matmul(
    a: &CudaBuffer,
    b: &CudaBuffer,
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let args = MatmulArgs::new(m, n, k, trans_a, trans_b)?;
    if m * n == 0 {
        return g.alloc(0);
    }
    if k == 0 {
        return g.zeros(m * n);
    }
    let big = m.div_ceil(128) * n.div_ceil(128);
    // (module, entry) literal pairs, so that tests/cuda_kernels_compile.rs checks each name.
    let (module, entry, tile) = if big >= BIG_TILE_MIN_BLOCKS {
        ("matmul", "matmul_fwd_128x128_f32", 128)
    } else {
        ("matmul", "matmul_fwd_f32", 64)
    };
    let blocks = m.div_ceil(tile) * n.div_ceil(tile);
    if blocks > i32::MAX as usize {
        return Err(Error::Invalid(format!(
            "matmul: a {m}×{n} output needs {blocks} blocks, more than a CUDA grid holds"
        )));
    }
    let c = g.alloc(m * n)?;
    g.launch(
        module,
        entry,
        &args,
        &[a, b, &c],
        (blocks as u32, 1, 1),
        (THREADS, 1, 1),
    )?;
    Ok(c)
}

/// C[m×n] = op(A)·op(B), one thread per output element (`matmul_fwd_naive_f32`).
pub fn matmul_naive(
    a: &CudaBuffer,
    b: &CudaBuffer,
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let args = MatmulArgs::new(m, n, k, trans_a, trans_b)?;
    if m * n == 0 {
        return g.alloc(0);
    }
    if k == 0 {
        return g.zeros(m * n);
    }
    let c = g.alloc(m * n)?;
    g.launch_1d("matmul", "matmul_fwd_naive_f32", &args, &[a, b, &c], m * n)?;
    Ok(c)
}
