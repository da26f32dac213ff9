//! Matrix multiply with optional transposes: C = op(A) · op(B), op ∈ {identity, transpose}.
//!
//! Shapes: op(A) is m×k and op(B) is k×n. A is stored m×k (or k×m when `trans_a`), B is stored
//! k×n (or n×k when `trans_b`). Transposes are handled by the GEMM's packing, never by copying.
//!
//! # Backward
//!
//! For C = A·B: ∂L/∂A = G·Bᵀ and ∂L/∂B = Aᵀ·G (G = ∂L/∂C). With the transposes folded in, each
//! gradient is again one matmul with transposes, shaped like the stored operand:
//!
//! | forward | ∂L/∂A (stored) | ∂L/∂B (stored) |
//! | --- | --- | --- |
//! | A·B | G·Bᵀ | Aᵀ·G |
//! | Aᵀ·B | B·Gᵀ | A·G |
//! | A·Bᵀ | G·B | Gᵀ·A |
//! | Aᵀ·Bᵀ | Bᵀ·Gᵀ | Gᵀ·Aᵀ |

pub mod cpu;
pub mod cuda;
pub mod gemm;
pub mod wgpu;

use super::same_device;
use crate::autograd::record;
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

impl Tensor {
    /// `self · other` for 2-D tensors.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// `op(self) · op(other)` for 2-D tensors, with the transposes given.
    pub fn matmul_t(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
        super::launches::note("matmul");
        let (a, b) = (self, other);
        if a.rank() != 2 || b.rank() != 2 {
            return Err(Error::shape(
                "matmul",
                format!("needs 2-D operands, got {} and {}", a.shape(), b.shape()),
            ));
        }
        let (m, ka) = if trans_a {
            (a.dim(1), a.dim(0))
        } else {
            (a.dim(0), a.dim(1))
        };
        let (kb, n) = if trans_b {
            (b.dim(1), b.dim(0))
        } else {
            (b.dim(0), b.dim(1))
        };
        if ka != kb {
            return Err(Error::shape(
                "matmul",
                format!(
                    "inner dimensions differ: op(A) is {m}×{ka}, op(B) is {kb}×{n} (A {}, B {}, trans_a={trans_a}, trans_b={trans_b})",
                    a.shape(),
                    b.shape()
                ),
            ));
        }
        let device = same_device("matmul", &[a, b])?;
        let (sa, sb) = (a.storage(), b.storage());
        let storage = match device {
            Device::Cpu => Storage::from_cpu(cpu::matmul(
                sa.cpu()?,
                sb.cpu()?,
                m,
                n,
                ka,
                trans_a,
                trans_b,
            )),
            Device::Cuda => Storage::Cuda(cuda::matmul(
                sa.cuda()?,
                sb.cuda()?,
                m,
                n,
                ka,
                trans_a,
                trans_b,
            )?),
            Device::Wgpu => Storage::Wgpu(wgpu::matmul(
                sa.wgpu()?,
                sb.wgpu()?,
                m,
                n,
                ka,
                trans_a,
                trans_b,
            )?),
        };
        Ok(record(
            "matmul",
            &[a, b],
            storage,
            Shape::new([m, n]),
            move |inp, g| {
                let (a, b) = (&inp[0], &inp[1]);
                let ga = if !a.requires_grad() {
                    None
                } else {
                    Some(match (trans_a, trans_b) {
                        (false, false) => g.matmul_t(b, false, true)?,
                        (true, false) => b.matmul_t(g, false, true)?,
                        (false, true) => g.matmul_t(b, false, false)?,
                        (true, true) => b.matmul_t(g, true, true)?,
                    })
                };
                let gb = if !b.requires_grad() {
                    None
                } else {
                    Some(match (trans_a, trans_b) {
                        (false, false) => a.matmul_t(g, true, false)?,
                        (true, false) => a.matmul_t(g, false, false)?,
                        (false, true) => g.matmul_t(a, true, false)?,
                        (true, true) => g.matmul_t(a, true, true)?,
                    })
                };
                Ok(vec![ga, gb])
            },
        ))
    }
}

/// Sizes and transposes of a matmul, mirrored in `shaders/matmul.wgsl` and `kernels/matmul.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatmulArgs {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub trans_a: u32,
    pub trans_b: u32,
    pub _pad: [u32; 3],
}

impl MatmulArgs {
    /// The GPU kernels' parameters for C[m×n] = op(A)·op(B); an error unless every matrix fits
    /// the kernels' 32-bit element indices.
    pub fn new(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Result<MatmulArgs> {
        let limit = u32::MAX as usize;
        let fits = |rows: usize, cols: usize| rows.checked_mul(cols).is_some_and(|e| e <= limit);
        if !(fits(m, k) && fits(k, n) && fits(m, n)) {
            return Err(Error::Invalid(format!(
                "matmul: a {m}×{k} by {k}×{n} product exceeds the GPU kernels' 32-bit indexing"
            )));
        }
        Ok(MatmulArgs {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            trans_a: trans_a as u32,
            trans_b: trans_b as u32,
            _pad: [0; 3],
        })
    }
}
