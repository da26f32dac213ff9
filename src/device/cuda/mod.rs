//! The CUDA backend: our hand-written kernels (`kernels/<op>.cu`), compiled at run time by
//! NVRTC for the GPU in the machine, launched through `cudarc`'s driver API.
//!
//! # How a launch works
//!
//! * **Nothing is needed to build.** The driver library (`libcuda.so.1`) and NVRTC are loaded at
//!   run time. Before cudarc touches the driver we check that the library loads
//!   ([`driver_library`]), because cudarc's loader panics when it is missing; no library, no
//!   GPU, no NVRTC — each is an [`Error::DeviceUnavailable`] saying what is missing, and
//!   `--device auto` falls back to the next device.
//! * **One context, one stream** ([`gpu`]): the device's primary context (ordinal 0, or
//!   `SHORTCUT_CUDA_DEVICE`) and its default stream. Every copy and kernel goes on that stream in
//!   program order, so no launch waits for the host and the host waits only when it reads data
//!   back ([`Cuda::download`]) or calls [`Cuda::synchronize`].
//! * **Kernels compile on first use** ([`nvrtc`]): the first launch of an entry point compiles
//!   its module (`common.cuh` + `<op>.cu`) for this GPU's `sm_XY` — or loads the CUBIN from the
//!   disk cache — loads it, and caches the function handle; later launches are a hash lookup.
//! * **Kernel arguments**: the op's `#[repr(C)]` parameter struct, passed *by value* as the
//!   first kernel parameter, then one device pointer per buffer. The struct's C mirror sits at
//!   the top of the op's `.cu` file; `tests/cuda_kernels_compile.rs` checks both sizes agree.
//! * **A caching allocator** ([`CudaBuffer`]): a dropped buffer goes back to a free list keyed by
//!   its rounded size and the next allocation of that size reuses it, so a training step
//!   allocates nothing from the driver after the first. Reuse is safe because all work is
//!   ordered on one stream: a kernel writing a recycled buffer runs after every kernel that read
//!   its old contents.
//!
//! Buffers are untyped 4-byte words: `f32` data, or `u32` indices (max-pool's argmax) and packed
//! bytes (the MNIST pixels), which kernels read through `unsigned*`.

pub mod kernels;
pub mod nvrtc;

use crate::error::{Error, Result};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DeviceRepr, DriverError,
    LaunchConfig, PushKernelArg,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Threads per block of every 1-D kernel (`BLOCK` in `kernels/common.cuh`).
pub const BLOCK: u32 = 256;

/// Words of device memory kept in the free lists before dropped buffers go back to the driver.
const POOL_CAP_BYTES: usize = 8 << 30;

/// Is the CUDA driver library loadable? Checked before cudarc is touched (its loader panics).
pub fn driver_library() -> bool {
    // SAFETY: only tries `dlopen` on the driver library's names.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// A kernel parameter struct passed by value. `A` is a `#[repr(C)]` plain-old-data struct of
/// `u32`/`f32` fields, so its bytes are exactly what the C struct of the kernel expects.
#[repr(transparent)]
struct Params<A>(A);

// SAFETY: `A: Pod` has no padding, pointers or drop glue; it is copied byte for byte into the
// kernel's parameter space.
unsafe impl<A: bytemuck::Pod> DeviceRepr for Params<A> {}

/// The process-wide CUDA context.
pub struct Cuda {
    /// The GPU's name, as the driver reports it.
    pub name: String,
    /// The architecture kernels are compiled for, e.g. `"sm_90"`.
    pub arch: String,
    /// Device memory in bytes.
    pub memory: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<&'static str, CudaFunction>>,
    pool: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    free: HashMap<usize, Vec<CudaSlice<f32>>>,
    bytes: usize,
}

static CUDA: OnceLock<std::result::Result<Cuda, String>> = OnceLock::new();

/// The CUDA context, created on first use.
pub fn gpu() -> Result<&'static Cuda> {
    CUDA.get_or_init(Cuda::new)
        .as_ref()
        .map_err(|reason| Error::DeviceUnavailable {
            device: "cuda".into(),
            reason: reason.clone(),
        })
}

/// Is a CUDA GPU usable in this process (driver, device and NVRTC)? Creates the context if
/// needed.
pub fn available() -> bool {
    gpu().is_ok()
}

/// Map a driver error; out-of-memory becomes [`Error::OutOfMemory`].
fn driver_err(what: &str, e: DriverError) -> Error {
    let oom = e.0 == cudarc::driver::sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY;
    if oom {
        Error::OutOfMemory {
            device: "cuda".into(),
            msg: format!("{what}: {e}"),
        }
    } else {
        Error::Device(format!("cuda: {what}: {e}"))
    }
}

/// Run `f`, turning a panic inside cudarc (a driver symbol it cannot find) into an error
/// message, without printing a backtrace.
fn no_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    r.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the CUDA driver library is unusable".into())
    })
}

/// Round an allocation up to a multiple of 64 words (256 bytes), so that tensors of nearby
/// sizes share a free list.
fn bucket(words: usize) -> usize {
    words.max(1).div_ceil(64) * 64
}

impl Cuda {
    fn new() -> std::result::Result<Cuda, String> {
        if !driver_library() {
            return Err(
                "no CUDA driver found (libcuda.so.1 is not on the library path); \
                        install the NVIDIA driver, or use --device wgpu or cpu"
                    .into(),
            );
        }
        let ordinal = match std::env::var("SHORTCUT_CUDA_DEVICE") {
            Ok(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("SHORTCUT_CUDA_DEVICE='{v}' is not a device number"))?,
            Err(_) => 0,
        };
        let count = no_panic(CudaContext::device_count)?
            .map_err(|e| format!("the CUDA driver did not start: {e}"))?;
        if count <= 0 {
            return Err("the CUDA driver found no GPU".into());
        }
        if ordinal >= count as usize {
            return Err(format!(
                "SHORTCUT_CUDA_DEVICE={ordinal}, but the driver sees {count} GPU(s)"
            ));
        }
        // NVRTC is needed for every kernel: check it now, so that a missing compiler is a
        // clear error at device selection, not at the first launch.
        let nv = nvrtc::nvrtc().map_err(|e| match e {
            Error::DeviceUnavailable { reason, .. } => reason,
            other => other.to_string(),
        })?;
        let ctx = no_panic(|| CudaContext::new(ordinal))?
            .map_err(|e| format!("could not open GPU {ordinal}: {e}"))?;
        // One stream: nothing for cudarc's cross-stream event tracking to do.
        // SAFETY: every buffer lives on the single stream below.
        unsafe { ctx.disable_event_tracking() };
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| format!("could not query the GPU's architecture: {e}"))?;
        let memory = ctx.total_mem().unwrap_or(0);
        let arch = format!("sm_{major}{minor}");
        let _ = nv;
        let stream = ctx.default_stream();
        Ok(Cuda {
            name,
            arch,
            memory,
            ctx,
            stream,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
            pool: Mutex::new(Pool::default()),
        })
    }

    /// One line naming the GPU: "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB; NVRTC 12.9)".
    pub fn describe(&self) -> String {
        let nv = nvrtc::nvrtc()
            .map(|n| format!("NVRTC {}.{}", n.version.0, n.version.1))
            .unwrap_or_default();
        format!(
            "{} ({}, {:.1} GiB; {nv})",
            self.name,
            self.arch,
            self.memory as f64 / (1u64 << 30) as f64
        )
    }

    /// The compiled function `entry` of module `module`, compiling and loading the module on
    /// first use.
    fn function(&self, module: &'static str, entry: &'static str) -> Result<CudaFunction> {
        if let Some(f) = self.functions.lock().unwrap().get(entry) {
            return Ok(f.clone());
        }
        let m = {
            let mut modules = self.modules.lock().unwrap();
            match modules.get(module) {
                Some(m) => m.clone(),
                None => {
                    let source = kernels::source(module).ok_or_else(|| {
                        Error::Device(format!("no kernel module '{module}' is embedded"))
                    })?;
                    let cubin = nvrtc::nvrtc()?.cubin(module, &source, &self.arch)?;
                    let m = self
                        .ctx
                        .load_module(cudarc::nvrtc::Ptx::from_binary(cubin))
                        .map_err(|e| driver_err(&format!("loading kernels/{module}.cu"), e))?;
                    modules.insert(module, m.clone());
                    m
                }
            }
        };
        let f = m.load_function(entry).map_err(|e| {
            Error::Device(format!(
                "cuda: kernels/{module}.cu has no entry point {entry}: {e}"
            ))
        })?;
        self.functions.lock().unwrap().insert(entry, f.clone());
        Ok(f)
    }

    /// A device slice of `cap` words: from the free list, else from the driver (after emptying
    /// the free lists once if the driver is out of memory).
    fn raw_alloc(&self, cap: usize) -> Result<CudaSlice<f32>> {
        {
            let mut pool = self.pool.lock().unwrap();
            if let Some(s) = pool.free.get_mut(&cap).and_then(|v| v.pop()) {
                pool.bytes -= cap * 4;
                return Ok(s);
            }
        }
        // SAFETY: the contents are uninitialised; every caller writes before reading
        // (kernels write all of their outputs, `zeros` clears, uploads copy).
        match unsafe { self.stream.alloc::<f32>(cap) } {
            Ok(s) => Ok(s),
            Err(e) if e.0 == cudarc::driver::sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => {
                let freed = std::mem::take(&mut *self.pool.lock().unwrap());
                drop(freed);
                unsafe { self.stream.alloc::<f32>(cap) }
                    .map_err(|e| driver_err(&format!("allocating {} MiB", (cap * 4) >> 20), e))
            }
            Err(e) => Err(driver_err("allocating device memory", e)),
        }
    }

    /// Return a slice to the free list (or to the driver when the list is full).
    fn give(&self, s: CudaSlice<f32>) {
        let cap = s.len();
        let mut pool = self.pool.lock().unwrap();
        if pool.bytes + cap * 4 <= POOL_CAP_BYTES {
            pool.bytes += cap * 4;
            pool.free.entry(cap).or_default().push(s);
        }
    }

    /// A buffer of `words` 4-byte elements with unspecified contents (every kernel that
    /// allocates its output writes all of it).
    pub fn alloc(&self, words: usize) -> Result<CudaBuffer> {
        Ok(CudaBuffer {
            slice: Some(self.raw_alloc(bucket(words))?),
            len: words,
        })
    }

    /// A buffer of `words` zeros (cleared on the stream, in order with the kernels).
    pub fn zeros(&self, words: usize) -> Result<CudaBuffer> {
        let mut out = self.alloc(words)?;
        self.stream
            .memset_zeros(out.raw_mut())
            .map_err(|e| driver_err("clearing a buffer", e))?;
        Ok(out)
    }

    /// Copy host data into a new buffer (padded with zero bytes to whole words).
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<CudaBuffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let words = bytes.len().div_ceil(4);
        let mut host = vec![0f32; words];
        bytemuck::cast_slice_mut::<f32, u8>(&mut host)[..bytes.len()].copy_from_slice(bytes);
        let mut out = self.alloc(words)?;
        if words > 0 {
            let mut dst = out.raw_mut().slice_mut(..words);
            self.stream
                .memcpy_htod(&host, &mut dst)
                .map_err(|e| driver_err("copying to the GPU", e))?;
        }
        Ok(out)
    }

    /// A copy of `src` in a new buffer (on the stream).
    pub fn copy(&self, src: &CudaBuffer) -> Result<CudaBuffer> {
        let mut out = self.alloc(src.len)?;
        if src.len > 0 {
            let from = src.raw().slice(..src.len);
            let mut to = out.raw_mut().slice_mut(..src.len);
            self.stream
                .memcpy_dtod(&from, &mut to)
                .map_err(|e| driver_err("copying on the GPU", e))?;
        }
        Ok(out)
    }

    /// Read a buffer back to the host: waits for every queued kernel.
    pub fn download<T: bytemuck::Pod>(&self, src: &CudaBuffer) -> Result<Vec<T>> {
        let mut host = vec![0f32; src.len];
        if src.len > 0 {
            let from = src.raw().slice(..src.len);
            self.stream
                .memcpy_dtoh(&from, &mut host)
                .map_err(|e| driver_err("copying from the GPU", e))?;
        }
        self.synchronize()?;
        Ok(bytemuck::allocation::pod_collect_to_vec::<f32, T>(&host))
    }

    /// Launch `entry` of module `module` on a `grid` of `block`-sized blocks with `args` as its
    /// first parameter and the buffers after it, in order. Returns as soon as the launch is
    /// queued.
    pub fn launch<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&CudaBuffer],
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
    ) -> Result<()> {
        if grid.0 == 0 || grid.1 == 0 || grid.2 == 0 {
            return Ok(());
        }
        if grid.1 > 65_535 || grid.2 > 65_535 {
            return Err(Error::Invalid(format!(
                "cuda: {entry} needs a grid of {grid:?} blocks; y and z are limited to 65,535"
            )));
        }
        let f = self.function(module, entry)?;
        let params = Params(*args);
        let mut b = self.stream.launch_builder(&f);
        b.arg(&params);
        for buf in bufs {
            b.arg(buf.raw());
        }
        let cfg = LaunchConfig {
            grid_dim: grid,
            block_dim: block,
            shared_mem_bytes: 0,
        };
        // SAFETY: the kernel's parameters are (struct by value, pointers): `Params<A>` is the
        // struct's bytes and every buffer is a live device allocation at least as long as the
        // launcher's sizes say (the launchers size them from the same args).
        unsafe { b.launch(cfg) }.map_err(|e| driver_err(&format!("launching {entry}"), e))?;
        Ok(())
    }

    /// Launch a 1-D kernel over `threads` threads (blocks of [`BLOCK`]).
    pub fn launch_1d<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&CudaBuffer],
        threads: usize,
    ) -> Result<()> {
        // The kernels compute their thread index in 32 bits (`flat_index()`), so more than
        // 2³² threads would wrap around and silently redo the first elements.
        if threads > u32::MAX as usize {
            return Err(Error::Invalid(format!(
                "cuda: {entry} over {threads} elements exceeds the kernels' 32-bit indexing"
            )));
        }
        let blocks = threads.div_ceil(BLOCK as usize);
        self.launch(
            module,
            entry,
            args,
            bufs,
            (blocks as u32, 1, 1),
            (BLOCK, 1, 1),
        )
    }

    /// Wait for every queued copy and kernel; report any error the driver recorded meanwhile
    /// (a failed kernel surfaces here).
    pub fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| driver_err("waiting for the GPU", e))?;
        self.ctx
            .check_err()
            .map_err(|e| driver_err("an earlier GPU operation failed", e))
    }
}

/// A buffer of 4-byte words on the CUDA device. Dropping it returns the memory to the caching
/// allocator; cloning copies the data on the GPU.
pub struct CudaBuffer {
    slice: Option<CudaSlice<f32>>,
    len: usize,
}

impl CudaBuffer {
    /// Number of 4-byte words.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn raw(&self) -> &CudaSlice<f32> {
        self.slice
            .as_ref()
            .expect("a live CudaBuffer always holds its slice")
    }

    fn raw_mut(&mut self) -> &mut CudaSlice<f32> {
        self.slice
            .as_mut()
            .expect("a live CudaBuffer always holds its slice")
    }
}

impl std::fmt::Debug for CudaBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBuffer({} words)", self.len)
    }
}

impl Clone for CudaBuffer {
    fn clone(&self) -> Self {
        let g = gpu().expect("a CudaBuffer exists only when the CUDA context does");
        g.copy(self)
            .expect("copying a CUDA buffer (out of device memory?)")
    }
}

impl Drop for CudaBuffer {
    fn drop(&mut self) {
        if let (Some(s), Some(Ok(g))) = (self.slice.take(), CUDA.get()) {
            g.give(s);
        }
    }
}
