//! Parameter structs shared by several ops' GPU kernels (CUDA and WGSL alike): the element-wise
//! ops, relu and the layout ops pass their sizes in these. Each is `#[repr(C)]` and mirrored
//! field by field in `kernels/*.cu` and `shaders/*.wgsl`; `tests/cuda_kernels_compile.rs` and
//! `tests/wgsl_validate.rs` check that the sizes agree.

use crate::error::{Error, Result};

/// Parameters of the simplest kernels: a length and, for some, an op code and two scalars.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ElemArgs {
    pub n: u32,
    pub op: u32,
    pub s0: f32,
    pub s1: f32,
}

/// Up to this many axes for the kernels that index through shapes and strides.
pub const MAX_RANK: usize = 8;

/// Shape and strides of a broadcasting or permuting kernel, mirrored in WGSL as
/// `array<vec4<u32>, 2>` fields (uniform arrays need 16-byte elements) and in CUDA as
/// `unsigned x[8]` (the same bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ShapeArgs {
    pub n: u32,
    pub rank: u32,
    pub op: u32,
    /// Elements of the source that sum into one output element (`sum_to`).
    pub count: u32,
    pub out_dims: [u32; MAX_RANK],
    pub a_strides: [u32; MAX_RANK],
    pub b_strides: [u32; MAX_RANK],
    /// Extra per-axis values (`sum_to`: the source dims).
    pub extra: [u32; MAX_RANK],
}

impl ShapeArgs {
    /// Fill a per-axis array from a slice (at most [`MAX_RANK`] entries).
    pub fn axes(v: &[usize]) -> Result<[u32; MAX_RANK]> {
        if v.len() > MAX_RANK {
            return Err(Error::Invalid(format!(
                "the GPU kernels support tensors of up to {MAX_RANK} axes, got {}",
                v.len()
            )));
        }
        let mut a = [0u32; MAX_RANK];
        for (d, &x) in a.iter_mut().zip(v) {
            *d = x as u32;
        }
        Ok(a)
    }
}
