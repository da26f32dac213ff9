//! WebGPU launchers `relu_fwd_f32`, `relu_bwd_f32` (`shaders/relu.wgsl`).

use crate::device::args::ElemArgs;
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

fn args(n: usize) -> ElemArgs {
    ElemArgs {
        n: n as u32,
        op: 0,
        s0: 0.0,
        s1: 0.0,
    }
}

/// y = max(x, 0)
pub fn relu_fwd(x: &GpuBuffer) -> Result<GpuBuffer> {
    let g = gpu()?;
    let y = g.alloc(x.len())?;
    g.launch_1d("relu", "relu_fwd_f32", &args(x.len()), &[x, &y], x.len())?;
    Ok(y)
}

/// dx = g where y > 0
pub fn relu_bwd(grad: &GpuBuffer, y: &GpuBuffer) -> Result<GpuBuffer> {
    let g = gpu()?;
    let dx = g.alloc(y.len())?;
    g.launch_1d(
        "relu",
        "relu_bwd_f32",
        &args(y.len()),
        &[grad, y, &dx],
        y.len(),
    )?;
    Ok(dx)
}
