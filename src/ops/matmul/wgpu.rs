//! WebGPU launcher `matmul_fwd_f32` (`shaders/matmul.wgsl`: 64×64 tiles, 4×4 per thread).

use super::MatmulArgs;
use crate::device::wgpu::{gpu, GpuBuffer, MAX_GROUPS};
use crate::error::{Error, Result};

/// Output tile edge of the shader.
const TILE: usize = 64;

/// C[m×n] = op(A)·op(B).
pub fn matmul(
    a: &GpuBuffer,
    b: &GpuBuffer,
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let out = g.alloc(m * n)?;
    if m * n == 0 {
        return Ok(out);
    }
    if k == 0 {
        return g.zeros(m * n);
    }
    let (gx, gy) = (n.div_ceil(TILE), m.div_ceil(TILE));
    if gx > MAX_GROUPS as usize || gy > MAX_GROUPS as usize {
        return Err(Error::Invalid(format!(
            "matmul: a {m}×{n} output exceeds the wgpu grid"
        )));
    }
    let args = MatmulArgs::new(m, n, k, trans_a, trans_b)?;
    g.launch(
        "matmul",
        "matmul_fwd_f32",
        &args,
        &[a, b, &out],
        (gx as u32, gy as u32, 1),
    )?;
    Ok(out)
}
