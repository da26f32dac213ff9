//! The GPU launchers of the element-wise family (`kernels/elementwise.cu`,
//! `shaders/elementwise.wgsl`), written once for both devices ([`Backend`]).
//!
//! Every kernel runs one thread per output element: `binary_fwd_f32`, `broadcast_to_fwd_f32`
//! and `sum_to_fwd_f32` take a [`ShapeArgs`](crate::device::args::ShapeArgs) (shape and
//! broadcast strides, up to [`MAX_RANK`](crate::device::args::MAX_RANK) axes), `unary_fwd_f32`
//! an [`ElemArgs`](crate::device::args::ElemArgs) (op code and scalars). The arguments are built
//! in `gpu_args.rs`.

use super::gpu_args::{self, numel};
use super::{BinaryOp, UnaryOp};
use crate::device::backend::Backend;
use crate::error::Result;

/// `binary_fwd_f32`: out = f(a, b) with broadcasting.
pub fn binary<B: Backend>(
    op: BinaryOp,
    a: &B::Buffer,
    a_dims: &[usize],
    b: &B::Buffer,
    b_dims: &[usize],
    out_dims: &[usize],
) -> Result<B::Buffer> {
    let g = B::get()?;
    let n = numel(out_dims);
    let out = g.alloc(n)?;
    let args = gpu_args::binary(op, a_dims, b_dims, out_dims)?;
    g.launch_1d("elementwise", "binary_fwd_f32", &args, &[a, b, &out], n)?;
    Ok(out)
}

/// `unary_fwd_f32`.
pub fn unary<B: Backend>(op: UnaryOp, x: &B::Buffer) -> Result<B::Buffer> {
    let g = B::get()?;
    let out = g.alloc(B::len(x))?;
    let args = gpu_args::unary(op, B::len(x));
    g.launch_1d("elementwise", "unary_fwd_f32", &args, &[x, &out], B::len(x))?;
    Ok(out)
}

/// `sum_to_fwd_f32`: sum `src` (dims `src_dims`) down to `dst_dims`.
pub fn sum_to<B: Backend>(
    src: &B::Buffer,
    src_dims: &[usize],
    dst_dims: &[usize],
) -> Result<B::Buffer> {
    let g = B::get()?;
    let n = numel(dst_dims);
    let out = g.alloc(n)?;
    let args = gpu_args::sum_to(src_dims, dst_dims)?;
    g.launch_1d("elementwise", "sum_to_fwd_f32", &args, &[src, &out], n)?;
    Ok(out)
}

/// `broadcast_to_fwd_f32`: repeat `src` along broadcast axes to `dst_dims`.
pub fn broadcast_to<B: Backend>(
    src: &B::Buffer,
    src_dims: &[usize],
    dst_dims: &[usize],
) -> Result<B::Buffer> {
    let g = B::get()?;
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
