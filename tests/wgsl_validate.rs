//! Every shader validated by naga (the WGSL front end wgpu itself uses) on any machine, GPU or
//! not: a shader that only one driver accepts is a bug. Checks exactly the sources the binary
//! embeds (`shaders/common.wgsl` + the op's file), every entry point named `<op>_<pass>_f32`,
//! and that every `.wgsl` file in `shaders/` is embedded.

use shortcut::device::wgpu::shaders::{source, SHADERS};

#[test]
fn every_embedded_shader_parses_and_validates() {
    for (name, _) in SHADERS {
        let src = source(name).unwrap();
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("shaders/{name}.wgsl: {}", e.emit_to_string(&src)));
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        );
        validator
            .validate(&module)
            .unwrap_or_else(|e| panic!("shaders/{name}.wgsl: {}", e.emit_to_string(&src)));
        assert!(!module.entry_points.is_empty(), "{name} has no entry point");
        for ep in &module.entry_points {
            assert!(
                ep.name.ends_with("_f32"),
                "{name}: entry point {} is not named <op>_<pass>_f32",
                ep.name
            );
            assert_eq!(ep.stage, naga::ShaderStage::Compute, "{}", ep.name);
        }
    }
}

#[test]
fn every_shader_file_is_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            assert!(
                stem == "common" || SHADERS.iter().any(|(n, _)| *n == stem),
                "shaders/{stem}.wgsl is not listed in src/device/wgpu/shaders.rs"
            );
        }
    }
}

#[test]
fn launch_structs_match_their_wgsl_sizes() {
    // The Rust mirrors must have the byte size naga computes for the WGSL structs.
    let expect: &[(&str, &str, usize)] = &[
        (
            "conv2d",
            "ConvLaunch",
            std::mem::size_of::<shortcut::ops::conv2d::ConvLaunch>(),
        ),
        (
            "pool",
            "PoolArgs",
            std::mem::size_of::<shortcut::ops::pool::PoolArgs>(),
        ),
        (
            "optim",
            "AdamArgs",
            std::mem::size_of::<shortcut::ops::optim::AdamArgs>(),
        ),
        (
            "optim",
            "SgdArgs",
            std::mem::size_of::<shortcut::ops::optim::SgdArgs>(),
        ),
        (
            "elementwise",
            "ShapeArgs",
            std::mem::size_of::<shortcut::device::args::ShapeArgs>(),
        ),
        (
            "elementwise",
            "ElemArgs",
            std::mem::size_of::<shortcut::device::args::ElemArgs>(),
        ),
        (
            "matmul",
            "MatmulArgs",
            std::mem::size_of::<shortcut::ops::matmul::MatmulArgs>(),
        ),
        (
            "reduce",
            "ReduceArgs",
            std::mem::size_of::<shortcut::ops::reduce::ReduceArgs>(),
        ),
        (
            "softmax",
            "SoftmaxArgs",
            std::mem::size_of::<shortcut::ops::softmax::SoftmaxArgs>(),
        ),
        (
            "cross_entropy",
            "CeArgs",
            std::mem::size_of::<shortcut::ops::cross_entropy::CeArgs>(),
        ),
        (
            "index",
            "IndexArgs",
            std::mem::size_of::<shortcut::ops::index::IndexArgs>(),
        ),
        (
            "upsample",
            "UpArgs",
            std::mem::size_of::<shortcut::ops::upsample::UpArgs>(),
        ),
        (
            "colorize",
            "ColorizeArgs",
            std::mem::size_of::<shortcut::ops::colorize::ColorizeArgs>(),
        ),
        (
            "color_jitter",
            "JitterArgs",
            std::mem::size_of::<shortcut::ops::color_jitter::JitterArgs>(),
        ),
    ];
    for &(file, name, rust_size) in expect {
        let src = source(file).unwrap();
        let module = naga::front::wgsl::parse_str(&src).unwrap();
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let (handle, _) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{file}: no struct {name}"));
        assert_eq!(
            layouter[handle].size as usize, rust_size,
            "{file}: WGSL {name} and its Rust mirror differ in size"
        );
    }
}
