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
        .and_then(|_| sync_and_rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Invalid(format!("cannot write {}: {e}", path.display()))
        })
}

/// Flush a finished temporary file to disk, rename it over `path`, and flush the folder (best
/// effort: not every platform can open a folder), so even a power cut leaves the old file or
/// the new one under the real name.
pub fn sync_and_rename(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The temporary files our atomic writers use: `.<name>.tmp-<pid>` (and `.tmp-<pid>.png` for
/// figures). A process killed between writing and renaming leaves one behind; nothing reads
/// them, and [`remove_stale_temporaries`] deletes them when a run starts in the folder.
/// Returns the writer's process id.
fn temporary_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, tail) = name.rsplit_once(".tmp-")?;
    tail.trim_end_matches(".png").parse().ok()
}

/// Is process `pid` gone? (Where it cannot be told, it is assumed alive: nothing is deleted.)
fn process_is_gone(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// Delete the temporary files that killed processes left in `dir` — only those whose writer
/// is gone, so a process still writing there keeps its own (returns how many).
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| temporary_pid(&e.file_name().to_string_lossy()).is_some_and(process_is_gone))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// The lock file a writer holds in its folder.
pub const LOCK_FILE: &str = ".shortcut.lock";

/// Create `out`, remove temporary files a killed process left there, and make sure a file can
/// be written — before any long work, so a read-only or missing folder fails at once.
pub fn ensure_writable(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", out.display())))?;
    remove_stale_temporaries(out);
    let probe = out.join(format!(".write-test.tmp-{}", std::process::id()));
    std::fs::write(&probe, b"ok")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| Error::Invalid(format!("cannot write into {}: {e}", out.display())))
}

/// Hold `dir/.shortcut.lock` (an exclusive `flock`) for as long as the returned file lives,
/// or say that another process holds it: two runs must never write one folder.
pub fn lock_folder(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(LOCK_FILE);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a descriptor we own; released when the file is closed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(Error::Invalid(format!(
                "another shortcut process is writing into {}; wait for it or choose another --out",
                dir.display()
            )));
        }
    }
    Ok(f)
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

/// Does `dir` hold a manifest of ours whose every file is there with the bytes it lists? A
/// folder that passes is complete and untouched since it was written; anything else (no
/// manifest, a missing or changed file, a manifest that cannot be read) is not to be trusted.
pub fn manifest_verifies(dir: &Path) -> bool {
    let Some(m) = read_manifest(&dir.join(MANIFEST)) else {
        return false;
    };
    m.files
        .iter()
        .all(|(f, want)| std::fs::read(dir.join(f)).is_ok_and(|bytes| &md5_hex(&bytes) == want))
}

/// The MD5 a folder's manifest lists for `name`: what later work built on that file records,
/// so that it is redone when the file changes.
pub fn manifest_entry(dir: &Path, name: &str) -> Option<String> {
    read_manifest(&dir.join(MANIFEST))?.files.get(name).cloned()
}

/// Every file under `dir` (relative names, `/`-separated, sorted), except the manifest, the
/// folder lock and temporary files: what a manifest of the whole folder lists.
pub fn files_under(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            if name == MANIFEST || name == LOCK_FILE || name.contains(".tmp-") {
                continue;
            }
            if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().to_string())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)
        .map_err(|e| Error::Invalid(format!("cannot list {}: {e}", dir.display())))?;
    out.sort();
    Ok(out)
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

/// Is `dir/manifest.json` one of ours (another tool may keep a file of that name)?
pub fn has_our_manifest(dir: &Path) -> bool {
    read_manifest(&dir.join(MANIFEST)).is_some()
}

fn read_manifest(path: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<Manifest>(&text)
        .ok()
        .filter(|m| m.format == MANIFEST_FORMAT)
}

/// Check `path` against its folder's manifest; an error says what does not match.
pub fn check_against_manifest(path: &Path, resume_file: &str) -> Result<FolderState> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let manifest = dir.join(MANIFEST);
    if !has_our_manifest(dir) {
        return Ok(if dir.join(resume_file).exists() {
            FolderState::Unfinished
        } else {
            FolderState::Loose
        });
    }
    let m = read_manifest(&manifest)
        .ok_or_else(|| Error::Invalid(format!("cannot read {}", manifest.display())))?;
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

/// JSON has no NaN: `serde_json` writes a NaN float as `null`. For the fields where NaN is a
/// meaningful value (a dead SAE feature's selectivity, a ratio whose denominator is zero), these
/// read `null` back as NaN, so that a stored result reads back as it was written
/// (`#[serde(deserialize_with = "crate::files::nan::f64")]`).
pub mod nan {
    use serde::{Deserialize, Deserializer};

    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub fn f32<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
    }

    pub fn vec_f32<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<Option<f32>>::deserialize(d)?
            .into_iter()
            .map(|v| v.unwrap_or(f32::NAN))
            .collect())
    }
}
