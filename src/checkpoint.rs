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
//!   Loading into a model checks every name and shape and names the tensor that is wrong. A
//!   tensor holding NaN or ±∞ is refused, by name: no model should run on such weights.
//! * **Reproducible**: the same tensors and metadata give the same bytes ([`serialize`] sorts
//!   the header's keys).

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::Tensor;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
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

fn ck_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// The bytes of a safetensors file holding `tensors` (F32) and the metadata `extra` (plus
/// `format = pt` and each tensor's FNV-1a hash).
///
/// Written here rather than by the `safetensors` crate, whose writer keeps the metadata in a
/// `HashMap` and so puts its keys in a different order on every run: the same tensors must give
/// the same bytes, so that two runs with one seed can be compared with `cmp`. The layout is the
/// format's own: an 8-byte little-endian header length, the JSON header (keys sorted, padded
/// with spaces to a multiple of 8 bytes), then the tensors' data in the order of their names.
pub fn serialize(tensors: &[(String, Tensor)], extra: &[(String, String)]) -> Result<Vec<u8>> {
    use serde_json::{json, Map, Value};
    let mut named: Vec<(&str, Vec<u8>, Vec<usize>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let bytes: Vec<u8> = t.to_vec()?.iter().flat_map(|v| v.to_le_bytes()).collect();
        named.push((name.as_str(), bytes, t.dims().to_vec()));
    }
    named.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = named.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::Invalid(format!(
            "two tensors are named '{}'",
            w[0].0
        )));
    }
    let mut meta = Map::new();
    for (k, v) in extra {
        meta.insert(k.clone(), Value::String(v.clone()));
    }
    meta.insert("format".into(), Value::String("pt".into()));
    let mut header = Map::new();
    let mut offset = 0usize;
    for (name, bytes, shape) in &named {
        meta.insert(
            format!("fnv1a64.{name}"),
            Value::String(format!("{:016x}", fnv1a64(bytes))),
        );
        header.insert(
            name.to_string(),
            json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes.len()]}),
        );
        offset += bytes.len();
    }
    header.insert("__metadata__".into(), Value::Object(meta));
    // serde_json's Map is ordered by key (no `preserve_order` feature): the header is canonical.
    let mut head = serde_json::to_vec(&Value::Object(header))
        .map_err(|e| Error::Invalid(format!("cannot serialize a checkpoint header: {e}")))?;
    while head.len() % 8 != 0 {
        head.push(b' ');
    }
    let mut buf = Vec::with_capacity(8 + head.len() + offset);
    buf.extend_from_slice(&(head.len() as u64).to_le_bytes());
    buf.extend_from_slice(&head);
    for (_, bytes, _) in &named {
        buf.extend_from_slice(bytes);
    }
    Ok(buf)
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
    let buf = serialize(tensors, extra)?;

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
    load_bytes(path, &bytes, device)
}

/// [`load`] from the file's bytes (`path` names it in messages).
pub fn load_bytes(path: &Path, bytes: &[u8], device: Device) -> Result<HashMap<String, Tensor>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        ck_err(
            path,
            format!("not a valid safetensors file (truncated or corrupted?): {e:?}"),
        )
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes)
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
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(ck_err(
            path,
            format!(
                "tensor '{name}' holds {} (element {i} of {}): a model with non-finite weights cannot be used",
                values[i],
                values.len()
            ),
        ));
    }
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
