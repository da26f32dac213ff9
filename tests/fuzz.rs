//! Fuzzing the three parsers a user's files and words reach: the IDX/gzip reader, the
//! safetensors loader and the command line. Each target mutates *real* inputs — bit flips,
//! truncations, length fields set to extremes, splices of two inputs, random bytes inserted —
//! and the property is the same everywhere: the parser returns a value or an error, it never
//! panics (a panic is caught and reported with the case's seed, to replay it).
//!
//! The cases are a pure function of (target, case number), so the suite runs a small fixed
//! corpus (`FUZZ_CASES`, default 300 per target); outside CI run a million per target:
//!
//! ```sh
//! FUZZ_CASES=1000000 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! (docs/reliability.md records the counts and times of such runs.)

mod common;

#[path = "../src/cli_args.rs"]
#[allow(dead_code)]
mod cli_args;

use clap::Parser;
use shortcut::data::mnist;
use shortcut::rng::Rng;
use shortcut::{Device, Tensor};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn cases() -> u64 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// One mutation of `base` (and sometimes `other`), chosen by `rng`. `fields` are byte offsets
/// of length fields (4- or 8-byte, as `width`) worth setting to extreme values.
fn mutate(base: &[u8], other: &[u8], fields: &[usize], width: usize, rng: &mut Rng) -> Vec<u8> {
    let mut v = base.to_vec();
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        if v.is_empty() {
            v.push(rng.next_u32() as u8);
        }
        match rng.below(6) {
            0 => {
                // flip a few bits
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(v.len());
                    v[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                let n = rng.below(v.len() + 1);
                v.truncate(n);
            }
            2 => {
                // a length field set to an extreme
                if let Some(&at) = fields.get(rng.below(fields.len().max(1))) {
                    let extremes: [u64; 6] = [0, 1, 0x7fff_ffff, 0xffff_ffff, 1 << 40, u64::MAX];
                    let x = extremes[rng.below(extremes.len())];
                    let bytes = if width == 8 {
                        x.to_le_bytes().to_vec()
                    } else {
                        (x as u32).to_be_bytes().to_vec()
                    };
                    if at + width <= v.len() {
                        v[at..at + width].copy_from_slice(&bytes[..width]);
                    }
                }
            }
            3 => {
                // splice: the head of one input, the tail of the other
                let a = rng.below(v.len() + 1);
                let b = rng.below(other.len() + 1);
                v.truncate(a);
                v.extend_from_slice(&other[b..]);
            }
            4 => {
                let at = rng.below(v.len() + 1);
                let junk: Vec<u8> = (0..1 + rng.below(32))
                    .map(|_| rng.next_u32() as u8)
                    .collect();
                v.splice(at..at, junk);
            }
            _ => {
                // overwrite a run of bytes
                let at = rng.below(v.len());
                let len = (1 + rng.below(16)).min(v.len() - at);
                for b in &mut v[at..at + len] {
                    *b = rng.next_u32() as u8;
                }
            }
        }
    }
    v
}

/// Run `cases()` cases of `target` (which says whether its input parsed); a panic fails the
/// test naming the case. Prints how many inputs parsed, so a fuzzer that only ever feeds
/// garbage to the first check would show.
fn fuzz(name: &str, stream: u32, mut target: impl FnMut(&mut Rng) -> bool) {
    let n = cases();
    let start = std::time::Instant::now();
    let mut parsed = 0u64;
    for case in 0..n {
        let mut rng = Rng::new(case, stream);
        match catch_unwind(AssertUnwindSafe(|| target(&mut rng))) {
            Ok(ok) => parsed += ok as u64,
            Err(_) => panic!("{name}: case {case} panicked (replay: Rng::new({case}, {stream}))"),
        }
    }
    eprintln!(
        "{name}: {n} cases ({parsed} parsed, {} rejected), no panic ({:.1} s)",
        n - parsed,
        start.elapsed().as_secs_f64()
    );
    // Over many cases both outcomes must occur (the suite's small corpus may not see a parse).
    if n >= 10_000 {
        assert!(
            parsed > 0 && parsed < n,
            "{name}: the mutations never (or always) parse"
        );
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A small valid IDX file of `n` 28×28 images, and one of `n` labels.
fn small_idx(n: usize, rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let mut img = vec![0, 0, 8, 3];
    for d in [n as u32, 28, 28] {
        img.extend_from_slice(&d.to_be_bytes());
    }
    img.extend((0..n * 784).map(|_| rng.next_u32() as u8));
    let mut lab = vec![0, 0, 8, 1];
    lab.extend_from_slice(&(n as u32).to_be_bytes());
    lab.extend((0..n).map(|_| rng.below(10) as u8));
    (img, lab)
}

#[test]
fn the_idx_and_gzip_reader_never_panics() {
    let mut rng = Rng::new(7, 0);
    let (img, lab) = small_idx(3, &mut rng);
    // Real files where the suite has them (the label files are small enough to mutate fast).
    let real = common::mnist_dir()
        .and_then(|d| std::fs::read(d.join("t10k-labels-idx1-ubyte.gz")).ok())
        .unwrap_or_else(|| gzip(&lab));
    let inputs = [img.clone(), lab.clone(), gzip(&img), gzip(&lab), real];
    let path = Path::new("fuzz.gz");
    fuzz("idx/gzip", 1, |rng| {
        let a = &inputs[rng.below(inputs.len())];
        let b = &inputs[rng.below(inputs.len())];
        // IDX length fields: the dims after the 4-byte magic.
        let bytes = mutate(a, b, &[4, 8, 12], 4, rng);
        match mnist::decode_maybe_gz(path, &bytes) {
            Ok(content) => {
                let three = mnist::parse_idx(path, &content, 3).is_ok();
                let one = mnist::parse_idx(path, &content, 1).is_ok();
                three || one
            }
            Err(_) => false,
        }
    });
}

#[test]
fn the_safetensors_loader_never_panics() {
    let t = |v: Vec<f32>, s: &[usize]| Tensor::from_vec(v, s.to_vec(), Device::Cpu).unwrap();
    let named = vec![
        (
            "a.weight".to_string(),
            t((0..12).map(|i| i as f32).collect(), &[3, 4]),
        ),
        ("a.bias".to_string(), t(vec![0.5; 3], &[3])),
        ("b".to_string(), t(vec![1.0], &[1])),
    ];
    let meta = [("shortcut.model".to_string(), "LazyCNN".to_string())];
    let good = shortcut::checkpoint::serialize(&named, &meta).unwrap();
    let other = shortcut::checkpoint::serialize(&named[..1], &[]).unwrap();
    let head = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let path = Path::new("fuzz.safetensors");
    fuzz("safetensors", 2, |rng| {
        // The 8-byte header length, and offsets inside the header's JSON numbers.
        let fields = [0, 8 + rng.below(head.max(1))];
        let bytes = mutate(&good, &other, &fields, 8, rng);
        match shortcut::checkpoint::load_bytes(path, &bytes, Device::Cpu) {
            Ok(tensors) => {
                // What loads is what the file says: finite values, shapes that match the data.
                for (name, t) in tensors {
                    let v = t.to_vec().unwrap();
                    assert_eq!(v.len(), t.numel(), "{name}");
                    assert!(v.iter().all(|x| x.is_finite()), "{name}");
                }
                true
            }
            Err(_) => false,
        }
    });
}

#[test]
fn the_command_line_parser_never_panics() {
    // Real command lines, then mutated: words dropped, swapped, repeated, replaced by
    // extremes (negative, huge, NaN, empty, non-UTF-8-looking) or by other flags.
    let real: Vec<Vec<&str>> = vec![
        vec![
            "train", "lazy", "--epochs", "3", "--limit", "600", "--seed", "2",
        ],
        vec![
            "train",
            "shape",
            "--method",
            "consistency",
            "--lambda",
            "5",
            "--resume",
        ],
        vec![
            "train",
            "lazy",
            "--method",
            "suppress",
            "--suppress",
            "0.3",
            "--overwrite",
        ],
        vec![
            "study",
            "--profile",
            "quick",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--limit",
            "400",
        ],
        vec!["eval", "m.safetensors", "--limit", "100", "--device", "cpu"],
        vec![
            "attack",
            "m.safetensors",
            "--eps",
            "0.01,0.1",
            "--source",
            "7",
            "--target",
            "3",
        ],
        vec![
            "sae",
            "m.safetensors",
            "--kind",
            "topk",
            "--k",
            "12",
            "--epochs",
            "2",
        ],
        vec![
            "gradcam",
            "m.safetensors",
            "--index",
            "4",
            "--class",
            "2",
            "--out",
            "c.png",
        ],
        vec!["explain", "m.safetensors", "--quick", "--limit", "50"],
        vec!["data", "preview", "--bias", "0.9"],
        vec!["devices", "--device", "wgpu"],
    ];
    let words = [
        "-1",
        "0",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999",
        "1e9",
        "NaN",
        "inf",
        "",
        "--",
        "-",
        "--epochs",
        "--limit",
        "--help",
        "--version",
        "--seeds",
        "--k",
        "--eps",
        "\u{fffd}",
        "lazy",
    ];
    fuzz("command line", 3, |rng| {
        let mut args: Vec<String> = real[rng.below(real.len())]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(args.len() + 1);
            match rng.below(4) {
                0 if at < args.len() => {
                    args.remove(at);
                }
                1 => args.insert(at, words[rng.below(words.len())].to_string()),
                _ if at < args.len() => args[at] = words[rng.below(words.len())].to_string(),
                _ => args.push(words[rng.below(words.len())].to_string()),
            }
        }
        let argv = std::iter::once("shortcut".to_string()).chain(args);
        // Ok or a clap error: both fine. Rendering the error must not panic either.
        match cli_args::Cli::try_parse_from(argv) {
            Ok(_) => true,
            Err(e) => {
                let _ = e.to_string();
                false
            }
        }
    });
}
