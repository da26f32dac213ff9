//! The parameter structs of the element-wise GPU kernels, built once for both GPU backends:
//! `gpu.rs` launches the same entry points (`binary_fwd_f32`, `unary_fwd_f32`,
//! `sum_to_fwd_f32`, `broadcast_to_fwd_f32`) with exactly these arguments. The op codes are the
//! ones `kernels/elementwise.cu` and `shaders/elementwise.wgsl` switch on.

use super::cpu::broadcast_strides;
use super::{BinaryOp, UnaryOp};
use crate::device::args::{ElemArgs, ShapeArgs};
use crate::error::Result;
use crate::shape::Shape;

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

/// Number of elements of a shape.
pub fn numel(d: &[usize]) -> usize {
    d.iter().product()
}

/// `binary_fwd_f32`: out = f(a, b) over `out_dims`, each operand read through its broadcast
/// strides (0 along broadcast axes).
pub fn binary(
    op: BinaryOp,
    a_dims: &[usize],
    b_dims: &[usize],
    out_dims: &[usize],
) -> Result<ShapeArgs> {
    Ok(ShapeArgs {
        n: numel(out_dims) as u32,
        rank: out_dims.len() as u32,
        op: binary_code(op),
        count: 0,
        out_dims: ShapeArgs::axes(out_dims)?,
        a_strides: ShapeArgs::axes(&broadcast_strides(a_dims, out_dims))?,
        b_strides: ShapeArgs::axes(&broadcast_strides(b_dims, out_dims))?,
        extra: [0; 8],
    })
}

/// `unary_fwd_f32` over `n` elements.
pub fn unary(op: UnaryOp, n: usize) -> ElemArgs {
    let (code, s0, s1) = unary_code(op);
    ElemArgs {
        n: n as u32,
        op: code,
        s0,
        s1,
    }
}

/// `sum_to_fwd_f32`: `src_dims` summed down to `dst_dims` (left-padded with 1s to the same
/// rank); `count` source elements add into each output.
pub fn sum_to(src_dims: &[usize], dst_dims: &[usize]) -> Result<ShapeArgs> {
    let r = src_dims.len();
    let mut padded = vec![1usize; r - dst_dims.len()];
    padded.extend_from_slice(dst_dims);
    let n = numel(dst_dims);
    Ok(ShapeArgs {
        n: n as u32,
        rank: r as u32,
        op: 0,
        count: (numel(src_dims) / n.max(1)) as u32,
        out_dims: ShapeArgs::axes(&padded)?,
        a_strides: ShapeArgs::axes(&Shape::new(src_dims.to_vec()).strides())?,
        b_strides: [0; 8],
        extra: ShapeArgs::axes(src_dims)?,
    })
}

/// `broadcast_to_fwd_f32`: `src_dims` repeated along the broadcast axes of `dst_dims`.
pub fn broadcast_to(src_dims: &[usize], dst_dims: &[usize]) -> Result<ShapeArgs> {
    Ok(ShapeArgs {
        n: numel(dst_dims) as u32,
        rank: dst_dims.len() as u32,
        op: 0,
        count: 0,
        out_dims: ShapeArgs::axes(dst_dims)?,
        a_strides: ShapeArgs::axes(&broadcast_strides(src_dims, dst_dims))?,
        b_strides: [0; 8],
        extra: [0; 8],
    })
}
