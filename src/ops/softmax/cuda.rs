//! CUDA launchers of softmax / log_softmax (`kernels/softmax.cu`, a port of
//! `shaders/softmax.wgsl`).
//!
//! * `softmax_fwd_f32` ([`SoftmaxArgs`]; x, y) and `softmax_bwd_f32` ([`SoftmaxArgs`]; g, y, dx):
//!   one thread per row of length c; 1-D launch, ⌈rows / 256⌉ blocks of 256 threads (no launch
//!   when c = 0). The kernels index with 32-bit integers, so rows·c must be below 2³² (checked).

use super::SoftmaxArgs;
use crate::device::cuda::{gpu, CudaBuffer};
use crate::error::{Error, Result};

fn args(rows: usize, c: usize, log: bool) -> SoftmaxArgs {
    SoftmaxArgs {
        rows: rows as u32,
        c: c as u32,
        log: log as u32,
        _pad: 0,
    }
}

/// The kernels' 32-bit index arithmetic must cover all rows·c elements.
fn check(entry: &str, rows: usize, c: usize) -> Result<()> {
    match rows.checked_mul(c) {
        Some(t) if t <= u32::MAX as usize => Ok(()),
        _ => Err(Error::Invalid(format!(
            "{entry}: {rows} rows of {c} exceed the 2^32 elements a CUDA softmax kernel can index"
        ))),
    }
}

/// `softmax_fwd_f32` (or log_softmax).
pub fn softmax_fwd(x: &CudaBuffer, rows: usize, c: usize, log: bool) -> Result<CudaBuffer> {
    check("softmax_fwd_f32", rows, c)?;
    let g = gpu()?;
    let y = g.alloc(rows * c)?;
    let rows = if c == 0 { 0 } else { rows };
    g.launch_1d(
        "softmax",
        "softmax_fwd_f32",
        &args(rows, c, log),
        &[x, &y],
        rows,
    )?;
    Ok(y)
}

/// `softmax_bwd_f32` (or log_softmax's).
pub fn softmax_bwd(
    grad: &CudaBuffer,
    y: &CudaBuffer,
    rows: usize,
    c: usize,
    log: bool,
) -> Result<CudaBuffer> {
    check("softmax_bwd_f32", rows, c)?;
    let g = gpu()?;
    let dx = g.alloc(rows * c)?;
    let rows = if c == 0 { 0 } else { rows };
    g.launch_1d(
        "softmax",
        "softmax_bwd_f32",
        &args(rows, c, log),
        &[grad, y, &dx],
        rows,
    )?;
    Ok(dx)
}
