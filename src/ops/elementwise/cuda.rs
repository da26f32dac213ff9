//! CUDA launchers of the element-wise family (`kernels/elementwise.cu`).
//!
//! Every kernel is 1-D, one thread per output element, `⌈n / 256⌉` blocks of 256 threads:
//! `binary_fwd_f32`, `broadcast_to_fwd_f32` and `sum_to_fwd_f32` take a [`ShapeArgs`] (shape
//! and broadcast strides, up to [`MAX_RANK`](crate::device::wgpu::MAX_RANK) axes),
//! `unary_fwd_f32` an [`ElemArgs`] (op code and scalars). The op codes are those of the WGSL
//! kernels.

use super::cpu::broadcast_strides;
use super::{BinaryOp, UnaryOp};
use crate::device::args::{ElemArgs, ShapeArgs};
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::Result;

/// The op code `binary_fwd_f32` switches on.
fn binary_code(op: BinaryOp) -> u32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Minimum => 4,
        BinaryOp::Maximum => 5,
        BinaryOp::Gt => 6,
        BinaryOp::Ge => 7,
        BinaryOp::Lt => 8,
        BinaryOp::Le => 9,
        BinaryOp::Eq => 10,
    }
}

/// The op code and scalars `unary_fwd_f32` switches on.
fn unary_code(op: UnaryOp) -> (u32, f32, f32) {
    match op {
        UnaryOp::Neg => (0, 0.0, 0.0),
        UnaryOp::Exp => (1, 0.0, 0.0),
        UnaryOp::Log => (2, 0.0, 0.0),
        UnaryOp::Sqrt => (3, 0.0, 0.0),
        UnaryOp::Abs => (4, 0.0, 0.0),
        UnaryOp::Sign => (5, 0.0, 0.0),
        UnaryOp::AddScalar(s) => (6, s, 0.0),
        UnaryOp::MulScalar(s) => (7, s, 0.0),
        UnaryOp::PowScalar(p) => (8, p, 0.0),
        UnaryOp::Clamp(lo, hi) => (9, lo, hi),
        UnaryOp::InRange(lo, hi) => (10, lo, hi),
    }
}

fn numel(d: &[usize]) -> usize {
    d.iter().product()
}

/// Contiguous (row-major) strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

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
    let args = ShapeArgs {
        n: n as u32,
        rank: out_dims.len() as u32,
        op: binary_code(op),
        count: 0,
        out_dims: ShapeArgs::axes(out_dims)?,
        a_strides: ShapeArgs::axes(&broadcast_strides(a_dims, out_dims))?,
        b_strides: ShapeArgs::axes(&broadcast_strides(b_dims, out_dims))?,
        extra: [0; 8],
    };
    g.launch_1d("elementwise", "binary_fwd_f32", &args, &[a, b, &out], n)?;
    Ok(out)
}

/// `unary_fwd_f32`.
pub fn unary(op: UnaryOp, x: &CudaBuffer) -> Result<CudaBuffer> {
    let g = gpu()?;
    let out = g.alloc(x.len())?;
    let (code, s0, s1) = unary_code(op);
    let args = ElemArgs {
        n: x.len() as u32,
        op: code,
        s0,
        s1,
    };
    g.launch_1d("elementwise", "unary_fwd_f32", &args, &[x, &out], x.len())?;
    Ok(out)
}

/// `sum_to_fwd_f32`: sum `src` (dims `src_dims`) down to `dst_dims`.
pub fn sum_to(src: &CudaBuffer, src_dims: &[usize], dst_dims: &[usize]) -> Result<CudaBuffer> {
    let g = gpu()?;
    let r = src_dims.len();
    let mut padded = vec![1usize; r - dst_dims.len()];
    padded.extend_from_slice(dst_dims);
    let n = numel(dst_dims);
    let out = g.alloc(n)?;
    let args = ShapeArgs {
        n: n as u32,
        rank: r as u32,
        op: 0,
        count: (numel(src_dims) / n.max(1)) as u32,
        out_dims: ShapeArgs::axes(&padded)?,
        a_strides: ShapeArgs::axes(&strides(src_dims))?,
        b_strides: [0; 8],
        extra: ShapeArgs::axes(src_dims)?,
    };
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
    let args = ShapeArgs {
        n: n as u32,
        rank: dst_dims.len() as u32,
        op: 0,
        count: 0,
        out_dims: ShapeArgs::axes(dst_dims)?,
        a_strides: ShapeArgs::axes(&broadcast_strides(src_dims, dst_dims))?,
        b_strides: [0; 8],
        extra: [0; 8],
    };
    g.launch_1d(
        "elementwise",
        "broadcast_to_fwd_f32",
        &args,
        &[src, &out],
        n,
    )?;
    Ok(out)
}
