//! The crate's layers (docs/architecture.md): a module may use its own layer's modules and
//! those below, never one above — so the engine reads without the study, and a change to the
//! study cannot break the engine. Siblings that must stay apart (training and
//! interpretability) may not use each other either.
//!
//! The check reads the source: every `crate::NAME` outside comments (in the binary's files,
//! `shortcut::NAME`) is a use of the module `NAME`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer, lowest first (docs/architecture.md).
const LAYERS: [(&str, &[&str]); 9] = [
    (
        "base",
        &[
            "error",
            "shape",
            "dtype",
            "rng",
            "files",
            "interrupt",
            "progress",
            "plots",
        ],
    ),
    (
        "engine",
        &[
            "device",
            "tensor",
            "autograd",
            "ops",
            "nn",
            "loss",
            "optim",
            "checkpoint",
        ],
    ),
    ("data", &["data"]),
    ("models", &["models"]),
    ("measure", &["measure"]),
    ("methods", &["train", "interp"]),
    ("report", &["report"]),
    ("study", &["study"]),
    ("commands", &["main", "cli_args", "commands"]),
];

/// Modules of one layer that may not use each other.
const APART: [(&str, &str); 1] = [("train", "interp")];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a line, without its comment (`//` and `///` to the end of the line).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The module names `line` uses through `prefix` (`crate::` or `shortcut::`).
fn uses<'a>(line: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        let after = &rest[i + prefix.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && end > 0 {
            found.push(&after[..end]);
        }
        rest = &after[end..];
    }
    found
}

#[test]
fn no_module_uses_a_module_of_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let own = layer_of(&module).unwrap_or_else(|| {
            panic!("src/{module} is in no layer: add it to LAYERS and docs/architecture.md")
        });
        let prefix = if LAYERS[8].1.contains(&module.as_str()) {
            "shortcut::"
        } else {
            "crate::"
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for used in uses(code(line), prefix) {
                let Some(theirs) = layer_of(used) else {
                    continue; // an item of the crate root (`crate::Result`, `shortcut::Tensor`)
                };
                let apart = APART
                    .iter()
                    .any(|&(a, b)| (a, b) == (&module, used) || (b, a) == (&module, used));
                if theirs > own || apart {
                    broken
                        .entry(rel.display().to_string())
                        .or_default()
                        .push(format!(
                            "line {}: {module} ({}) uses {used} ({})",
                            n + 1,
                            LAYERS[own].0,
                            LAYERS[theirs].0
                        ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "modules that use a higher layer (see docs/architecture.md):\n{broken:#?}"
    );
}

#[test]
fn every_module_of_the_crate_has_a_layer() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line.trim().strip_prefix("pub mod ") {
            let name = name.trim_end_matches(';');
            assert!(layer_of(name).is_some(), "src/{name} is in no layer");
        }
    }
}

#[test]
fn the_check_finds_uses_and_skips_comments() {
    assert_eq!(
        uses(
            code("use crate::interp::selectivity; // crate::study"),
            "crate::"
        ),
        ["interp"]
    );
    assert_eq!(
        uses(
            "x = shortcut::train::evaluate(a, crate::data::X)",
            "crate::"
        ),
        ["data"]
    );
    assert!(uses(code("/// see [`crate::study`]"), "crate::").is_empty());
    assert!(uses("mycrate::study", "crate::").is_empty());
}
