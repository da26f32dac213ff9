//! CUDA launchers of the element-wise family (`kernels/elementwise.cu`).
//!
//! Every kernel is 1-D, one thread per output element, `⌈n / 256⌉` blocks of 256 threads:
//! `binary_fwd_f32`, `broadcast_to_fwd_f32` and `sum_to_fwd_f32` take a [`ShapeArgs`](crate::device::args::ShapeArgs) (shape
//! and broadcast strides, up to [`MAX_RANK`](crate::device::args::MAX_RANK) axes),
//! `unary_fwd_f32` an [`ElemArgs`](crate::device::args::ElemArgs) (op code and scalars). The arguments are built in
//! `gpu_args.rs`, shared with the WebGPU launchers.

use super::gpu_args::{self, numel};
use super::{BinaryOp, UnaryOp};
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::Result;

/// `binary_fwd_f32`: out = f(a, b) with broadcasting.
pub fn binary(
    op: BinaryOp,
    a: &CudaBuffer,
    a_dims: &[usize],
    b: &CudaBuffer,
    b_dims: &[usize],
    out_dims: &[usize],
) -> Result<CudaBuffer> {
    let g = gpu()?;
    let n = numel(out_dims);
    let out = g.alloc(n)?;
    let args = gpu_args::binary(op, a_dims, b_dims, out_dims)?;
    g.launch_1d("elementwise", "binary_fwd_f32", &args, &[a, b, &out], n)?;
    Ok(out)
}

/// `unary_fwd_f32`.
pub fn unary(op: UnaryOp, x: &CudaBuffer) -> Result<CudaBuffer> {
    let g = gpu()?;
    let out = g.alloc(x.len())?;
    let args = gpu_args::unary(op, x.len());
    g.launch_1d("elementwise", "unary_fwd_f32", &args, &[x, &out], x.len())?;
    Ok(out)
}

/// `sum_to_fwd_f32`: sum `src` (dims `src_dims`) down to `dst_dims`.
pub fn sum_to(src: &CudaBuffer, src_dims: &[usize], dst_dims: &[usize]) -> Result<CudaBuffer> {
    let g = gpu()?;
    let n = numel(dst_dims);
    let out = g.alloc(n)?;
    let args = gpu_args::sum_to(src_dims, dst_dims)?;
    g.launch_1d("elementwise", "sum_to_fwd_f32", &args, &[src, &out], n)?;
    Ok(out)
}

/// `broadcast_to_fwd_f32`: repeat `src` along broadcast axes to `dst_dims`.
pub fn broadcast_to(
    src: &CudaBuffer,
    src_dims: &[usize],
    dst_dims: &[usize],
) -> Result<CudaBuffer> {
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
