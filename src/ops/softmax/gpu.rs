//! The GPU launchers of softmax / log_softmax (`kernels/softmax.cu`, `shaders/softmax.wgsl`),
//! written once for both devices ([`Backend`]).
//!
//! * `softmax_fwd_f32` ([`SoftmaxArgs`]; x, y) and `softmax_bwd_f32` ([`SoftmaxArgs`]; g, y, dx):
//!   one thread per row of length c (no launch when c = 0). The kernels index with 32-bit
//!   integers, so rows·c must be below 2³² (checked).

use super::SoftmaxArgs;
use crate::device::backend::{fits_u32, Backend};
use crate::error::Result;

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
    fits_u32(
        &format!("{entry} over {rows} rows of {c}"),
        rows.checked_mul(c),
    )
}

/// `softmax_fwd_f32` (or log_softmax).
pub fn softmax_fwd<B: Backend>(
    x: &B::Buffer,
    rows: usize,
    c: usize,
    log: bool,
) -> Result<B::Buffer> {
    check("softmax_fwd_f32", rows, c)?;
    let g = B::get()?;
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
pub fn softmax_bwd<B: Backend>(
    grad: &B::Buffer,
    y: &B::Buffer,
    rows: usize,
    c: usize,
    log: bool,
) -> Result<B::Buffer> {
    check("softmax_bwd_f32", rows, c)?;
    let g = B::get()?;
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
