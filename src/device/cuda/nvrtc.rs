//! NVRTC, the CUDA run-time compiler: turns the embedded `kernels/*.cu` sources into machine code
//! (a CUBIN) for one GPU architecture, with a disk cache in front.
//!
//! # Why our own loader instead of `cudarc::nvrtc`
//!
//! cudarc's NVRTC binding looks the library up under the names of one CUDA major version and
//! *panics* when none is found. We need to find NVRTC wherever a user has it — the toolkit's
//! `libnvrtc.so.12`, PyPI's `nvidia-cuda-nvrtc` wheel (`libnvrtc.so.13`), or a path in
//! `SHORTCUT_NVRTC` — and to report a missing library as an error. The API we need is eight C
//! functions, so we bind them here with `libloading`. (The driver API stays with cudarc, behind
//! a library check, see [`super::driver_library`].)
//!
//! # Why CUBIN and not PTX
//!
//! PTX must be JIT-compiled by the driver, and a driver refuses PTX from a newer toolkit than
//! itself. A CUBIN compiled for the GPU's own `sm_XY` loads as it is. So we compile with
//! `--gpu-architecture=sm_XY` and fetch the CUBIN.
//!
//! # The disk cache
//!
//! Compiling a module takes NVRTC 0.1–1 s; the result depends only on the source text, the
//! architecture, the options and the NVRTC version. The cache file is named by the MD5 of all
//! four (`<module>-sm_90-<hash>.cubin`), so an edited kernel or a new NVRTC never reuses a stale
//! binary. Files are written to a temporary name and renamed, so a crash never leaves half a
//! CUBIN under a valid name. The folder is `SHORTCUT_CUDA_CACHE`, else
//! `$XDG_CACHE_HOME/shortcut/cuda`, else `~/.cache/shortcut/cuda`; a cache that cannot be written
//! costs compile time, nothing else.

use crate::error::{Error, Result};
use md5::{Digest, Md5};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;
use std::sync::OnceLock;

type Program = *mut c_void;
type CreateFn = unsafe extern "C" fn(
    *mut Program,
    *const c_char,
    *const c_char,
    c_int,
    *const *const c_char,
    *const *const c_char,
) -> c_int;
type CompileFn = unsafe extern "C" fn(Program, c_int, *const *const c_char) -> c_int;
type SizeFn = unsafe extern "C" fn(Program, *mut usize) -> c_int;
type GetFn = unsafe extern "C" fn(Program, *mut c_char) -> c_int;
type DestroyFn = unsafe extern "C" fn(*mut Program) -> c_int;
type VersionFn = unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int;
type ErrorStringFn = unsafe extern "C" fn(c_int) -> *const c_char;

/// The NVRTC entry points we call, resolved once.
pub struct Nvrtc {
    /// Where the library was found (for messages and `shortcut devices`).
    pub path: String,
    /// (major, minor) of NVRTC.
    pub version: (i32, i32),
    create: CreateFn,
    compile: CompileFn,
    log_size: SizeFn,
    log: GetFn,
    cubin_size: SizeFn,
    cubin: GetFn,
    destroy: DestroyFn,
    error_string: ErrorStringFn,
    // Keeps the function pointers above valid.
    _lib: libloading::Library,
}

/// Library names tried through the dynamic loader's search path (`LD_LIBRARY_PATH`, the system
/// directories), newest first.
#[cfg(not(windows))]
const NAMES: &[&str] = &[
    "libnvrtc.so",
    "libnvrtc.so.13",
    "libnvrtc.so.12",
    "libnvrtc.so.11.2",
];
#[cfg(windows)]
const NAMES: &[&str] = &[
    "nvrtc64_130_0.dll",
    "nvrtc64_120_0.dll",
    "nvrtc64_112_0.dll",
];

/// Candidate paths, in the order they are tried: `SHORTCUT_NVRTC` (a file), then the bare
/// names, then the same names under `CUDA_HOME`/`CUDA_PATH` and `/usr/local/cuda`.
fn candidates() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(p) = std::env::var("SHORTCUT_NVRTC") {
        out.push(p);
    }
    out.extend(NAMES.iter().map(|n| n.to_string()));
    let mut roots: Vec<PathBuf> = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| std::env::var_os(v).map(PathBuf::from))
        .collect();
    roots.push(PathBuf::from("/usr/local/cuda"));
    for root in roots {
        for sub in ["lib64", "lib", "bin"] {
            for n in NAMES {
                out.push(root.join(sub).join(n).to_string_lossy().into_owned());
            }
        }
    }
    out
}

static NVRTC: OnceLock<std::result::Result<Nvrtc, String>> = OnceLock::new();

/// NVRTC, loaded on first use. A missing library is an [`Error::DeviceUnavailable`] that says
/// where we looked and how to install it.
pub fn nvrtc() -> Result<&'static Nvrtc> {
    NVRTC
        .get_or_init(load)
        .as_ref()
        .map_err(|reason| Error::DeviceUnavailable {
            device: "cuda".into(),
            reason: reason.clone(),
        })
}

/// Is NVRTC loadable? (Loads it if needed.)
pub fn available() -> bool {
    nvrtc().is_ok()
}

fn load() -> std::result::Result<Nvrtc, String> {
    let tried = candidates();
    for path in &tried {
        // SAFETY: loading NVRTC runs its initialisers, which have no preconditions.
        let Ok(lib) = (unsafe { libloading::Library::new(path) }) else {
            continue;
        };
        return bind(lib, path).map_err(|e| format!("{path} is not a usable NVRTC: {e}"));
    }
    Err(format!(
        "NVRTC (the CUDA run-time compiler) was not found; tried {}. Install the CUDA toolkit, \
         or `pip install nvidia-cuda-nvrtc` and add its lib folder to LD_LIBRARY_PATH, or set \
         SHORTCUT_NVRTC to the library's path",
        NAMES.join(", ")
    ))
}

fn bind(lib: libloading::Library, path: &str) -> std::result::Result<Nvrtc, String> {
    // SAFETY: the symbol types are the C signatures of nvrtc.h (CUDA 11.2 and later).
    unsafe {
        fn sym<T: Copy>(lib: &libloading::Library, name: &str) -> std::result::Result<T, String> {
            // SAFETY: forwarded from the caller; T is the symbol's C signature.
            unsafe { lib.get::<T>(name.as_bytes()) }
                .map(|s| *s)
                .map_err(|e| format!("missing {name}: {e}"))
        }
        let version: VersionFn = sym(&lib, "nvrtcVersion")?;
        let (mut major, mut minor) = (0, 0);
        version(&mut major, &mut minor);
        Ok(Nvrtc {
            path: path.to_string(),
            version: (major, minor),
            create: sym(&lib, "nvrtcCreateProgram")?,
            compile: sym(&lib, "nvrtcCompileProgram")?,
            log_size: sym(&lib, "nvrtcGetProgramLogSize")?,
            log: sym(&lib, "nvrtcGetProgramLog")?,
            cubin_size: sym(&lib, "nvrtcGetCUBINSize")?,
            cubin: sym(&lib, "nvrtcGetCUBIN")?,
            destroy: sym(&lib, "nvrtcDestroyProgram")?,
            error_string: sym(&lib, "nvrtcGetErrorString")?,
            _lib: lib,
        })
    }
}

/// The options every module is compiled with. No `--use_fast_math`: `expf`, `logf`, `sqrtf`
/// and division stay IEEE-accurate, which the CPU parity tests rely on.
fn options(arch: &str) -> Vec<String> {
    vec![
        format!("--gpu-architecture={arch}"),
        "--std=c++17".into(),
        "--device-as-default-execution-space".into(),
    ]
}

/// A failed compile: NVRTC's log names the file, line and problem.
fn compile_error(nv: &Nvrtc, name: &str, arch: &str, code: c_int, log: &str) -> Error {
    // SAFETY: nvrtcGetErrorString returns a static C string for every code.
    let what = unsafe { CStr::from_ptr((nv.error_string)(code)) }.to_string_lossy();
    Error::Device(format!(
        "NVRTC {}.{} could not compile kernels/{name}.cu for {arch} ({what}):\n{log}",
        nv.version.0, nv.version.1
    ))
}

impl Nvrtc {
    /// Compile `source` (named `name` in messages) for `arch` (`"sm_90"`): the CUBIN, and
    /// NVRTC's log (warnings; empty when clean).
    pub fn compile(&self, name: &str, source: &str, arch: &str) -> Result<(Vec<u8>, String)> {
        let src = CString::new(source)
            .map_err(|_| Error::Device(format!("kernels/{name}.cu contains a NUL byte")))?;
        let file = CString::new(format!("{name}.cu")).expect("module names have no NUL");
        let opts: Vec<CString> = options(arch)
            .into_iter()
            .map(|o| CString::new(o).expect("options have no NUL"))
            .collect();
        let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
        let mut prog: Program = std::ptr::null_mut();
        // SAFETY: every pointer is a valid NUL-terminated string that outlives the calls; the
        // program is destroyed on every path below.
        unsafe {
            let code = (self.create)(
                &mut prog,
                src.as_ptr(),
                file.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            );
            if code != 0 {
                return Err(compile_error(self, name, arch, code, ""));
            }
            let code = (self.compile)(prog, opt_ptrs.len() as c_int, opt_ptrs.as_ptr());
            let log = self.read(prog, self.log_size, self.log).unwrap_or_default();
            let log = String::from_utf8_lossy(&log)
                .trim_end_matches('\0')
                .trim()
                .to_string();
            if code != 0 {
                (self.destroy)(&mut prog);
                return Err(compile_error(self, name, arch, code, &log));
            }
            let cubin = self.read(prog, self.cubin_size, self.cubin);
            (self.destroy)(&mut prog);
            match cubin {
                Some(c) if !c.is_empty() => Ok((c, log)),
                _ => Err(Error::Device(format!(
                    "NVRTC compiled kernels/{name}.cu for {arch} but returned no CUBIN"
                ))),
            }
        }
    }

    /// One of NVRTC's "size, then bytes" outputs.
    unsafe fn read(&self, prog: Program, size: SizeFn, get: GetFn) -> Option<Vec<u8>> {
        let mut n = 0usize;
        // SAFETY: `prog` is a live program; the buffer has the size NVRTC asked for.
        unsafe {
            if size(prog, &mut n) != 0 {
                return None;
            }
            let mut buf = vec![0u8; n];
            if n > 0 && get(prog, buf.as_mut_ptr().cast()) != 0 {
                return None;
            }
            Some(buf)
        }
    }

    /// The cache key of one module: MD5 over everything the CUBIN depends on.
    pub fn cache_key(&self, source: &str, arch: &str) -> String {
        let mut h = Md5::new();
        h.update(source.as_bytes());
        h.update(arch.as_bytes());
        h.update(options(arch).join(" ").as_bytes());
        h.update(format!("{}.{}", self.version.0, self.version.1).as_bytes());
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    }

    /// The CUBIN of module `name` for `arch`: from the disk cache when present, else compiled
    /// and stored there.
    pub fn cubin(&self, name: &str, source: &str, arch: &str) -> Result<Vec<u8>> {
        let file = cache_dir().map(|d| {
            d.join(format!(
                "{name}-{arch}-{}.cubin",
                &self.cache_key(source, arch)[..16]
            ))
        });
        if let Some(bytes) = file.as_ref().and_then(|f| std::fs::read(f).ok()) {
            if !bytes.is_empty() {
                return Ok(bytes);
            }
        }
        let (cubin, _warnings) = self.compile(name, source, arch)?;
        if let Some(f) = file {
            store(&f, &cubin);
        }
        Ok(cubin)
    }
}

/// The folder of the CUBIN cache (see the module docs), or `None` when no home is known.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("SHORTCUT_CUDA_CACHE") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("shortcut").join("cuda"))
}

/// Write `bytes` to `path` atomically (temporary file + rename); failures are ignored, since
/// the cache only saves time.
fn store(path: &std::path::Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
