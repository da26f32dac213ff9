//! WebGPU launchers of the element-wise family (`shaders/elementwise.wgsl`).

//! The arguments are built in `gpu_args.rs`, shared with the CUDA launchers.
use super::gpu_args::{self, numel};
use super::{BinaryOp, UnaryOp};
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

/// `binary_fwd_f32`: out = f(a, b) with broadcasting.
pub fn binary(
    op: BinaryOp,
    a: &GpuBuffer,
    a_dims: &[usize],
    b: &GpuBuffer,
    b_dims: &[usize],
    out_dims: &[usize],
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let n = numel(out_dims);
    let out = g.alloc(n)?;
    let args = gpu_args::binary(op, a_dims, b_dims, out_dims)?;
    g.launch_1d("elementwise", "binary_fwd_f32", &args, &[a, b, &out], n)?;
    Ok(out)
}

/// `unary_fwd_f32`.
pub fn unary(op: UnaryOp, x: &GpuBuffer) -> Result<GpuBuffer> {
    let g = gpu()?;
    let out = g.alloc(x.len())?;
    let args = gpu_args::unary(op, x.len());
    g.launch_1d("elementwise", "unary_fwd_f32", &args, &[x, &out], x.len())?;
    Ok(out)
}

/// `sum_to_fwd_f32`: sum `src` (dims `src_dims`) down to `dst_dims`.
pub fn sum_to(src: &GpuBuffer, src_dims: &[usize], dst_dims: &[usize]) -> Result<GpuBuffer> {
    let g = gpu()?;
    let n = numel(dst_dims);
    let out = g.alloc(n)?;
    let args = gpu_args::sum_to(src_dims, dst_dims)?;
    g.launch_1d("elementwise", "sum_to_fwd_f32", &args, &[src, &out], n)?;
    Ok(out)
}

/// `broadcast_to_fwd_f32`: repeat `src` along broadcast axes to `dst_dims`.
pub fn broadcast_to(src: &GpuBuffer, src_dims: &[usize], dst_dims: &[usize]) -> Result<GpuBuffer> {
    let g = gpu()?;
    let n = numel(dst_dims);
    let out = g.alloc(n)?;
    let args = gpu_args::broadcast_to(src_dims, dst_dims)?;
    g.launch_1d(
        "elementwise",
        "broadcast_to_fwd_f32",
        &args,
        &[src, &out],
        n,
    )?;
    Ok(out)
}
