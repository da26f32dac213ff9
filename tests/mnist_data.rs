//! MNIST loading from the shared copy (`../shared/data/mnist`), and clear errors for missing,
//! truncated and corrupt files.

use shortcut::data::mnist::{self, FILES};
use shortcut::data::{BiasedMnist, Paint, Split};
use shortcut::Device;
use std::path::PathBuf;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist")
}

fn copy_shared(dir: &std::path::Path) {
    for f in FILES {
        std::fs::copy(
            shared().join(format!("{f}.gz")),
            dir.join(format!("{f}.gz")),
        )
        .unwrap();
    }
}

#[test]
fn loads_the_real_mnist_with_the_right_counts() {
    let m = mnist::load(&shared()).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    for f in FILES {
        let raw = mnist::read_maybe_gz(&shared().join(format!("{f}.gz"))).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    copy_shared(dir.path());
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
    let dir = tempfile::tempdir().unwrap();
    copy_shared(dir.path());
    let p = dir.path().join("t10k-labels-idx1-ubyte.gz");
    std::fs::remove_file(&p).unwrap();
    let raw_path = dir.path().join("t10k-labels-idx1-ubyte");
    let good = mnist::read_maybe_gz(&shared().join("t10k-labels-idx1-ubyte.gz")).unwrap();

    let mut bad_magic = good.clone();
    bad_magic[3] = 3;
    std::fs::write(&raw_path, &bad_magic).unwrap();
    assert!(mnist::load(dir.path())
        .err()
        .unwrap()
        .to_string()
        .contains("bad magic"));

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
    let m = mnist::load(&shared()).unwrap();
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
