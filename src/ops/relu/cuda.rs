//! CUDA launchers `relu_fwd_f32`, `relu_bwd_f32` (`kernels/relu.cu`): 1-D, one thread per
//! element, `⌈n / 256⌉` blocks of 256 threads; the parameter is an [`ElemArgs`] (only `n`).

use crate::device::args::ElemArgs;
use crate::device::cuda::{gpu, CudaBuffer};
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
pub fn relu_fwd(x: &CudaBuffer) -> Result<CudaBuffer> {
    let g = gpu()?;
    let y = g.alloc(x.len())?;
    g.launch_1d("relu", "relu_fwd_f32", &args(x.len()), &[x, &y], x.len())?;
    Ok(y)
}

/// dx = g where y > 0
pub fn relu_bwd(grad: &CudaBuffer, y: &CudaBuffer) -> Result<CudaBuffer> {
    let g = gpu()?;
    let dx = g.alloc(y.len())?;
    g.launch_1d(
        "relu",
        "relu_bwd_f32",
        &args(y.len()),
        &[grad, y, &dx],
        y.len(),
    )?;
    Ok(dx)
}
