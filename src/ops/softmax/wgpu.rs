//! WebGPU launchers of softmax / log_softmax (`shaders/softmax.wgsl`), one thread per row.

use super::SoftmaxArgs;
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

fn args(rows: usize, c: usize, log: bool) -> SoftmaxArgs {
    SoftmaxArgs {
        rows: rows as u32,
        c: c as u32,
        log: log as u32,
        _pad: 0,
    }
}

/// `softmax_fwd_f32` (or log_softmax).
pub fn softmax_fwd(x: &GpuBuffer, rows: usize, c: usize, log: bool) -> Result<GpuBuffer> {
    let g = gpu()?;
    let y = g.alloc(rows * c)?;
    let rows = if c == 0 { 0 } else { rows };
    g.launch_1d(
        "softmax",
        "softmax_fwd_f32",
        &args(rows, c, log),
        &[x, &y],
        rows,
    )?;
    Ok(y)
}

/// `softmax_bwd_f32` (or log_softmax's).
pub fn softmax_bwd(
    grad: &GpuBuffer,
    y: &GpuBuffer,
    rows: usize,
    c: usize,
    log: bool,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let dx = g.alloc(rows * c)?;
    let rows = if c == 0 { 0 } else { rows };
    g.launch_1d(
        "softmax",
        "softmax_bwd_f32",
        &args(rows, c, log),
        &[grad, y, &dx],
        rows,
    )?;
    Ok(dx)
}
