//! The GPU launchers `relu_fwd_f32`, `relu_bwd_f32` (`kernels/relu.cu`, `shaders/relu.wgsl`),
//! written once for both devices ([`Backend`]): one thread per element; the parameter is an
//! [`ElemArgs`] (only `n`).

use crate::device::args::ElemArgs;
use crate::device::backend::Backend;
use crate::error::Result;

fn args(n: usize) -> ElemArgs {
    ElemArgs {
        n: n as u32,
        op: 0,
        s0: 0.0,
        s1: 0.0,
    }
}

/// y = max(x, 0)
pub fn relu_fwd<B: Backend>(x: &B::Buffer) -> Result<B::Buffer> {
    let g = B::get()?;
    let y = g.alloc(B::len(x))?;
    g.launch_1d(
        "relu",
        "relu_fwd_f32",
        &args(B::len(x)),
        &[x, &y],
        B::len(x),
    )?;
    Ok(y)
}

/// dx = g where y > 0
pub fn relu_bwd<B: Backend>(grad: &B::Buffer, y: &B::Buffer) -> Result<B::Buffer> {
    let g = B::get()?;
    let dx = g.alloc(B::len(y))?;
    g.launch_1d(
        "relu",
        "relu_bwd_f32",
        &args(B::len(y)),
        &[grad, y, &dx],
        B::len(y),
    )?;
    Ok(dx)
}
