//! Writing files so that a crash never leaves half of one: a temporary file in the same
//! folder, then a rename over the target.

use crate::error::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// Write JSON atomically (temporary file, then rename).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Invalid(format!("cannot encode {}: {e}", path.display())))?;
    write_atomic(path, text.as_bytes())
}

/// Write a file atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Invalid(format!("cannot write {}: {e}", path.display()))
        })
}

/// The temporary files our atomic writers use: `.<name>.tmp-<pid>` (and `.tmp-<pid>.png` for
/// figures). A process killed between writing and renaming leaves one behind; nothing reads
/// them, and [`remove_stale_temporaries`] deletes them when a run starts in the folder.
fn is_our_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Delete the temporary files a killed run left in `dir` (returns how many).
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| is_our_temporary(&e.file_name().to_string_lossy()))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// A finished run folder's manifest, written last: which files belong to the run, with the MD5
/// of each. A folder without one is unfinished (or not ours), and a file that no longer matches
/// it was changed after the run.
pub const MANIFEST: &str = "manifest.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    format: String,
    files: std::collections::BTreeMap<String, String>,
}

const MANIFEST_FORMAT: &str = "shortcut-run-folder/1";

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Write `dir/manifest.json` listing `files` (names inside `dir`) with their hashes.
pub fn write_manifest(dir: &Path, files: &[String]) -> Result<()> {
    let mut m = Manifest {
        format: MANIFEST_FORMAT.to_string(),
        files: Default::default(),
    };
    for f in files {
        let bytes = std::fs::read(dir.join(f))
            .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", dir.join(f).display())))?;
        m.files.insert(f.clone(), md5_hex(&bytes));
    }
    write_json(&dir.join(MANIFEST), &m)
}

/// Where a file's run folder stands.
#[derive(Debug, PartialEq, Eq)]
pub enum FolderState {
    /// The folder's manifest lists the file and its bytes match.
    Complete,
    /// No manifest and no sign of a run of ours: a file the user put there.
    Loose,
    /// A run of ours that has not finished (it has a resume file but no manifest).
    Unfinished,
}

/// Check `path` against its folder's manifest; an error says what does not match.
pub fn check_against_manifest(path: &Path, resume_file: &str) -> Result<FolderState> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let manifest = dir.join(MANIFEST);
    if !manifest.exists() {
        return Ok(if dir.join(resume_file).exists() {
            FolderState::Unfinished
        } else {
            FolderState::Loose
        });
    }
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", manifest.display())))?;
    let m: Manifest = serde_json::from_str(&text)
        .ok()
        .filter(|m: &Manifest| m.format == MANIFEST_FORMAT)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{} is not a run manifest this version can read",
                manifest.display()
            ))
        })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let Some(want) = m.files.get(&name) else {
        return Err(Error::Invalid(format!(
            "{} is not one of the files its run folder's manifest lists",
            path.display()
        )));
    };
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
    if &md5_hex(&bytes) != want {
        return Err(Error::Invalid(format!(
            "{} changed after its run finished (it does not match {}): re-run the training, or copy the file out of the run folder to use it as it is",
            path.display(),
            manifest.display()
        )));
    }
    Ok(FolderState::Complete)
}

/// Free bytes on the file system holding `dir` (None where it cannot be told).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: statvfs writes into the zeroed struct we pass; c is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}
