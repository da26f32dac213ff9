//! Checkpoints in the safetensors format, with PyTorch's parameter names.
//!
//! * **Compatible**: tensors are stored as little-endian F32 under their `state_dict` names with
//!   the metadata `format = pt`, so `safetensors.torch.load_file` reads them in PyTorch.
//! * **Atomic**: the file is written to a temporary file in the same directory, flushed to disk,
//!   and renamed over the target. A crash leaves either the old checkpoint or the new one, never
//!   half of one.
//! * **Checked**: loading rejects truncated files, malformed headers and unsupported dtypes with
//!   an error naming the file; and since safetensors itself has no checksum, we store an FNV-1a
//!   hash of each tensor's bytes in the metadata (`fnv1a64.<name>`) and verify it on load, so
//!   flipped bits in the data are caught too. Files written elsewhere (without hashes) load fine.
//!   Loading into a model checks every name and shape and names the tensor that is wrong.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::Tensor;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// 64-bit FNV-1a hash of a byte string.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn ck_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Write named tensors to `path` atomically.
pub fn save(path: impl AsRef<Path>, tensors: &[(String, Tensor)]) -> Result<()> {
    save_with_metadata(path, tensors, &[])
}

/// [`save`] with extra metadata entries (`shortcut.*` keys: how the model was trained, hooks
/// that evaluation must re-attach). safetensors keeps them as strings in the header.
pub fn save_with_metadata(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor)],
    extra: &[(String, String)],
) -> Result<()> {
    let path = path.as_ref();
    let mut views = Vec::with_capacity(tensors.len());
    let mut meta: HashMap<String, String> = extra.iter().cloned().collect();
    meta.insert("format".to_string(), "pt".to_string());
    for (name, t) in tensors {
        let bytes: Vec<u8> = t.to_vec()?.iter().flat_map(|v| v.to_le_bytes()).collect();
        meta.insert(
            format!("fnv1a64.{name}"),
            format!("{:016x}", fnv1a64(&bytes)),
        );
        views.push((
            name.clone(),
            F32View {
                shape: t.dims().to_vec(),
                bytes,
            },
        ));
    }
    let buf = safetensors::serialize(views, &Some(meta))
        .map_err(|e| ck_err(path, format!("cannot serialize: {e}")))?;

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| ck_err(path, "the path has no file name"))?
        .to_string_lossy()
        .to_string();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&buf)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform can open a directory).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ck_err(path, format!("cannot write: {e}"))
    })
}

/// The metadata of a safetensors file (empty when it has none).
pub fn load_metadata(path: impl AsRef<Path>) -> Result<HashMap<String, String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| ck_err(path, format!("cannot read: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| ck_err(path, format!("not a valid safetensors file: {e:?}")))?;
    Ok(header.metadata().clone().unwrap_or_default())
}

/// Read every tensor of a safetensors file onto `device`.
pub fn load(path: impl AsRef<Path>, device: Device) -> Result<HashMap<String, Tensor>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| ck_err(path, format!("cannot read: {e}")))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        ck_err(
            path,
            format!("not a valid safetensors file (truncated or corrupted?): {e:?}"),
        )
    })?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| ck_err(path, format!("invalid header: {e:?}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let t = decode(path, &name, &view, &meta, device)?;
        out.insert(name, t);
    }
    Ok(out)
}

fn decode(
    path: &Path,
    name: &str,
    view: &TensorView,
    meta: &HashMap<String, String>,
    device: Device,
) -> Result<Tensor> {
    let dtype = match view.dtype() {
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        other => {
            return Err(ck_err(
                path,
                format!(
                    "tensor '{name}' has dtype {other:?}; only F32, F16 and BF16 are supported"
                ),
            ))
        }
    };
    let data = view.data();
    if let Some(expected) = meta.get(&format!("fnv1a64.{name}")) {
        let got = format!("{:016x}", fnv1a64(data));
        if &got != expected {
            return Err(ck_err(
                path,
                format!("tensor '{name}' is corrupted (checksum {got}, expected {expected})"),
            ));
        }
    }
    let values = dtype.decode_le(data);
    Tensor::from_vec(values, view.shape().to_vec(), device)
        .map_err(|e| ck_err(path, format!("tensor '{name}': {e}")))
}

/// Save a module's parameters under their `state_dict` names.
pub fn save_module(path: impl AsRef<Path>, module: &dyn Module) -> Result<()> {
    save(path, &module.state_dict())
}

/// Load a checkpoint into a module, checking every name and shape first (nothing is changed
/// if anything is wrong).
pub fn load_module(path: impl AsRef<Path>, module: &dyn Module) -> Result<()> {
    let path = path.as_ref();
    let device = module
        .parameters()
        .first()
        .map(|p| p.device())
        .unwrap_or(Device::Cpu);
    let tensors = load(path, device)?;
    module
        .load_state_dict(&tensors)
        .map_err(|e| ck_err(path, e.to_string()))
}
