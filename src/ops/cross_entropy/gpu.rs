//! The GPU launchers of the fused cross-entropy (`kernels/cross_entropy.cu`,
//! `shaders/cross_entropy.wgsl`), written once for both devices ([`Backend`]).
//!
//! * `cross_entropy_fwd_f32` ([`CeArgs`]; x, t, loss): one thread per sample.
//! * `cross_entropy_bwd_f32` ([`CeArgs`]; x, t, g, dx): one thread per sample, writing its row
//!   of c gradients.
//!
//! The kernels index with 32-bit integers, so n·c must be below 2³² (checked).

use super::CeArgs;
use crate::device::backend::{fits_u32, Backend};
use crate::error::Result;

fn args(n: usize, c: usize) -> CeArgs {
    CeArgs {
        n: n as u32,
        c: c as u32,
        _pad: [0; 2],
    }
}

/// The kernels' 32-bit index arithmetic must cover all n·c logits (and the n samples).
fn check(entry: &str, n: usize, c: usize) -> Result<()> {
    fits_u32(
        &format!("{entry} over {n} samples of {c} classes"),
        n.checked_mul(c.max(1)),
    )
}

/// `cross_entropy_fwd_f32`: per-sample loss.
pub fn cross_entropy_fwd<B: Backend>(
    x: &B::Buffer,
    t: &B::Buffer,
    n: usize,
    c: usize,
) -> Result<B::Buffer> {
    check("cross_entropy_fwd_f32", n, c)?;
    let g = B::get()?;
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
pub fn cross_entropy_bwd<B: Backend>(
    x: &B::Buffer,
    t: &B::Buffer,
    grad: &B::Buffer,
    n: usize,
    c: usize,
) -> Result<B::Buffer> {
    check("cross_entropy_bwd_f32", n, c)?;
    let g = B::get()?;
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
