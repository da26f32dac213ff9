//! The WGSL sources, embedded in the binary.
//!
//! Every file of `shaders/` is listed here. A module's source is `shaders/common.wgsl` (the
//! flat-index helper shared by all kernels) followed by the op's own file; the naga validation
//! test (`tests/wgsl_validate.rs`) checks exactly these concatenations, so a shader that a
//! stricter driver would reject fails on any machine, GPU or not.

/// Helpers every module starts with.
pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");

/// (name, source) of every op's shader file.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "elementwise",
        include_str!("../../../shaders/elementwise.wgsl"),
    ),
    ("relu", include_str!("../../../shaders/relu.wgsl")),
    ("matmul", include_str!("../../../shaders/matmul.wgsl")),
    ("conv2d", include_str!("../../../shaders/conv2d.wgsl")),
    ("pool", include_str!("../../../shaders/pool.wgsl")),
    ("reduce", include_str!("../../../shaders/reduce.wgsl")),
    ("softmax", include_str!("../../../shaders/softmax.wgsl")),
    (
        "cross_entropy",
        include_str!("../../../shaders/cross_entropy.wgsl"),
    ),
    ("index", include_str!("../../../shaders/index.wgsl")),
    ("upsample", include_str!("../../../shaders/upsample.wgsl")),
    ("optim", include_str!("../../../shaders/optim.wgsl")),
    ("colorize", include_str!("../../../shaders/colorize.wgsl")),
    (
        "color_jitter",
        include_str!("../../../shaders/color_jitter.wgsl"),
    ),
];

/// The full source of module `name` (common helpers + the op's file).
pub fn source(name: &str) -> Option<String> {
    SHADERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| format!("{COMMON}\n{s}"))
}
