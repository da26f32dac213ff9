//! CUDA launchers of the fused cross-entropy (`kernels/cross_entropy.cu`, a port of
//! `shaders/cross_entropy.wgsl`).
//!
//! * `cross_entropy_fwd_f32` ([`CeArgs`]; x, t, loss): one thread per sample.
//! * `cross_entropy_bwd_f32` ([`CeArgs`]; x, t, g, dx): one thread per sample, writing its row
//!   of c gradients.
//!
//! Launch: 1-D, ⌈n / 256⌉ blocks of 256 threads. The kernels index with 32-bit integers, so
//! n·c must be below 2³² (checked).

use super::CeArgs;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

fn args(n: usize, c: usize) -> CeArgs {
    CeArgs {
        n: n as u32,
        c: c as u32,
        _pad: [0; 2],
    }
}

/// The kernels' 32-bit index arithmetic must cover all n·c logits (and the n samples).
fn check(entry: &str, n: usize, c: usize) -> Result<()> {
    match n.checked_mul(c.max(1)) {
        Some(t) if t <= u32::MAX as usize => Ok(()),
        _ => Err(Error::Invalid(format!(
            "{entry}: {n} samples of {c} classes exceed the 2^32 elements a CUDA kernel can index"
        ))),
    }
}

/// `cross_entropy_fwd_f32`: per-sample loss.
pub fn cross_entropy_fwd(x: &CudaBuffer, t: &CudaBuffer, n: usize, c: usize) -> Result<CudaBuffer> {
    check("cross_entropy_fwd_f32", n, c)?;
    let g = gpu()?;
    let loss = g.alloc(n)?;
    g.launch_1d(
        "cross_entropy",
        "cross_entropy_fwd_f32",
        &args(n, c),
        &[x, t, &loss],
        n,
    )?;
    Ok(loss)
}

/// `cross_entropy_bwd_f32`: g[n] · (softmax − one_hot).
pub fn cross_entropy_bwd(
    x: &CudaBuffer,
    t: &CudaBuffer,
    grad: &CudaBuffer,
    n: usize,
    c: usize,
) -> Result<CudaBuffer> {
    check("cross_entropy_bwd_f32", n, c)?;
    let g = gpu()?;
    let dx = g.alloc(n * c)?;
    g.launch_1d(
        "cross_entropy",
        "cross_entropy_bwd_f32",
        &args(n, c),
        &[x, t, grad, &dx],
        n,
    )?;
    Ok(dx)
}
