//! Reading MNIST's IDX files (gzipped or raw), checked strictly.
//!
//! IDX layout: a big-endian header — magic `0x0000_08DD` (0x08 = unsigned bytes, DD = number of
//! dimensions), then one u32 per dimension — followed by the data. Images are `idx3` with
//! dimensions (count, 28, 28); labels are `idx1` with (count). We check the magic number, the
//! dimensions, that the data size matches the header exactly, that labels are digits, and that
//! images and labels agree in count; every failure names the file and the problem.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Pixels per image.
pub const PIXELS: usize = 28 * 28;

/// The four file stems.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// One split of MNIST: `images[i·784 .. (i+1)·784]` is image i (row-major, 0–255).
#[derive(Clone)]
pub struct MnistSplit {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl MnistSplit {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }
    /// The first `n` samples (all if `n` ≥ len).
    pub fn truncated(&self, n: usize) -> MnistSplit {
        let n = n.min(self.len());
        MnistSplit {
            images: self.images[..n * PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// MNIST's training (60,000) and test (10,000) splits.
#[derive(Clone)]
pub struct Mnist {
    pub train: MnistSplit,
    pub test: MnistSplit,
}

fn data_err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("MNIST file {}: {msg}", path.display()))
}

/// `dir/{stem}.gz` if it exists, else `dir/{stem}`, else an error naming both.
pub fn find_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(stem);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(Error::Invalid(format!(
        "MNIST file {stem}(.gz) not found in {}; run `shortcut data fetch --dir {}` or pass --data-dir",
        dir.display(),
        dir.display()
    )))
}

/// Read a file, decompressing it if it is gzipped (by its magic bytes, not its name).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| data_err(path, format!("cannot read: {e}")))?;
    decode_maybe_gz(path, &raw)
}

/// The content of a file's bytes `raw`: gunzipped when they are gzip (exactly one member,
/// nothing after it), as they are otherwise; a file named `.gz` that is not gzip is an error.
/// `path` names the file in messages.
pub fn decode_maybe_gz(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
    let named_gz = path.extension().is_some_and(|e| e == "gz");
    if raw.starts_with(&[0x1f, 0x8b]) {
        // bufread's decoder stops exactly at the end of the gzip member, so what follows it is
        // left in `rest`: an MNIST file is one member, anything after it is damage.
        let mut out = Vec::new();
        let mut dec = flate2::bufread::GzDecoder::new(raw);
        dec.read_to_end(&mut out)
            .map_err(|e| data_err(path, format!("corrupt or truncated gzip data: {e}")))?;
        let rest = dec.into_inner();
        if !rest.is_empty() {
            return Err(data_err(
                path,
                format!(
                    "{} bytes of unexpected data after the end of the gzip stream (a damaged or concatenated file)",
                    rest.len()
                ),
            ));
        }
        Ok(out)
    } else if named_gz {
        Err(data_err(
            path,
            format!(
                "is not gzip data (it starts with {}){}",
                preview(raw),
                what_it_looks_like(raw)
            ),
        ))
    } else {
        Ok(raw.to_vec())
    }
}

/// The first bytes of a file, printable, for error messages.
fn preview(bytes: &[u8]) -> String {
    let head: String = bytes
        .iter()
        .take(16)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("\"{head}\"")
}

/// A guess at what a file that is not MNIST is, from its first bytes.
fn what_it_looks_like(bytes: &[u8]) -> &'static str {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).to_lowercase();
    if head.trim_start().starts_with('<') {
        ": it looks like a web page, saved instead of the file it links to — download it again"
    } else if bytes.is_empty() {
        ": the file is empty"
    } else {
        ""
    }
}

/// Why `dir` does not hold MNIST, file by file: the folder itself missing or unreadable, or
/// which of the four files are absent.
pub fn describe_absence(dir: &Path) -> String {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return format!("{} does not exist", dir.display())
        }
        Err(e) => return format!("{} cannot be read: {e}", dir.display()),
        Ok(m) if !m.is_dir() => return format!("{} is a file, not a folder", dir.display()),
        Ok(_) => {}
    }
    if let Err(e) = std::fs::read_dir(dir) {
        return format!("{} cannot be listed: {e}", dir.display());
    }
    let missing: Vec<String> = FILES
        .iter()
        .filter(|s| find_file(dir, s).is_err())
        .map(|s| format!("{s}.gz"))
        .collect();
    format!("{} lacks {}", dir.display(), missing.join(", "))
}

/// Parse an IDX buffer of unsigned bytes with the expected number of dimensions.
/// Returns (dimensions, data).
pub fn parse_idx(path: &Path, bytes: &[u8], ndims: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(data_err(
            path,
            format!("too short for an IDX header ({} bytes)", bytes.len()),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let want = 0x0000_0800 | ndims as u32;
    if magic != want {
        return Err(data_err(
            path,
            format!(
                "not an IDX file of {ndims} dimension(s): it starts with {} (magic 0x{magic:08x}, expected 0x{want:08x}){}",
                preview(bytes),
                what_it_looks_like(bytes)
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|d| {
            let o = 4 + 4 * d;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    // A corrupt header can announce up to (2³² − 1)³ bytes: multiply without overflowing.
    let Some(expected) = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
        return Err(data_err(
            path,
            format!("header announces dimensions {dims:?}, far more data than any file holds"),
        ));
    };
    let got = bytes.len() - header;
    if got != expected {
        return Err(data_err(
            path,
            format!("header announces {dims:?} = {expected} bytes of data but the file has {got} (truncated or corrupt)"),
        ));
    }
    Ok((dims, bytes[header..].to_vec()))
}

fn load_split(dir: &Path, images: &str, labels: &str) -> Result<MnistSplit> {
    let ip = find_file(dir, images)?;
    let (idims, img) = parse_idx(&ip, &read_maybe_gz(&ip)?, 3)?;
    if idims[1] != 28 || idims[2] != 28 {
        return Err(data_err(
            &ip,
            format!("images are {}×{}, expected 28×28", idims[1], idims[2]),
        ));
    }
    let lp = find_file(dir, labels)?;
    let (ldims, lab) = parse_idx(&lp, &read_maybe_gz(&lp)?, 1)?;
    if ldims[0] != idims[0] {
        return Err(data_err(
            &lp,
            format!(
                "{} labels for {} images in {}",
                ldims[0],
                idims[0],
                ip.display()
            ),
        ));
    }
    if let Some(bad) = lab.iter().find(|&&l| l > 9) {
        return Err(data_err(&lp, format!("label {bad} is not a digit")));
    }
    Ok(MnistSplit {
        images: img,
        labels: lab,
    })
}

/// Load both splits from `dir`.
pub fn load(dir: &Path) -> Result<Mnist> {
    Ok(Mnist {
        train: load_split(dir, FILES[0], FILES[1])?,
        test: load_split(dir, FILES[2], FILES[3])?,
    })
}

/// True if all four files are present in `dir` (gzipped or raw).
pub fn is_present(dir: &Path) -> bool {
    FILES.iter().all(|s| find_file(dir, s).is_ok())
}
