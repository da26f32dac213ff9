//! WebGPU launchers of pooling (`shaders/pool.wgsl`): one thread per output element forward,
//! one per input element backward (gather).

use super::PoolArgs;
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

fn out_len(a: &PoolArgs) -> usize {
    (a.planes * a.out_h * a.out_w) as usize
}

fn in_len(a: &PoolArgs) -> usize {
    (a.planes * a.h * a.w) as usize
}

/// `max_pool2d_fwd_f32`: values and argmax indices.
pub fn max_pool2d_fwd(x: &GpuBuffer, a: &PoolArgs) -> Result<(GpuBuffer, GpuBuffer)> {
    let g = gpu()?;
    let n = out_len(a);
    let (y, idx) = (g.alloc(n)?, g.alloc(n)?);
    g.launch_1d("pool", "max_pool2d_fwd_f32", a, &[x, &y, &idx], n)?;
    Ok((y, idx))
}

/// `max_pool2d_bwd_f32`.
pub fn max_pool2d_bwd(grad: &GpuBuffer, idx: &GpuBuffer, a: &PoolArgs) -> Result<GpuBuffer> {
    let g = gpu()?;
    let n = in_len(a);
    let dx = g.alloc(n)?;
    g.launch_1d("pool", "max_pool2d_bwd_f32", a, &[grad, idx, &dx], n)?;
    Ok(dx)
}

/// One input, one output: the avg and adaptive passes.
fn simple(entry: &'static str, src: &GpuBuffer, n: usize, a: &PoolArgs) -> Result<GpuBuffer> {
    let g = gpu()?;
    let out = g.alloc(n)?;
    g.launch_1d("pool", entry, a, &[src, &out], n)?;
    Ok(out)
}

/// `avg_pool2d_fwd_f32`.
pub fn avg_pool2d_fwd(x: &GpuBuffer, a: &PoolArgs) -> Result<GpuBuffer> {
    simple("avg_pool2d_fwd_f32", x, out_len(a), a)
}

/// `avg_pool2d_bwd_f32`.
pub fn avg_pool2d_bwd(grad: &GpuBuffer, a: &PoolArgs) -> Result<GpuBuffer> {
    simple("avg_pool2d_bwd_f32", grad, in_len(a), a)
}

/// `adaptive_avg_pool2d_fwd_f32`.
pub fn adaptive_avg_pool2d_fwd(x: &GpuBuffer, a: &PoolArgs) -> Result<GpuBuffer> {
    simple("adaptive_avg_pool2d_fwd_f32", x, out_len(a), a)
}

/// `adaptive_avg_pool2d_bwd_f32`.
pub fn adaptive_avg_pool2d_bwd(grad: &GpuBuffer, a: &PoolArgs) -> Result<GpuBuffer> {
    simple("adaptive_avg_pool2d_bwd_f32", grad, in_len(a), a)
}
