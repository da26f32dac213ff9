//! WebGPU launchers of the fused cross-entropy (`shaders/cross_entropy.wgsl`).

use super::CeArgs;
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

fn args(n: usize, c: usize) -> CeArgs {
    CeArgs {
        n: n as u32,
        c: c as u32,
        _pad: [0; 2],
    }
}

/// `cross_entropy_fwd_f32`: per-sample loss.
pub fn cross_entropy_fwd(x: &GpuBuffer, t: &GpuBuffer, n: usize, c: usize) -> Result<GpuBuffer> {
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
    x: &GpuBuffer,
    t: &GpuBuffer,
    grad: &GpuBuffer,
    n: usize,
    c: usize,
) -> Result<GpuBuffer> {
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
