//! MNIST loading (the real files, found or fetched as the CLI does: `common::mnist_dir`), clear
//! errors for missing, truncated, corrupt and mislabelled files, and the `mnist` crate as an
//! independent oracle for our IDX reader.

mod common;

use shortcut::data::mnist::{self, FILES};
use shortcut::data::{BiasedMnist, Paint, Split};
use shortcut::Device;
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    common::mnist_dir()
}

fn copy_shared(from: &std::path::Path, dir: &std::path::Path) {
    for f in FILES {
        std::fs::copy(from.join(format!("{f}.gz")), dir.join(format!("{f}.gz"))).unwrap();
    }
}

#[test]
fn loads_the_real_mnist_with_the_right_counts() {
    let Some(src) = shared() else { return };
    let m = mnist::load(&src).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (60_000, 10_000));
    assert_eq!(m.train.images.len(), 60_000 * 784);
    // well-known first labels of MNIST: train starts 5, 0, 4, 1; test starts 7, 2, 1, 0
    assert_eq!(&m.train.labels[..4], &[5, 0, 4, 1]);
    assert_eq!(&m.test.labels[..4], &[7, 2, 1, 0]);
    let counts = (0..10)
        .map(|d| m.train.labels.iter().filter(|&&l| l == d).count())
        .collect::<Vec<_>>();
    assert_eq!(
        counts,
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
}

#[test]
fn raw_uncompressed_files_load_too() {
    let Some(src) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    for f in FILES {
        let raw = mnist::read_maybe_gz(&src.join(format!("{f}.gz"))).unwrap();
        std::fs::write(dir.path().join(f), raw).unwrap();
    }
    let m = mnist::load(dir.path()).unwrap();
    assert_eq!(m.test.len(), 10_000);
}

#[test]
fn missing_file_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let err = mnist::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("shortcut data fetch"),
        "{err}"
    );
}

#[test]
fn truncated_gzip_is_an_error_naming_the_file() {
    let Some(src) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    copy_shared(&src, dir.path());
    let p = dir.path().join("t10k-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let err = mnist::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("t10k-labels-idx1-ubyte.gz") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn wrong_magic_size_or_labels_are_errors() {
    let Some(src) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    copy_shared(&src, dir.path());
    let p = dir.path().join("t10k-labels-idx1-ubyte.gz");
    std::fs::remove_file(&p).unwrap();
    let raw_path = dir.path().join("t10k-labels-idx1-ubyte");
    let good = mnist::read_maybe_gz(&src.join("t10k-labels-idx1-ubyte.gz")).unwrap();

    let mut bad_magic = good.clone();
    bad_magic[3] = 3;
    std::fs::write(&raw_path, &bad_magic).unwrap();
    assert!(mnist::load(dir.path())
        .err()
        .unwrap()
        .to_string()
        .contains("not an IDX file"));

    std::fs::write(&raw_path, &good[..good.len() - 10]).unwrap();
    assert!(mnist::load(dir.path())
        .err()
        .unwrap()
        .to_string()
        .contains("truncated or corrupt"));

    let mut bad_label = good.clone();
    bad_label[8] = 42;
    std::fs::write(&raw_path, &bad_label).unwrap();
    assert!(mnist::load(dir.path())
        .err()
        .unwrap()
        .to_string()
        .contains("label 42"));

    let mut fewer = good[..8 + 9_999].to_vec();
    fewer[4..8].copy_from_slice(&9_999u32.to_be_bytes());
    std::fs::write(&raw_path, &fewer).unwrap();
    let err = mnist::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("9999 labels for 10000 images"), "{err}");
}

#[test]
fn biased_train_split_is_95_percent_dominant_on_real_data() {
    let Some(src) = shared() else { return };
    let m = mnist::load(&src).unwrap();
    let d = BiasedMnist::new(m, 0, 0.95, true).unwrap();
    let n = d.len(Split::Train);
    let dominant = (0..n)
        .filter(|&i| d.color_of(Split::Train, 0, i) == d.label(Split::Train, i))
        .count();
    let frac = dominant as f64 / n as f64;
    assert!((frac - 0.95).abs() < 0.004, "{frac}");
    let (x, y) = d
        .batch(Split::Hard, 0, &[0, 1, 2], Paint::DRAWN, Device::Cpu)
        .unwrap();
    assert_eq!(x.dims(), &[3, 3, 28, 28]);
    assert_eq!(y, vec![7, 2, 1]);
}

/// The `mnist` crate, an independent IDX reader, must see the same images and labels as ours
/// on the real files (it reads uncompressed files, so we decompress them first).
#[test]
fn our_reader_agrees_with_the_mnist_crate_on_every_image_and_label() {
    let Some(src) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    for f in FILES {
        let raw = mnist::read_maybe_gz(&src.join(format!("{f}.gz"))).unwrap();
        std::fs::write(dir.path().join(f), raw).unwrap();
    }
    let base = dir.path().to_str().unwrap().to_string() + "/";
    let oracle = ::mnist::MnistBuilder::new()
        .label_format_digit()
        .base_path(&base)
        .training_images_filename(FILES[0])
        .training_labels_filename(FILES[1])
        .test_images_filename(FILES[2])
        .test_labels_filename(FILES[3])
        .training_set_length(60_000)
        .validation_set_length(0)
        .test_set_length(10_000)
        .finalize();
    let ours = mnist::load(&src).unwrap();
    assert_eq!(ours.train.labels, oracle.trn_lbl);
    assert_eq!(ours.test.labels, oracle.tst_lbl);
    assert!(ours.train.images == oracle.trn_img, "train images differ");
    assert!(ours.test.images == oracle.tst_img, "test images differ");
}

#[test]
fn a_saved_web_page_trailing_bytes_and_absent_files_are_named_plainly() {
    let Some(src) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    copy_shared(&src, dir.path());
    let p = dir.path().join("t10k-labels-idx1-ubyte.gz");
    let good = std::fs::read(&p).unwrap();

    std::fs::write(&p, b"<!DOCTYPE html><html><body>Moved</body></html>").unwrap();
    let err = mnist::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("is not gzip data") && err.contains("web page"),
        "{err}"
    );

    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    std::fs::write(&p, &trailing).unwrap();
    let err = mnist::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("7 bytes of unexpected data after"), "{err}");

    std::fs::remove_file(&p).unwrap();
    let why = mnist::describe_absence(dir.path());
    assert!(why.ends_with("lacks t10k-labels-idx1-ubyte.gz"), "{why}");
    let gone = dir.path().join("nope");
    assert!(mnist::describe_absence(&gone).contains("does not exist"));
    let file = dir.path().join("train-images-idx3-ubyte.gz");
    assert!(mnist::describe_absence(&file).contains("is a file, not a folder"));
}
