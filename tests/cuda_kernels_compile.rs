//! The CUDA kernels compile, and the Rust side agrees with them — checked without a GPU.
//!
//! * Every module (`kernels/common.cuh` + `kernels/<op>.cu`, exactly as embedded in the binary)
//!   compiles with NVRTC for sm_80 (A100) and sm_90 (H100/H200), and every `__global__` entry
//!   point it declares is in the CUBIN.
//! * Every (module, entry point) pair a launcher names exists in that `.cu` file, so a typo in a
//!   launcher fails here rather than at the first launch on a GPU.
//! * Every parameter struct has the same size in C as in Rust (`static_assert` compiled by
//!   NVRTC against `std::mem::size_of` of the Rust struct).
//! * Every file in `kernels/` is embedded.
//!
//! NVRTC runs without a GPU: CI installs it from PyPI (`nvidia-cuda-nvrtc`) and sets
//! `SHORTCUT_REQUIRE_NVRTC=1`, which makes a missing NVRTC a failure. Elsewhere the NVRTC tests
//! print why they skip.

use shortcut::device::cuda::{kernels, nvrtc};
use std::collections::BTreeSet;

/// The architectures CI compiles for: A100 and H100/H200.
const ARCHS: [&str; 2] = ["sm_80", "sm_90"];

fn nvrtc_or_skip() -> Option<&'static nvrtc::Nvrtc> {
    match nvrtc::nvrtc() {
        Ok(n) => Some(n),
        Err(e) => {
            let required = std::env::var("SHORTCUT_REQUIRE_NVRTC").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "SHORTCUT_REQUIRE_NVRTC=1 but NVRTC did not load: {e}"
            );
            eprintln!("skipping: {e}");
            None
        }
    }
}

/// A CUDA source without its `//` and `/* */` comments.
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The names of the `__global__` functions declared in a CUDA source.
fn entry_points(source: &str) -> Vec<String> {
    let code = strip_comments(source);
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("__global__") {
        rest = &rest[at + "__global__".len()..];
        let Some(v) = rest.find("void") else { break };
        let mut after = rest[v + 4..].trim_start();
        if let Some(r) = after.strip_prefix("__launch_bounds__") {
            after = r.find(')').map_or("", |i| r[i + 1..].trim_start());
        }
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.push(name);
    }
    out
}

/// `static_assert`s pinning the C parameter structs of `module` to the Rust sizes.
fn size_asserts(module: &str) -> String {
    use shortcut::device::args::{ElemArgs, ShapeArgs};
    use shortcut::ops::color_jitter::JitterArgs;
    use shortcut::ops::colorize::ColorizeArgs;
    use shortcut::ops::conv2d::{Conv2dArgs, ConvLaunch};
    use shortcut::ops::cross_entropy::CeArgs;
    use shortcut::ops::index::IndexArgs;
    use shortcut::ops::matmul::MatmulArgs;
    use shortcut::ops::optim::cuda::{AdamStepArgs, SgdStepArgs};
    use shortcut::ops::optim::{AdamArgs, SgdArgs};
    use shortcut::ops::pool::PoolArgs;
    use shortcut::ops::reduce::ReduceArgs;
    use shortcut::ops::softmax::SoftmaxArgs;
    use shortcut::ops::upsample::UpArgs;
    use std::mem::size_of;
    // (module, C struct, size of the Rust struct it mirrors)
    let table: &[(&str, &str, usize)] = &[
        ("elementwise", "ElemArgs", size_of::<ElemArgs>()),
        ("elementwise", "ShapeArgs", size_of::<ShapeArgs>()),
        ("relu", "ElemArgs", size_of::<ElemArgs>()),
        ("matmul", "MatmulArgs", size_of::<MatmulArgs>()),
        ("conv2d", "Conv2dArgs", size_of::<Conv2dArgs>()),
        ("conv2d", "ConvLaunch", size_of::<ConvLaunch>()),
        ("pool", "PoolArgs", size_of::<PoolArgs>()),
        ("reduce", "ReduceArgs", size_of::<ReduceArgs>()),
        ("softmax", "SoftmaxArgs", size_of::<SoftmaxArgs>()),
        ("cross_entropy", "CeArgs", size_of::<CeArgs>()),
        ("index", "ShapeArgs", size_of::<ShapeArgs>()),
        ("index", "IndexArgs", size_of::<IndexArgs>()),
        ("upsample", "UpArgs", size_of::<UpArgs>()),
        ("optim", "AdamArgs", size_of::<AdamArgs>()),
        ("optim", "SgdArgs", size_of::<SgdArgs>()),
        ("optim", "AdamStepArgs", size_of::<AdamStepArgs>()),
        ("optim", "SgdStepArgs", size_of::<SgdStepArgs>()),
        ("colorize", "ColorizeArgs", size_of::<ColorizeArgs>()),
        ("color_jitter", "JitterArgs", size_of::<JitterArgs>()),
    ];
    table
        .iter()
        .filter(|(m, _, _)| *m == module)
        .map(|(_, c, n)| {
            format!("static_assert(sizeof({c}) == {n}, \"{c} must be {n} bytes, as in Rust\");\n")
        })
        .collect()
}

#[test]
fn every_kernel_module_compiles_for_sm80_and_sm90() {
    let Some(nv) = nvrtc_or_skip() else { return };
    eprintln!("NVRTC {}.{} from {}", nv.version.0, nv.version.1, nv.path);
    let mut failures = Vec::new();
    for (name, _) in kernels::KERNELS {
        let source = kernels::source(name).unwrap() + "\n" + &size_asserts(name);
        let entries = entry_points(&source);
        assert!(!entries.is_empty(), "kernels/{name}.cu declares no kernel");
        for arch in ARCHS {
            match nv.compile(name, &source, arch) {
                Err(e) => failures.push(e.to_string()),
                Ok((cubin, log)) => {
                    if !log.is_empty() {
                        eprintln!("kernels/{name}.cu [{arch}] NVRTC says:\n{log}");
                    }
                    for e in &entries {
                        let found = cubin.windows(e.len()).any(|w| w == e.as_bytes());
                        if !found {
                            failures
                                .push(format!("{e} is missing from the {arch} CUBIN of {name}"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_size_asserts_can_fail() {
    // A wrong size must be a compile error, or the struct checks above prove nothing.
    let Some(nv) = nvrtc_or_skip() else { return };
    let src = "struct S { unsigned a; float b; };\nstatic_assert(sizeof(S) == 12, \"no\");\n";
    assert!(nv.compile("probe", src, "sm_80").is_err());
    let ok = "struct S { unsigned a; float b; };\nstatic_assert(sizeof(S) == 8, \"no\");\n";
    assert!(nv.compile("probe", ok, "sm_80").is_ok());
}

/// (module, entry) pairs named by the Rust launchers (`gpu.rs`, `cuda.rs`): a string literal
/// module name followed by a string literal entry ending in `_f32`.
fn launched_pairs() -> BTreeSet<(String, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    // The launchers for both GPUs (gpu.rs) and CUDA's own variants (cuda.rs).
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(format!("{root}/src/ops"))
        .unwrap()
        .flat_map(|d| {
            let dir = d.unwrap().path();
            [dir.join("gpu.rs"), dir.join("cuda.rs")]
        })
        .filter(|p| p.exists())
        .collect();
    let mut pairs = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let literals: Vec<&str> = text.split('"').skip(1).step_by(2).collect();
        for w in literals.windows(2) {
            let (m, e) = (w[0], w[1]);
            if e.ends_with("_f32") && kernels::source(m).is_some() {
                pairs.insert((m.to_string(), e.to_string()));
            }
        }
    }
    pairs
}

#[test]
fn every_entry_point_a_launcher_names_exists_in_its_module() {
    let pairs = launched_pairs();
    assert!(pairs.len() >= 30, "found only {} launches", pairs.len());
    for (module, entry) in pairs {
        let source = kernels::source(&module).unwrap();
        assert!(
            entry_points(&source).contains(&entry),
            "a launcher calls {entry} in kernels/{module}.cu, which does not declare it"
        );
    }
}

#[test]
fn every_kernel_file_is_embedded() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels");
    for f in std::fs::read_dir(dir).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "cuh") {
            let on_disk = std::fs::read_to_string(&path).unwrap();
            assert!(
                on_disk == kernels::COMMON || on_disk == kernels::GEMM_TILE,
                "{} is not embedded",
                path.display()
            );
        }
        if path.extension().is_some_and(|e| e == "cu") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let on_disk = std::fs::read_to_string(&path).unwrap();
            let embedded = kernels::KERNELS.iter().find(|(n, _)| *n == stem);
            assert!(embedded.is_some(), "kernels/{stem}.cu is not in KERNELS");
            assert_eq!(embedded.unwrap().1, on_disk, "kernels/{stem}.cu differs");
        }
    }
}

#[test]
fn entry_points_follow_the_naming_convention() {
    for (name, _) in kernels::KERNELS {
        for e in entry_points(&kernels::source(name).unwrap()) {
            assert!(
                e.ends_with("_f32"),
                "{name}: entry point {e} is not <op>_<pass>_f32"
            );
        }
    }
}

#[test]
fn cubins_are_cached_on_disk_by_content_hash_and_architecture() {
    let Some(nv) = nvrtc_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Only this test reads the cache folder, so setting the variable here affects no other test.
    std::env::set_var("SHORTCUT_CUDA_CACHE", dir.path());
    let src = kernels::source("relu").unwrap();
    let first = nv.cubin("relu", &src, "sm_80").unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|f| f.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("relu-sm_80-") && files[0].ends_with(".cubin"));
    // A second request is served from the file: replace its contents and see them come back.
    let path = dir.path().join(&files[0]);
    std::fs::write(&path, b"cached").unwrap();
    assert_eq!(nv.cubin("relu", &src, "sm_80").unwrap(), b"cached");
    // Another architecture or an edited source is another key, never the stale file.
    assert_ne!(nv.cache_key(&src, "sm_90"), nv.cache_key(&src, "sm_80"));
    let edited = src.clone() + "\n// edited\n";
    assert_ne!(nv.cubin("relu", &edited, "sm_80").unwrap(), b"cached");
    assert!(!first.is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    std::env::remove_var("SHORTCUT_CUDA_CACHE");
}

#[test]
fn every_module_has_its_parameter_structs_size_checked() {
    for (name, _) in kernels::KERNELS {
        assert!(
            !size_asserts(name).is_empty(),
            "kernels/{name}.cu: add its parameter structs to size_asserts()"
        );
    }
}
