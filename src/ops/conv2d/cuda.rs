//! CUDA launchers of conv2d (`kernels/conv2d.cu`); every kernel takes a [`ConvLaunch`].
//!
//! The passes run as implicit GEMMs (the im2col matrix is computed by the tile loaders, never
//! stored) on blocks of 256 threads, each block one output tile on a 1-D grid; every pass also
//! keeps its simple direct kernel (one thread per output element, 1-D, `⌈count / 256⌉` blocks)
//! for the bench's comparison.
//!
//! * Forward ([`conv2d_fwd`]): Y[o, p] = Σ_kk W[o, kk]·X̂[kk, p] (p = (n, oy, ox),
//!   kk = (c, ky, kx)) with 32×128, 64×128 or 64×64 tiles (by the size of C_out × N·OH·OW):
//!   `conv2d_fwd_32x128_f32`, `conv2d_fwd_64x128_f32`, `conv2d_fwd_f32`; the bias is added in the
//!   epilogue. Direct: [`conv2d_fwd_direct`] (`conv2d_fwd_direct_f32`).
//! * Input gradient ([`conv2d_bwd_input`]): dX[c, q] = Σ_kk Wᵀ[c, kk]·Ĝ[kk, q] (q = (n, iy, ix),
//!   kk = (o, ky, kx)), tiles chosen the same way for C_in × N·H·W:
//!   `conv2d_bwd_input_{32x128,64x128,64x64}_f32`. Direct: [`conv2d_bwd_input_direct`]
//!   (`conv2d_bwd_input_f32`, the WGSL's gather); both give the same bits.
//! * Weight gradient ([`conv2d_bwd_weight`]): `conv2d_bwd_weight_f32`,
//!   dW[o, kk] = Σ_p G[o, p]·X̂[kk, p] over the positions split into `splits` chunks (grid:
//!   64×64 output tiles along x, splits along y), each writing a partial dW, then
//!   `conv2d_bwd_weight_reduce_f32` adds the partials in split order (1-D over the dW
//!   elements); with one split the GEMM writes dW directly.
//!   Direct: [`conv2d_bwd_weight_direct`] (`conv2d_bwd_weight_direct_f32`).
//! * Bias gradient: shared with WebGPU (`gpu_bias` in `conv2d/mod.rs`, two `sum_axis` reductions).
//!
//! Every result is summed in a fixed order (no atomics): deterministic run to run.

use super::Conv2dArgs;
use super::ConvLaunch;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

/// Threads per block of the tiled kernels.
const THREADS: u32 = 256;

/// The 64×128 kernels (forward, input gradient) run when they have at least this many blocks
/// (about two per multiprocessor of an H100); below that the 64×64 kernels' twice as many
/// blocks win.
pub const WIDE_TILE_MIN_BLOCKS: usize = 256;

/// The weight gradient aims for about this many blocks (tiles × splits) in all.
const WEIGHT_TARGET_BLOCKS: usize = 512;
/// At most this many splits, each summing at least [`WEIGHT_MIN_CHUNK`] positions.
const WEIGHT_MAX_SPLITS: usize = 256;
const WEIGHT_MIN_CHUNK: usize = 256;
/// Positions per GEMM step of the weight-gradient kernel (a chunk is a multiple of it).
const WEIGHT_BK: usize = 16;

/// (positions N·OH·OW, K = C·KH·KW, C_out).
fn sizes(a: &Conv2dArgs) -> (usize, usize, usize) {
    let u = |v: u32| v as usize;
    let positions = u(a.n) * u(a.out_h) * u(a.out_w);
    let kdim = u(a.c_in) * u(a.kh) * u(a.kw);
    (positions, kdim, u(a.c_out))
}

/// The kernels index x, y (and g, dx) and w with 32-bit integers.
fn check_indexing(a: &Conv2dArgs) -> Result<()> {
    let u = |v: u32| v as u64;
    let (positions, kdim, o) = sizes(a);
    let x = u(a.n) * u(a.c_in) * u(a.h) * u(a.w);
    let y = positions as u64 * o as u64;
    let w = o as u64 * kdim as u64;
    if x.max(y).max(w) > u32::MAX as u64 {
        return Err(Error::Invalid(format!(
            "conv2d: input ({x} values), output ({y}) or weight ({w}) exceeds the CUDA kernels' \
             32-bit indexing"
        )));
    }
    Ok(())
}

/// A 1-D grid of `tiles` blocks (CUDA allows up to 2³¹ − 1 along x).
fn tile_grid(tiles: usize, z: usize) -> Result<(u32, u32, u32)> {
    if tiles > i32::MAX as usize {
        return Err(Error::Invalid(format!(
            "conv2d: the problem needs {tiles} blocks, more than a CUDA grid holds"
        )));
    }
    Ok((tiles as u32, z as u32, 1))
}

/// The tile shape (rows × columns) of the forward and input-gradient GEMMs: 32×128 for at most
/// 32 rows, 64×128 when that gives at least [`WIDE_TILE_MIN_BLOCKS`] blocks, else 64×64.
fn tile_shape(rows: usize, cols: usize) -> (usize, usize) {
    if rows <= 32 {
        (32, 128)
    } else if rows.div_ceil(64) * cols.div_ceil(128) >= WIDE_TILE_MIN_BLOCKS {
        (64, 128)
    } else {
        (64, 64)
    }
}

fn launch_args(a: &Conv2dArgs, has_bias: bool, count: usize) -> ConvLaunch {
    ConvLaunch {
        a: *a,
        has_bias: has_bias as u32,
        k_chunk: 0,
        splits: 0,
        count: count as u32,
    }
}

/// `conv2d_fwd_f32` / `conv2d_fwd_64x128_f32` / `conv2d_fwd_32x128_f32`: the implicit GEMM.
pub fn conv2d_fwd(
    x: &CudaBuffer,
    w: &CudaBuffer,
    b: Option<&CudaBuffer>,
    a: &Conv2dArgs,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let (positions, _, o) = sizes(a);
    let y = g.alloc(positions * o)?;
    if y.is_empty() {
        return Ok(y);
    }
    check_indexing(a)?;
    let args = launch_args(a, b.is_some(), 0);
    let (tm, tn) = tile_shape(o, positions);
    // (module, entry) literal pairs, so that tests/cuda_kernels_compile.rs checks each name.
    let (module, entry) = match (tm, tn) {
        (32, _) => ("conv2d", "conv2d_fwd_32x128_f32"),
        (_, 128) => ("conv2d", "conv2d_fwd_64x128_f32"),
        _ => ("conv2d", "conv2d_fwd_f32"),
    };
    // Without a bias the kernel never reads its bias pointer; pass the weight there.
    let bias = b.unwrap_or(w);
    g.launch(
        module,
        entry,
        &args,
        &[x, w, bias, &y],
        tile_grid(o.div_ceil(tm) * positions.div_ceil(tn), 1)?,
        (THREADS, 1, 1),
    )?;
    Ok(y)
}

/// `conv2d_fwd_direct_f32`: one thread per output element (the simple version).
pub fn conv2d_fwd_direct(
    x: &CudaBuffer,
    w: &CudaBuffer,
    b: Option<&CudaBuffer>,
    a: &Conv2dArgs,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let (positions, _, o) = sizes(a);
    let count = positions * o;
    let y = g.alloc(count)?;
    if y.is_empty() {
        return Ok(y);
    }
    check_indexing(a)?;
    let args = launch_args(a, b.is_some(), count);
    let bias = b.unwrap_or(w);
    g.launch_1d(
        "conv2d",
        "conv2d_fwd_direct_f32",
        &args,
        &[x, w, bias, &y],
        count,
    )?;
    Ok(y)
}

/// `conv2d_bwd_input_64x64_f32` / `_64x128_f32` / `_32x128_f32`: the input gradient as an
/// implicit GEMM (the same sum, in the same order, as the gather of [`conv2d_bwd_input_direct`]).
pub fn conv2d_bwd_input(grad: &CudaBuffer, w: &CudaBuffer, a: &Conv2dArgs) -> Result<CudaBuffer> {
    let g = gpu()?;
    let c = a.c_in as usize;
    let positions = a.n as usize * a.h as usize * a.w as usize;
    let dx = g.alloc(c * positions)?;
    if dx.is_empty() {
        return Ok(dx);
    }
    check_indexing(a)?;
    let args = launch_args(a, false, 0);
    let (tm, tn) = tile_shape(c, positions);
    // (module, entry) literal pairs, so that tests/cuda_kernels_compile.rs checks each name.
    let (module, entry) = match (tm, tn) {
        (32, _) => ("conv2d", "conv2d_bwd_input_32x128_f32"),
        (_, 128) => ("conv2d", "conv2d_bwd_input_64x128_f32"),
        _ => ("conv2d", "conv2d_bwd_input_64x64_f32"),
    };
    g.launch(
        module,
        entry,
        &args,
        &[grad, w, &dx],
        tile_grid(c.div_ceil(tm) * positions.div_ceil(tn), 1)?,
        (THREADS, 1, 1),
    )?;
    Ok(dx)
}

/// `conv2d_bwd_input_f32`: the gather of the WGSL, one thread per dx element (the simple
/// version).
pub fn conv2d_bwd_input_direct(
    grad: &CudaBuffer,
    w: &CudaBuffer,
    a: &Conv2dArgs,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let n = a.n as usize * a.c_in as usize * a.h as usize * a.w as usize;
    let dx = g.alloc(n)?;
    if n == 0 {
        return Ok(dx);
    }
    check_indexing(a)?;
    let args = launch_args(a, false, n);
    g.launch_1d("conv2d", "conv2d_bwd_input_f32", &args, &[grad, w, &dx], n)?;
    Ok(dx)
}

/// `conv2d_bwd_weight_f32` + `conv2d_bwd_weight_reduce_f32`.
pub fn conv2d_bwd_weight(grad: &CudaBuffer, x: &CudaBuffer, a: &Conv2dArgs) -> Result<CudaBuffer> {
    let g = gpu()?;
    let (positions, kdim, o) = sizes(a);
    let elems = o * kdim;
    if elems == 0 || positions == 0 {
        return g.zeros(elems);
    }
    check_indexing(a)?;
    // Enough blocks in all to fill the GPU, each split summing at least WEIGHT_MIN_CHUNK
    // positions; the chunk is a whole number of GEMM steps.
    let tiles = kdim.div_ceil(64) * o.div_ceil(64);
    let splits = (WEIGHT_TARGET_BLOCKS / tiles)
        .clamp(1, WEIGHT_MAX_SPLITS)
        .min(positions.div_ceil(WEIGHT_MIN_CHUNK))
        .max(1);
    let k_chunk = positions.div_ceil(splits).div_ceil(WEIGHT_BK) * WEIGHT_BK;
    let splits = positions.div_ceil(k_chunk);
    let args = ConvLaunch {
        a: *a,
        has_bias: 0,
        k_chunk: k_chunk as u32,
        splits: splits as u32,
        count: elems as u32,
    };
    let grid = tile_grid(tiles, splits)?;
    let dw = g.alloc(elems)?;
    if splits == 1 {
        // part[0] is dW itself.
        g.launch(
            "conv2d",
            "conv2d_bwd_weight_f32",
            &args,
            &[grad, x, &dw],
            grid,
            (THREADS, 1, 1),
        )?;
        return Ok(dw);
    }
    let partial = g.alloc(splits * elems)?;
    g.launch(
        "conv2d",
        "conv2d_bwd_weight_f32",
        &args,
        &[grad, x, &partial],
        grid,
        (THREADS, 1, 1),
    )?;
    g.launch_1d(
        "conv2d",
        "conv2d_bwd_weight_reduce_f32",
        &args,
        &[&partial, &dw],
        elems,
    )?;
    Ok(dw)
}

/// `conv2d_bwd_weight_direct_f32`: one thread per dW element (the simple version).
pub fn conv2d_bwd_weight_direct(
    grad: &CudaBuffer,
    x: &CudaBuffer,
    a: &Conv2dArgs,
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let (positions, kdim, o) = sizes(a);
    let elems = o * kdim;
    if elems == 0 || positions == 0 {
        return g.zeros(elems);
    }
    check_indexing(a)?;
    let args = launch_args(a, false, elems);
    let dw = g.alloc(elems)?;
    g.launch_1d(
        "conv2d",
        "conv2d_bwd_weight_direct_f32",
        &args,
        &[grad, x, &dw],
        elems,
    )?;
    Ok(dw)
}
