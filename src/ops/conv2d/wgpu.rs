//! WebGPU launchers of conv2d (`shaders/conv2d.wgsl`).
//!
//! Forward: implicit GEMM, 64×64 tiles of Y[o, p]. Input gradient: one thread per dx element.
//! Weight gradient: implicit GEMM over positions, split into `splits` chunks along the positions
//! so that enough workgroups run, each writing its partial dW; a second kernel adds the partials
//! in split order. The bias gradient is shared with CUDA (`gpu_bias` in `conv2d/mod.rs`).

use super::Conv2dArgs;
use super::ConvLaunch;
use crate::device::wgpu::{gpu, GpuBuffer, MAX_GROUPS};
use crate::error::{Error, Result};

const TILE: usize = 64;

fn sizes(a: &Conv2dArgs) -> (usize, usize, usize) {
    let u = |v: u32| v as usize;
    let positions = u(a.n) * u(a.out_h) * u(a.out_w);
    let kdim = u(a.c_in) * u(a.kh) * u(a.kw);
    (positions, kdim, u(a.c_out))
}

fn grid(cols: usize, rows: usize, z: usize) -> Result<(u32, u32, u32)> {
    let (gx, gy) = (cols.div_ceil(TILE), rows.div_ceil(TILE));
    if gx > MAX_GROUPS as usize || gy > MAX_GROUPS as usize {
        return Err(Error::Invalid(
            "conv2d: the problem exceeds the wgpu grid".into(),
        ));
    }
    Ok((gx as u32, gy as u32, z as u32))
}

/// `conv2d_fwd_f32`.
pub fn conv2d_fwd(
    x: &GpuBuffer,
    w: &GpuBuffer,
    b: Option<&GpuBuffer>,
    a: &Conv2dArgs,
) -> Result<GpuBuffer> {
    let g = gpu()?;
    let (positions, _, o) = sizes(a);
    let y = g.alloc(positions * o)?;
    if y.is_empty() {
        return Ok(y);
    }
    let args = ConvLaunch {
        a: *a,
        has_bias: b.is_some() as u32,
        k_chunk: 0,
        splits: 0,
        count: 0,
    };
    // Without a bias the shader never reads binding 3; bind the weight there.
    let bias = b.unwrap_or(w);
    g.launch(
        "conv2d",
        "conv2d_fwd_f32",
        &args,
        &[x, w, bias, &y],
        grid(positions, o, 1)?,
    )?;
    Ok(y)
}

/// `conv2d_bwd_input_f32`.
pub fn conv2d_bwd_input(grad: &GpuBuffer, w: &GpuBuffer, a: &Conv2dArgs) -> Result<GpuBuffer> {
    let g = gpu()?;
    let n = (a.n * a.c_in * a.h * a.w) as usize;
    let dx = g.alloc(n)?;
    let args = ConvLaunch {
        a: *a,
        has_bias: 0,
        k_chunk: 0,
        splits: 0,
        count: n as u32,
    };
    g.launch_1d("conv2d", "conv2d_bwd_input_f32", &args, &[grad, w, &dx], n)?;
    Ok(dx)
}

/// `conv2d_bwd_weight_f32` + `conv2d_bwd_weight_reduce_f32`.
pub fn conv2d_bwd_weight(grad: &GpuBuffer, x: &GpuBuffer, a: &Conv2dArgs) -> Result<GpuBuffer> {
    let g = gpu()?;
    let (positions, kdim, o) = sizes(a);
    let elems = o * kdim;
    if elems == 0 || positions == 0 {
        return g.zeros(elems);
    }
    // Aim for ~256 workgroups in all, each with at least 256 positions to sum.
    let tiles = kdim.div_ceil(TILE) * o.div_ceil(TILE);
    let splits = (256 / tiles)
        .clamp(1, 64)
        .min(positions.div_ceil(256))
        .max(1);
    let k_chunk = positions.div_ceil(splits).div_ceil(16) * 16;
    let splits = positions.div_ceil(k_chunk);
    let args = ConvLaunch {
        a: *a,
        has_bias: 0,
        k_chunk: k_chunk as u32,
        splits: splits as u32,
        count: elems as u32,
    };
    let partial = g.alloc(splits * elems)?;
    g.launch(
        "conv2d",
        "conv2d_bwd_weight_f32",
        &args,
        &[grad, x, &partial],
        grid(kdim, o, splits)?,
    )?;
    let dw = g.alloc(elems)?;
    g.launch_1d(
        "conv2d",
        "conv2d_bwd_weight_reduce_f32",
        &args,
        &[&partial, &dw],
        elems,
    )?;
    Ok(dw)
}
