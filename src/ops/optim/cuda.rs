//! CUDA launchers of the fused optimizer steps (`kernels/optim.cu`), in place.
//!
//! `adam_step_f32` and `sgd_step_f32` are 1-D, one thread per parameter, `⌈n / 256⌉` blocks of
//! 256 threads. WGSL reads the parameter count as `arrayLength` of the bound buffer; CUDA has no
//! buffer lengths, so the kernels take the op's argument struct followed by `n`
//! ([`AdamStepArgs`], [`SgdStepArgs`]).

use super::{AdamArgs, SgdArgs};
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::Result;

/// The parameter of `adam_step_f32`: [`AdamArgs`] and the number of parameters (36 bytes,
/// mirrored in `kernels/optim.cu`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamStepArgs {
    pub args: AdamArgs,
    pub n: u32,
}

/// The parameter of `sgd_step_f32`: [`SgdArgs`] and the number of parameters (36 bytes,
/// mirrored in `kernels/optim.cu`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SgdStepArgs {
    pub args: SgdArgs,
    pub n: u32,
}

/// `adam_step_f32` on p, m, v (in place) with gradient g.
pub fn adam_step(
    p: &mut CudaBuffer,
    g: &CudaBuffer,
    m: &mut CudaBuffer,
    v: &mut CudaBuffer,
    a: &AdamArgs,
) -> Result<()> {
    let n = p.len();
    let args = AdamStepArgs {
        args: *a,
        n: n as u32,
    };
    gpu()?.launch_1d("optim", "adam_step_f32", &args, &[&*p, g, &*m, &*v], n)
}

/// `sgd_step_f32` on p and the momentum buffer (in place) with gradient g.
pub fn sgd_step(
    p: &mut CudaBuffer,
    g: &CudaBuffer,
    buf: &mut CudaBuffer,
    a: &SgdArgs,
) -> Result<()> {
    let n = p.len();
    let args = SgdStepArgs {
        args: *a,
        n: n as u32,
    };
    gpu()?.launch_1d("optim", "sgd_step_f32", &args, &[&*p, g, &*buf], n)
}
