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

/// (module, entry) pairs the Rust launchers of `file_name` (`gpu.rs` or `wgpu.rs` in every op
/// folder) name: a string literal module name followed by a string literal entry ending in
/// `_f32`.
fn launched_pairs(file_name: &str) -> Vec<(String, String)> {
    let ops = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ops");
    let mut pairs = Vec::new();
    for d in std::fs::read_dir(ops).unwrap() {
        let f = d.unwrap().path().join(file_name);
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let literals: Vec<&str> = text.split('"').skip(1).step_by(2).collect();
        for w in literals.windows(2) {
            if w[1].ends_with("_f32") && source(w[0]).is_some() {
                pairs.push((w[0].to_string(), w[1].to_string()));
            }
        }
    }
    pairs
}

fn parsed(name: &str) -> naga::Module {
    naga::front::wgsl::parse_str(&source(name).unwrap()).unwrap()
}

#[test]
fn every_entry_point_a_launcher_names_exists_in_its_shader() {
    let pairs: Vec<_> = [launched_pairs("gpu.rs"), launched_pairs("wgpu.rs")].concat();
    assert!(pairs.len() >= 30, "found only {} launches", pairs.len());
    for (module, entry) in pairs {
        assert!(
            parsed(&module).entry_points.iter().any(|e| e.name == entry),
            "a launcher calls {entry} in shaders/{module}.wgsl, which does not declare it"
        );
    }
}

#[test]
fn the_shared_launchers_shapes_match_their_shaders_workgroups() {
    // A launcher in gpu.rs runs the same launch on both GPUs: CUDA blocks of 256 threads for a
    // 1-D launch, or blocks of the group size it names (256 for both group launches). The WGSL
    // entry point must declare the same workgroup, or WebGPU would cover other elements.
    assert_eq!(shortcut::ops::reduce::gpu::WG_THREADS, 256);
    assert_eq!(shortcut::ops::color_jitter::LANES, 256);
    assert_eq!(shortcut::device::cuda::BLOCK, 256);
    let pairs = launched_pairs("gpu.rs");
    assert!(pairs.len() >= 25, "found only {} launches", pairs.len());
    for (module, entry) in pairs {
        let m = parsed(&module);
        let ep = m.entry_points.iter().find(|e| e.name == entry).unwrap();
        assert_eq!(
            ep.workgroup_size,
            [256, 1, 1],
            "shaders/{module}.wgsl: {entry}'s workgroup differs from the CUDA launch's block"
        );
    }
}
