//! The CUDA sources, embedded in the binary.
//!
//! Every file of `kernels/` is listed here. A module's source is `kernels/common.cuh` (the
//! conventions and helpers shared by all kernels), then `kernels/gemm_tile.cuh` for the two
//! GEMM-shaped modules (matmul, conv2d), then the op's own `.cu` file; NVRTC compiles exactly
//! that concatenation (it cannot `#include` our files), on the user's machine for the GPU's architecture and in
//! CI for sm_80 and sm_90 (`tests/cuda_kernels_compile.rs`).

/// Helpers every module starts with.
pub const COMMON: &str = include_str!("../../../kernels/common.cuh");

/// The tiled-GEMM core (shared tile loaders and main loop) of matmul and conv2d.
pub const GEMM_TILE: &str = include_str!("../../../kernels/gemm_tile.cuh");

/// The modules that start with [`GEMM_TILE`].
const GEMM_MODULES: &[&str] = &["matmul", "conv2d"];

/// (name, source) of every op's kernel file.
pub const KERNELS: &[(&str, &str)] = &[
    (
        "elementwise",
        include_str!("../../../kernels/elementwise.cu"),
    ),
    ("relu", include_str!("../../../kernels/relu.cu")),
    ("matmul", include_str!("../../../kernels/matmul.cu")),
    ("conv2d", include_str!("../../../kernels/conv2d.cu")),
    ("pool", include_str!("../../../kernels/pool.cu")),
    ("reduce", include_str!("../../../kernels/reduce.cu")),
    ("softmax", include_str!("../../../kernels/softmax.cu")),
    (
        "cross_entropy",
        include_str!("../../../kernels/cross_entropy.cu"),
    ),
    ("index", include_str!("../../../kernels/index.cu")),
    ("upsample", include_str!("../../../kernels/upsample.cu")),
    ("optim", include_str!("../../../kernels/optim.cu")),
    ("colorize", include_str!("../../../kernels/colorize.cu")),
    (
        "color_jitter",
        include_str!("../../../kernels/color_jitter.cu"),
    ),
];

/// The full source of module `name` (common helpers, the GEMM core where used, the op's file).
pub fn source(name: &str) -> Option<String> {
    let (_, own) = KERNELS.iter().find(|(n, _)| *n == name)?;
    let gemm = if GEMM_MODULES.contains(&name) {
        GEMM_TILE
    } else {
        ""
    };
    Some(format!("{COMMON}\n{gemm}\n{own}"))
}
