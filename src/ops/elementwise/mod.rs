//! Element-wise ops: binary ops with broadcasting, comparisons, scalar and unary functions.
//!
//! # Backward rules
//!
//! With broadcasting, an operand that was repeated receives the *sum* of the gradients of all
//! the output elements it fed (`sum_to`, the inverse of `broadcast_to`):
//!
//! | op | ∂L/∂a | ∂L/∂b |
//! | --- | --- | --- |
//! | a + b | g | g |
//! | a − b | g | −g |
//! | a · b | g·b | g·a |
//! | a / b | g/b | −g·a/b² |
//! | min(a, b) | g·[a ≤ b] | g·[a > b] |
//! | max(a, b) | g·[a ≥ b] | g·[a < b] |
//!
//! Ties in min/max send the gradient to `a` only, so it is never counted twice.
//! Comparisons (`gt`, `lt`, …) return 0/1 masks and are not differentiable.

pub mod cpu;
pub mod gpu;
mod gpu_args;

use super::same_device;
use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// The broadcasting binary primitives (`binary_fwd_f32` with an op code on the devices).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Minimum,
    Maximum,
    /// 1.0 where a > b, else 0.0 (no gradient).
    Gt,
    /// 1.0 where a ≥ b.
    Ge,
    /// 1.0 where a < b.
    Lt,
    /// 1.0 where a ≤ b.
    Le,
    /// 1.0 where a == b.
    Eq,
}

impl BinaryOp {
    /// The scalar function the kernel applies.
    pub fn scalar_fn(self) -> fn(f32, f32) -> f32 {
        fn b(c: bool) -> f32 {
            if c {
                1.0
            } else {
                0.0
            }
        }
        match self {
            BinaryOp::Add => |x, y| x + y,
            BinaryOp::Sub => |x, y| x - y,
            BinaryOp::Mul => |x, y| x * y,
            BinaryOp::Div => |x, y| x / y,
            BinaryOp::Minimum => |x, y| if x <= y { x } else { y },
            BinaryOp::Maximum => |x, y| if x >= y { x } else { y },
            BinaryOp::Gt => |x, y| b(x > y),
            BinaryOp::Ge => |x, y| b(x >= y),
            BinaryOp::Lt => |x, y| b(x < y),
            BinaryOp::Le => |x, y| b(x <= y),
            BinaryOp::Eq => |x, y| b(x == y),
        }
    }

    fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Eq => "eq",
        }
    }

    fn differentiable(self) -> bool {
        matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Minimum
                | BinaryOp::Maximum
        )
    }
}

/// The unary primitives (`unary_fwd_f32` with an op code on the devices).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Sqrt,
    Abs,
    Sign,
    AddScalar(f32),
    MulScalar(f32),
    PowScalar(f32),
    Clamp(f32, f32),
    /// 1.0 where lo ≤ x ≤ hi, else 0.0 (clamp's gradient mask; no gradient of its own).
    InRange(f32, f32),
}

impl UnaryOp {
    fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::AddScalar(_) => "add_scalar",
            UnaryOp::MulScalar(_) => "mul_scalar",
            UnaryOp::PowScalar(_) => "pow_scalar",
            UnaryOp::Clamp(..) => "clamp",
            UnaryOp::InRange(..) => "in_range",
        }
    }
}

fn binary_kernel(op: BinaryOp, a: &Tensor, b: &Tensor, out: &Shape) -> Result<Storage> {
    let device = same_device(op.name(), &[a, b])?;
    let (sa, sb) = (a.storage(), b.storage());
    match device {
        Device::Cpu => Ok(Storage::from_cpu(cpu::binary(
            op,
            sa.cpu()?,
            a.dims(),
            sb.cpu()?,
            b.dims(),
            out.dims(),
        ))),
        Device::Cuda => Ok(Storage::Cuda(gpu::binary::<Cuda>(
            op,
            sa.cuda()?,
            a.dims(),
            sb.cuda()?,
            b.dims(),
            out.dims(),
        )?)),
        Device::Wgpu => Ok(Storage::Wgpu(gpu::binary::<Wgpu>(
            op,
            sa.wgpu()?,
            a.dims(),
            sb.wgpu()?,
            b.dims(),
            out.dims(),
        )?)),
    }
}

fn unary_kernel(op: UnaryOp, x: &Tensor) -> Result<Storage> {
    let s = x.storage();
    match x.device() {
        Device::Cpu => Ok(Storage::from_cpu(cpu::unary(op, s.cpu()?))),
        Device::Cuda => Ok(Storage::Cuda(gpu::unary::<Cuda>(op, s.cuda()?)?)),
        Device::Wgpu => Ok(Storage::Wgpu(gpu::unary::<Wgpu>(op, s.wgpu()?)?)),
    }
}

/// Where the gradient of minimum/maximum goes to `a` (1) rather than `b` (0): a ≤ b for the
/// minimum, a ≥ b for the maximum (ties to `a`).
fn min_max_mask(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let cmp = if op == BinaryOp::Minimum {
        BinaryOp::Le
    } else {
        BinaryOp::Ge
    };
    a.binary(b, cmp)
}

impl Tensor {
    /// Apply a broadcasting binary op. Most code calls the named methods (`add`, `mul`, ...).
    pub fn binary(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        let out = cpu::broadcast_dims(self.dims(), other.dims()).ok_or_else(|| {
            Error::shape(
                op.name(),
                format!(
                    "shapes {} and {} do not broadcast",
                    self.shape(),
                    other.shape()
                ),
            )
        })?;
        let out = Shape::new(out);
        let storage = binary_kernel(op, self, other, &out)?;
        if !op.differentiable() {
            return Ok(Tensor::from_storage(storage, out));
        }
        Ok(record(
            op.name(),
            &[self, other],
            storage,
            out,
            move |inp, g| {
                let (a, b) = (&inp[0], &inp[1]);
                // Only the inputs that need a gradient get one: a constant operand (a mask, the
                // suppression hook's channel scale) costs no product and no reduction.
                let (need_a, need_b) = (a.requires_grad(), b.requires_grad());
                let ga = if need_a {
                    let ga = match op {
                        BinaryOp::Add | BinaryOp::Sub => g.clone(),
                        BinaryOp::Mul => g.mul(b)?,
                        BinaryOp::Div => g.div(b)?,
                        BinaryOp::Minimum | BinaryOp::Maximum => g.mul(&min_max_mask(op, a, b)?)?,
                        _ => unreachable!("non-differentiable ops are not recorded"),
                    };
                    Some(ga.sum_to(a.shape())?)
                } else {
                    None
                };
                let gb = if need_b {
                    let gb = match op {
                        BinaryOp::Add => g.clone(),
                        BinaryOp::Sub => g.neg()?,
                        BinaryOp::Mul => g.mul(a)?,
                        BinaryOp::Div => g.mul(a)?.div(&b.mul(b)?)?.neg()?,
                        BinaryOp::Minimum | BinaryOp::Maximum => {
                            let mask_b =
                                min_max_mask(op, a, b)?.mul_scalar(-1.0)?.add_scalar(1.0)?;
                            g.mul(&mask_b)?
                        }
                        _ => unreachable!("non-differentiable ops are not recorded"),
                    };
                    Some(gb.sum_to(b.shape())?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            },
        ))
    }

    /// `self + other` (broadcasting).
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Add)
    }
    /// `self − other` (broadcasting).
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Sub)
    }
    /// `self · other` element-wise (broadcasting).
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Mul)
    }
    /// `self / other` element-wise (broadcasting).
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Div)
    }
    /// Element-wise minimum (broadcasting).
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Minimum)
    }
    /// Element-wise maximum (broadcasting).
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Maximum)
    }
    /// Mask: 1 where `self > other`, else 0.
    pub fn gt(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Gt)
    }
    /// Mask: 1 where `self ≥ other`, else 0.
    pub fn ge(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Ge)
    }
    /// Mask: 1 where `self < other`, else 0.
    pub fn lt(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Lt)
    }
    /// Mask: 1 where `self ≤ other`, else 0.
    pub fn le(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Le)
    }
    /// Mask: 1 where `self == other`, else 0.
    pub fn eq_mask(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Eq)
    }

    /// `mask · self + (1 − mask) · other`: pick from `self` where the 0/1 mask is 1.
    /// Differentiable in `self` and `other` (the mask is a constant).
    pub fn where_mask(&self, mask: &Tensor, other: &Tensor) -> Result<Tensor> {
        let inv = mask.mul_scalar(-1.0)?.add_scalar(1.0)?;
        self.mul(mask)?.add(&other.mul(&inv)?)
    }

    /// Apply a unary op.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let storage = unary_kernel(op, self)?;
        let shape = self.shape().clone();
        if matches!(op, UnaryOp::InRange(..)) {
            return Ok(Tensor::from_storage(storage, shape));
        }
        let out = record(op.name(), &[self], storage, shape, move |inp, g| {
            let x = &inp[0];
            let gx = match op {
                UnaryOp::Neg => g.neg()?,
                // d/dx eˣ = eˣ (recomputed: saving the output would tie the node to it)
                UnaryOp::Exp => g.mul(&x.exp()?)?,
                UnaryOp::Log => g.div(x)?,
                // d/dx √x = 1 / (2√x)
                UnaryOp::Sqrt => g.div(&x.sqrt()?.mul_scalar(2.0)?)?,
                UnaryOp::Abs => g.mul(&x.sign()?)?,
                UnaryOp::Sign => g.zeros_like()?,
                UnaryOp::AddScalar(_) => g.clone(),
                UnaryOp::MulScalar(s) => g.mul_scalar(s)?,
                // d/dx xᵖ = p·xᵖ⁻¹
                UnaryOp::PowScalar(p) => g.mul(&x.pow_scalar(p - 1.0)?.mul_scalar(p)?)?,
                // the gradient passes where lo ≤ x ≤ hi (PyTorch's convention at the bounds)
                UnaryOp::Clamp(lo, hi) => g.mul(&x.unary(UnaryOp::InRange(lo, hi))?)?,
                UnaryOp::InRange(..) => unreachable!(),
            };
            Ok(vec![Some(gx)])
        });
        Ok(out)
    }

    /// −x
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    /// eˣ
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    /// ln x
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    /// √x
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    /// |x|
    pub fn abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs)
    }
    /// sign(x) ∈ {−1, 0, 1} (gradient zero).
    pub fn sign(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sign)
    }
    /// x + s
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        self.unary(UnaryOp::AddScalar(s))
    }
    /// x · s
    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        self.unary(UnaryOp::MulScalar(s))
    }
    /// xᵖ
    pub fn pow_scalar(&self, p: f32) -> Result<Tensor> {
        self.unary(UnaryOp::PowScalar(p))
    }
    /// x², as x·x.
    pub fn sqr(&self) -> Result<Tensor> {
        self.unary(UnaryOp::PowScalar(2.0))
    }
    /// min(max(x, lo), hi)
    pub fn clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        if lo > hi || lo.is_nan() || hi.is_nan() {
            return Err(Error::Invalid(format!("clamp: lo {lo} must be ≤ hi {hi}")));
        }
        self.unary(UnaryOp::Clamp(lo, hi))
    }

    /// Sum this tensor down to `shape`, undoing broadcasting: every output element is the sum
    /// of the elements broadcasting would have copied it to. Backward: `broadcast_to`.
    pub fn sum_to(&self, shape: &Shape) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let ok = cpu::broadcast_dims(shape.dims(), self.dims()).as_deref() == Some(self.dims());
        if !ok {
            return Err(Error::shape(
                "sum_to",
                format!("{} does not broadcast to {}", shape, self.shape()),
            ));
        }
        let s = self.storage();
        let storage = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::sum_to(s.cpu()?, self.dims(), shape.dims())),
            Device::Cuda => {
                Storage::Cuda(gpu::sum_to::<Cuda>(s.cuda()?, self.dims(), shape.dims())?)
            }
            Device::Wgpu => {
                Storage::Wgpu(gpu::sum_to::<Wgpu>(s.wgpu()?, self.dims(), shape.dims())?)
            }
        };
        let src_shape = self.shape().clone();
        Ok(record(
            "sum_to",
            &[self],
            storage,
            shape.clone(),
            move |_, g| Ok(vec![Some(g.broadcast_to(&src_shape)?)]),
        ))
    }

    /// Repeat this tensor along broadcast axes to `shape`. Backward: `sum_to`.
    pub fn broadcast_to(&self, shape: &Shape) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let ok = cpu::broadcast_dims(self.dims(), shape.dims()).as_deref() == Some(shape.dims());
        if !ok {
            return Err(Error::shape(
                "broadcast_to",
                format!("{} does not broadcast to {}", self.shape(), shape),
            ));
        }
        let s = self.storage();
        let storage = match self.device() {
            Device::Cpu => {
                Storage::from_cpu(cpu::broadcast_to(s.cpu()?, self.dims(), shape.dims()))
            }
            Device::Cuda => Storage::Cuda(gpu::broadcast_to::<Cuda>(
                s.cuda()?,
                self.dims(),
                shape.dims(),
            )?),
            Device::Wgpu => Storage::Wgpu(gpu::broadcast_to::<Wgpu>(
                s.wgpu()?,
                self.dims(),
                shape.dims(),
            )?),
        };
        let src_shape = self.shape().clone();
        Ok(record(
            "broadcast_to",
            &[self],
            storage,
            shape.clone(),
            move |_, g| Ok(vec![Some(g.sum_to(&src_shape)?)]),
        ))
    }
}
