//! The primitives, one folder per op.
//!
//! Each `src/ops/<op>/mod.rs` holds the op's public API (methods on [`Tensor`]), its shape
//! checks, and its backward rule written once in terms of other primitives. Next to it, `cpu.rs`
//! holds the CPU kernels (plain functions on slices) and `gpu.rs` the GPU launchers, written
//! once for CUDA and WebGPU against [`crate::device::backend::Backend`], with kernels in
//! `kernels/<op>.cu` and `shaders/<op>.wgsl`. Where one device has kernels the other has not
//! (CUDA's register-tiled GEMM and convolution tiles) or the two take other arguments (the
//! optimizer steps), the launchers are `cuda.rs` and `wgpu.rs` instead. Entry points are named
//! `<op>_<pass>_f32` everywhere (`conv2d_fwd_f32`, `conv2d_bwd_input_f32`, …).
//!
//! | folder | primitives |
//! | --- | --- |
//! | `elementwise` | broadcasting add/sub/mul/div/minimum/maximum, comparisons, scalar ops, exp, log, sqrt, abs, sign, clamp, pow, sum-to-shape, broadcast-to |
//! | `relu` | relu forward/backward |
//! | `matmul` | matmul with optional transposes (packed SIMD GEMM) |
//! | `conv2d` | forward, backward-input, backward-weight, backward-bias |
//! | `pool` | max_pool2d (argmax kept), avg_pool2d, adaptive_avg_pool2d, forward/backward |
//! | `reduce` | sum, mean, max, argmax over an axis or everything |
//! | `softmax` | softmax and log_softmax over the last axis |
//! | `cross_entropy` | per-sample cross-entropy from logits (fused log-softmax + NLL) |
//! | `index` | reshape, permute, index_select, slice, cat |
//! | `upsample` | bilinear upsampling (forward) |
//! | `optim` | fused Adam and SGD-with-momentum parameter updates |
//! | `colorize` | Biased MNIST: paint grey digits in colour with noise and stripes (data-side, no backward) |
//! | `color_jitter` | torchvision's ColorJitter, per image, in a random order (data-side, no backward) |

pub mod color_jitter;
pub mod colorize;
pub mod conv2d;
pub mod cross_entropy;
pub mod elementwise;
pub mod index;
pub mod launches;
pub mod matmul;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod relu;
pub mod softmax;
pub mod upsample;

pub use conv2d::Conv2dParams;
pub use elementwise::{BinaryOp, UnaryOp};
pub use pool::PoolParams;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Check that all operands of `op` live on one device and return it.
pub(crate) fn same_device(op: &'static str, tensors: &[&Tensor]) -> Result<Device> {
    let d = tensors[0].device();
    for t in &tensors[1..] {
        if t.device() != d {
            return Err(Error::DeviceMismatch {
                op,
                a: d.to_string(),
                b: t.device().to_string(),
            });
        }
    }
    Ok(d)
}

/// Map a possibly negative axis (−1 = last) to an index, checking its range.
pub(crate) fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(Error::shape(
            op,
            format!("axis {axis} is out of range for a tensor of rank {rank}"),
        ));
    }
    Ok(a as usize)
}
