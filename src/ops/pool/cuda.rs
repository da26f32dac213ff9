//! CUDA launchers of pooling (`kernels/pool.cu`, a port of `shaders/pool.wgsl`).
//!
//! Kernels (all take [`PoolArgs`] by value, then the buffers in the order below):
//! * `max_pool2d_fwd_f32` (x, y, idx) and `avg_pool2d_fwd_f32` / `adaptive_avg_pool2d_fwd_f32`
//!   (x, y): one thread per output element, planes·OH·OW threads.
//! * `max_pool2d_bwd_f32` (g, idx, dx) and `avg_pool2d_bwd_f32` / `adaptive_avg_pool2d_bwd_f32`
//!   (g, dx): one thread per input element, planes·H·W threads, each gathering the gradients of
//!   the windows that hold it (no atomics).
//!
//! Launch shape: 1-D, ⌈threads / 256⌉ blocks of 256 threads. The kernels index with 32-bit
//! integers, so both the input and the output must hold fewer than 2³² elements (checked).

use super::PoolArgs;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

fn out_len(a: &PoolArgs) -> usize {
    a.planes as usize * a.out_h as usize * a.out_w as usize
}

fn in_len(a: &PoolArgs) -> usize {
    a.planes as usize * a.h as usize * a.w as usize
}

/// The kernels' 32-bit index arithmetic must cover the input and the output.
fn check(entry: &str, a: &PoolArgs) -> Result<()> {
    let n = in_len(a).max(out_len(a));
    if n > u32::MAX as usize {
        return Err(Error::Invalid(format!(
            "{entry}: {n} elements exceed the 2^32 a CUDA pooling kernel can index"
        )));
    }
    Ok(())
}

/// `max_pool2d_fwd_f32`: values and argmax indices.
pub fn max_pool2d_fwd(x: &CudaBuffer, a: &PoolArgs) -> Result<(CudaBuffer, CudaBuffer)> {
    check("max_pool2d_fwd_f32", a)?;
    let g = gpu()?;
    let n = out_len(a);
    let (y, idx) = (g.alloc(n)?, g.alloc(n)?);
    g.launch_1d("pool", "max_pool2d_fwd_f32", a, &[x, &y, &idx], n)?;
    Ok((y, idx))
}

/// `max_pool2d_bwd_f32`.
pub fn max_pool2d_bwd(grad: &CudaBuffer, idx: &CudaBuffer, a: &PoolArgs) -> Result<CudaBuffer> {
    check("max_pool2d_bwd_f32", a)?;
    let g = gpu()?;
    let n = in_len(a);
    let dx = g.alloc(n)?;
    g.launch_1d("pool", "max_pool2d_bwd_f32", a, &[grad, idx, &dx], n)?;
    Ok(dx)
}

/// One input, one output: the avg and adaptive passes.
fn simple(entry: &'static str, src: &CudaBuffer, n: usize, a: &PoolArgs) -> Result<CudaBuffer> {
    check(entry, a)?;
    let g = gpu()?;
    let out = g.alloc(n)?;
    g.launch_1d("pool", entry, a, &[src, &out], n)?;
    Ok(out)
}

/// `avg_pool2d_fwd_f32`.
pub fn avg_pool2d_fwd(x: &CudaBuffer, a: &PoolArgs) -> Result<CudaBuffer> {
    simple("avg_pool2d_fwd_f32", x, out_len(a), a)
}

/// `avg_pool2d_bwd_f32`.
pub fn avg_pool2d_bwd(grad: &CudaBuffer, a: &PoolArgs) -> Result<CudaBuffer> {
    simple("avg_pool2d_bwd_f32", grad, in_len(a), a)
}

/// `adaptive_avg_pool2d_fwd_f32`.
pub fn adaptive_avg_pool2d_fwd(x: &CudaBuffer, a: &PoolArgs) -> Result<CudaBuffer> {
    simple("adaptive_avg_pool2d_fwd_f32", x, out_len(a), a)
}

/// `adaptive_avg_pool2d_bwd_f32`.
pub fn adaptive_avg_pool2d_bwd(grad: &CudaBuffer, a: &PoolArgs) -> Result<CudaBuffer> {
    simple("adaptive_avg_pool2d_bwd_f32", grad, in_len(a), a)
}
