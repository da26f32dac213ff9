//! WebGPU launchers of the fused optimizer steps (`shaders/optim.wgsl`), in place.

use super::{AdamArgs, SgdArgs};
use crate::device::wgpu::{gpu, GpuBuffer};
use crate::error::Result;

/// `adam_step_f32` on p, m, v (in place) with gradient g.
pub fn adam_step(
    p: &mut GpuBuffer,
    g: &GpuBuffer,
    m: &mut GpuBuffer,
    v: &mut GpuBuffer,
    a: &AdamArgs,
) -> Result<()> {
    let n = p.len();
    gpu()?.launch_1d("optim", "adam_step_f32", a, &[p, g, m, v], n)
}

/// `sgd_step_f32` on p and the momentum buffer (in place) with gradient g.
pub fn sgd_step(p: &mut GpuBuffer, g: &GpuBuffer, buf: &mut GpuBuffer, a: &SgdArgs) -> Result<()> {
    let n = p.len();
    gpu()?.launch_1d("optim", "sgd_step_f32", a, &[p, g, buf], n)
}
