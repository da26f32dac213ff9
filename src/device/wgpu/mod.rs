//! The WebGPU backend: our WGSL compute shaders (`shaders/<op>.wgsl`) run through `wgpu` on
//! whatever GPU Vulkan, Metal or DX12 reaches — or on Mesa's lavapipe, a Vulkan driver that runs
//! on the CPU (that is how CI tests every shader without a GPU).
//!
//! # How a launch works
//!
//! * **One context per process** ([`gpu`]): adapter, device and queue are created on first use
//!   and kept. Failure to find an adapter is an [`Error::DeviceUnavailable`], never a panic.
//! * **Pipelines are cached**: each entry point (`relu_fwd_f32`, …) is compiled once into a
//!   compute pipeline whose bind-group layout is derived from the shader. The shader's bindings
//!   follow one convention: `@binding(0)` is the op's parameter struct (a uniform, mirrored by a
//!   `#[repr(C)]` struct in Rust), `@binding(1..)` are the storage buffers in the order the
//!   launcher passes them.
//! * **Launches are batched**: every dispatch is recorded into one open command encoder and the
//!   parameter structs are packed into one uniform *arena* buffer (one 256-byte slot each). The
//!   batch is submitted when the arena is full, when the host reads data back, or on
//!   [`Device::synchronize`](crate::device::Device::synchronize). Nothing waits for the GPU
//!   except a read-back: that is the "no host synchronization inside a step" rule.
//! * **Buffers come from a pool** ([`GpuBuffer`]): a dropped buffer returns to a free list keyed
//!   by its byte size and the next allocation of that size reuses it. Reuse is safe because all
//!   work runs on one queue in submission order: a kernel that writes a recycled buffer runs after
//!   every kernel that read its old contents. Uploads write into *fresh* buffers (never recycled
//!   ones), because `queue.write_buffer` would otherwise overtake still-pending reads.
//! * **Errors are collected, not panicked**: wgpu reports validation and out-of-memory errors
//!   asynchronously; we install a handler that records the first one and every synchronizing
//!   call returns it as an [`Error`].
//!
//! Grids: a kernel runs `n` threads in workgroups of 256; the workgroup count is spread over two
//! dimensions when it exceeds 65,535 (WebGPU's per-dimension limit), see [`grid_1d`]. The
//! shaders rebuild the flat index as `(wid.y · nwg.x + wid.x) · 256 + lid.x`.

pub mod adapters;
pub mod shaders;

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex, OnceLock};

pub use adapters::{describe, AdapterChoice};

/// Threads per workgroup of every 1-D kernel (`WG` in `shaders/common.wgsl`).
pub const WG: u32 = 256;

/// WebGPU's limit on workgroups along one dispatch dimension.
pub const MAX_GROUPS: u32 = 65_535;

/// Bytes reserved per parameter struct in the uniform arena (WebGPU's minimum uniform offset
/// alignment is 256 on every adapter we know; the real value is read from the adapter).
const ARENA_SLOTS: usize = 1024;

/// Marks an out-of-memory report in the error slot.
const OOM: &str = "out of memory: ";

/// Pooled bytes kept for reuse before freed buffers go back to the driver.
const POOL_CAP_BYTES: u64 = 2 << 30;

/// The workgroup grid for `threads` threads of a 1-D kernel: `(x, y, 1)` with `x ≤ 65,535`.
pub fn grid_1d(threads: usize) -> (u32, u32, u32) {
    grid_groups(threads.div_ceil(WG as usize))
}

/// A grid of `groups` workgroups folded into two dimensions when needed.
pub fn grid_groups(groups: usize) -> (u32, u32, u32) {
    let groups = groups.max(1);
    let x = groups.min(MAX_GROUPS as usize);
    let y = groups.div_ceil(x);
    (x as u32, y as u32, 1)
}

/// A compiled entry point and the layout of its bind group.
struct Kernel {
    pipeline: ::wgpu::ComputePipeline,
    layout: ::wgpu::BindGroupLayout,
}

/// The open batch: recorded commands not yet submitted, and their parameter structs.
struct Batch {
    encoder: Option<::wgpu::CommandEncoder>,
    /// Host copy of the arena: slot k holds the parameter struct of the k-th dispatch.
    args: Vec<u8>,
    slots: usize,
}

/// The process-wide WebGPU context.
pub struct Gpu {
    pub info: ::wgpu::AdapterInfo,
    device: ::wgpu::Device,
    queue: ::wgpu::Queue,
    max_binding: u64,
    align: usize,
    arena: ::wgpu::Buffer,
    modules: Mutex<HashMap<&'static str, ::wgpu::ShaderModule>>,
    kernels: Mutex<HashMap<&'static str, Arc<Kernel>>>,
    pool: Mutex<Pool>,
    batch: Mutex<Batch>,
    error: Arc<Mutex<Option<String>>>,
}

#[derive(Default)]
struct Pool {
    free: HashMap<u64, Vec<::wgpu::Buffer>>,
    bytes: u64,
}

static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();

/// The WebGPU context, created on first use with the best adapter (see [`adapters`]).
pub fn gpu() -> Result<&'static Gpu> {
    GPU.get_or_init(Gpu::new)
        .as_ref()
        .map_err(|reason| Error::DeviceUnavailable {
            device: "wgpu".into(),
            reason: reason.clone(),
        })
}

/// Is a WebGPU adapter usable in this process? (Creates the context if needed.)
pub fn available() -> bool {
    gpu().is_ok()
}

fn usage() -> ::wgpu::BufferUsages {
    ::wgpu::BufferUsages::STORAGE | ::wgpu::BufferUsages::COPY_SRC | ::wgpu::BufferUsages::COPY_DST
}

/// Bytes allocated for `words` 4-byte elements: at least 16, rounded up to 256 so that
/// buffers of nearby sizes share a pool bucket less often than exact sizes would, yet waste
/// little.
fn alloc_bytes(words: usize) -> u64 {
    ((words.max(4) * 4) as u64).div_ceil(256) * 256
}

impl Gpu {
    fn new() -> std::result::Result<Gpu, String> {
        let choice = adapters::best()?;
        let adapter = choice.adapter;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) =
            pollster::block_on(adapter.request_device(&::wgpu::DeviceDescriptor {
                label: Some("shortcut"),
                required_limits: limits.clone(),
                ..Default::default()
            }))
            .map_err(|e| format!("the adapter '{}' refused a device: {e}", info.name))?;
        let error = Arc::new(Mutex::new(None::<String>));
        let sink = error.clone();
        device.on_uncaptured_error(Arc::new(move |e: ::wgpu::Error| {
            let mut slot = sink.lock().unwrap();
            if slot.is_none() {
                *slot = Some(match e {
                    ::wgpu::Error::OutOfMemory { .. } => format!("{OOM}{e}"),
                    other => other.to_string(),
                });
            }
        }));
        let lost = error.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut slot = lost.lock().unwrap();
            if slot.is_none() {
                *slot = Some(format!("the GPU device was lost ({reason:?}): {msg}"));
            }
        });
        let align = (limits.min_uniform_buffer_offset_alignment as usize).max(256);
        let arena = device.create_buffer(&::wgpu::BufferDescriptor {
            label: Some("parameter arena"),
            size: (align * ARENA_SLOTS) as u64,
            usage: ::wgpu::BufferUsages::UNIFORM | ::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Gpu {
            info,
            max_binding: limits.max_storage_buffer_binding_size,
            device,
            queue,
            align,
            arena,
            modules: Mutex::new(HashMap::new()),
            kernels: Mutex::new(HashMap::new()),
            pool: Mutex::new(Pool::default()),
            batch: Mutex::new(Batch {
                encoder: None,
                args: Vec::new(),
                slots: 0,
            }),
            error,
        })
    }

    /// One line naming the adapter: "NVIDIA H100 (Vulkan, discrete GPU)".
    pub fn describe(&self) -> String {
        describe(&self.info)
    }

    /// The first asynchronous error wgpu reported, as an [`Error`].
    fn check(&self) -> Result<()> {
        match self.error.lock().unwrap().take() {
            None => Ok(()),
            Some(msg) => match msg.strip_prefix(OOM) {
                Some(rest) => Err(Error::OutOfMemory {
                    device: format!("wgpu ({})", self.info.name),
                    msg: rest.to_string(),
                }),
                None => Err(Error::Device(format!("wgpu: {msg}"))),
            },
        }
    }

    // ----- buffers -----

    fn raw_alloc(&self, bytes: u64) -> Result<::wgpu::Buffer> {
        if bytes > self.max_binding {
            return Err(Error::Device(format!(
                "wgpu: a tensor of {} MiB exceeds the adapter's largest storage buffer ({} MiB)",
                bytes >> 20,
                self.max_binding >> 20
            )));
        }
        {
            let mut pool = self.pool.lock().unwrap();
            if let Some(b) = pool.free.get_mut(&bytes).and_then(|v| v.pop()) {
                pool.bytes -= bytes;
                return Ok(b);
            }
        }
        Ok(self.device.create_buffer(&::wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: usage(),
            mapped_at_creation: false,
        }))
    }

    fn give(&self, buf: ::wgpu::Buffer) {
        let bytes = buf.size();
        let mut pool = self.pool.lock().unwrap();
        if pool.bytes + bytes <= POOL_CAP_BYTES {
            pool.bytes += bytes;
            pool.free.entry(bytes).or_default().push(buf);
        }
    }

    /// A buffer of `words` 4-byte elements with unspecified contents (every kernel that
    /// allocates its output writes all of it).
    pub fn alloc(&self, words: usize) -> Result<GpuBuffer> {
        Ok(GpuBuffer {
            buf: Some(self.raw_alloc(alloc_bytes(words))?),
            len: words,
        })
    }

    /// A buffer of `words` zeros (cleared on the GPU, in order with the other commands).
    pub fn zeros(&self, words: usize) -> Result<GpuBuffer> {
        let out = self.alloc(words)?;
        self.with_encoder(|enc| enc.clear_buffer(out.raw(), 0, None));
        Ok(out)
    }

    /// Upload host words into a fresh buffer.
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<GpuBuffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let words = bytes.len().div_ceil(4);
        let size = alloc_bytes(words);
        if size > self.max_binding {
            return Err(Error::Device(format!(
                "wgpu: a tensor of {} MiB exceeds the adapter's largest storage buffer ({} MiB)",
                size >> 20,
                self.max_binding >> 20
            )));
        }
        let buf = self.device.create_buffer(&::wgpu::BufferDescriptor {
            label: None,
            size,
            usage: usage(),
            mapped_at_creation: true,
        });
        buf.slice(..)
            .get_mapped_range_mut()
            .map_err(|e| Error::Device(format!("wgpu: mapping an upload buffer failed: {e:?}")))?
            .slice(..bytes.len())
            .copy_from_slice(bytes);
        buf.unmap();
        Ok(GpuBuffer {
            buf: Some(buf),
            len: words,
        })
    }

    /// Copy `words` words of `src` into a new buffer (recorded in the batch).
    pub fn copy(&self, src: &GpuBuffer) -> Result<GpuBuffer> {
        let out = self.alloc(src.len)?;
        let bytes = (src.len * 4) as u64;
        if bytes > 0 {
            self.with_encoder(|enc| enc.copy_buffer_to_buffer(src.raw(), 0, out.raw(), 0, bytes));
        }
        Ok(out)
    }

    /// Read a buffer back to the host (submits the batch and waits for the GPU).
    pub fn download<T: bytemuck::Pod>(&self, src: &GpuBuffer) -> Result<Vec<T>> {
        let bytes = (src.len * 4) as u64;
        let n = bytes as usize / std::mem::size_of::<T>();
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&::wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: bytes.div_ceil(4) * 4,
            usage: ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.with_encoder(|enc| enc.copy_buffer_to_buffer(src.raw(), 0, &staging, 0, bytes));
        self.flush()?;
        let (tx, rx) = std::sync::mpsc::channel();
        staging
            .slice(..)
            .map_async(::wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
        self.wait()?;
        match rx.recv() {
            Ok(Ok(())) => {}
            _ => {
                self.check()?;
                return Err(Error::Device("wgpu: reading a buffer back failed".into()));
            }
        }
        let out = {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Device(format!("wgpu: read-back mapping failed: {e:?}")))?;
            let mut v = vec![T::zeroed(); n];
            bytemuck::cast_slice_mut::<T, u8>(&mut v).copy_from_slice(&view[..bytes as usize]);
            v
        };
        staging.unmap();
        self.check()?;
        Ok(out)
    }

    // ----- kernels -----

    fn kernel(&self, shader: &'static str, entry: &'static str) -> Result<Arc<Kernel>> {
        if let Some(k) = self.kernels.lock().unwrap().get(entry) {
            return Ok(k.clone());
        }
        let source = shaders::source(shader).ok_or_else(|| {
            Error::Device(format!("wgpu: no shader named '{shader}' is embedded"))
        })?;
        let scope = self
            .device
            .push_error_scope(::wgpu::ErrorFilter::Validation);
        let module = {
            let mut modules = self.modules.lock().unwrap();
            modules
                .entry(shader)
                .or_insert_with(|| {
                    self.device
                        .create_shader_module(::wgpu::ShaderModuleDescriptor {
                            label: Some(shader),
                            source: ::wgpu::ShaderSource::Wgsl(source.into()),
                        })
                })
                .clone()
        };
        let pipeline = self
            .device
            .create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Device(format!(
                "wgpu: shaders/{shader}.wgsl entry point {entry} does not compile: {e}"
            )));
        }
        let layout = pipeline.get_bind_group_layout(0);
        let k = Arc::new(Kernel { pipeline, layout });
        self.kernels.lock().unwrap().insert(entry, k.clone());
        Ok(k)
    }

    /// Record one dispatch of `shader`'s entry point `entry` with parameter struct `args`
    /// (binding 0) and storage buffers `bufs` (bindings 1, 2, …) over `groups` workgroups.
    pub fn launch<A: bytemuck::Pod>(
        &self,
        shader: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&GpuBuffer],
        groups: (u32, u32, u32),
    ) -> Result<()> {
        let kernel = self.kernel(shader, entry)?;
        let arg_bytes = bytemuck::bytes_of(args);
        debug_assert!(arg_bytes.len() <= self.align);
        let mut batch = self.batch.lock().unwrap();
        if batch.slots == ARENA_SLOTS {
            self.submit(&mut batch);
        }
        let slot = batch.slots;
        batch.slots += 1;
        let off = slot * self.align;
        batch.args.resize(off + self.align, 0);
        batch.args[off..off + arg_bytes.len()].copy_from_slice(arg_bytes);
        let mut entries = vec![::wgpu::BindGroupEntry {
            binding: 0,
            resource: ::wgpu::BindingResource::Buffer(::wgpu::BufferBinding {
                buffer: &self.arena,
                offset: off as u64,
                size: NonZeroU64::new(arg_bytes.len().max(16) as u64),
            }),
        }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(::wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: ::wgpu::BindingResource::Buffer(::wgpu::BufferBinding {
                    buffer: b.raw(),
                    offset: 0,
                    size: NonZeroU64::new((b.len.max(1) * 4) as u64),
                }),
            });
        }
        let group = self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
            label: None,
            layout: &kernel.layout,
            entries: &entries,
        });
        let enc = batch.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&::wgpu::CommandEncoderDescriptor { label: None })
        });
        {
            let mut pass = enc.begin_compute_pass(&::wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        }
        Ok(())
    }

    /// [`Gpu::launch`] of a 1-D kernel over `threads` threads (nothing to do for 0).
    pub fn launch_1d<A: bytemuck::Pod>(
        &self,
        shader: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&GpuBuffer],
        threads: usize,
    ) -> Result<()> {
        if threads == 0 {
            return Ok(());
        }
        if threads > u32::MAX as usize {
            return Err(Error::Invalid(format!(
                "{entry}: {threads} elements exceed the 2^32 a wgpu kernel can index"
            )));
        }
        self.launch(shader, entry, args, bufs, grid_1d(threads))
    }

    /// Run `f` on the open command encoder (copies and clears, in order with dispatches).
    fn with_encoder(&self, f: impl FnOnce(&mut ::wgpu::CommandEncoder)) {
        let mut batch = self.batch.lock().unwrap();
        let enc = batch.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&::wgpu::CommandEncoderDescriptor { label: None })
        });
        f(enc);
    }

    /// Submit the open batch: first the arena of parameter structs, then the commands.
    fn submit(&self, batch: &mut Batch) {
        if let Some(enc) = batch.encoder.take() {
            if !batch.args.is_empty() {
                self.queue.write_buffer(&self.arena, 0, &batch.args);
            }
            self.queue.submit([enc.finish()]);
        }
        batch.args.clear();
        batch.slots = 0;
    }

    /// Submit everything recorded so far (does not wait).
    pub fn flush(&self) -> Result<()> {
        let mut batch = self.batch.lock().unwrap();
        self.submit(&mut batch);
        drop(batch);
        self.check()
    }

    fn wait(&self) -> Result<()> {
        self.device
            .poll(::wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device(format!("wgpu: waiting for the GPU failed: {e}")))?;
        Ok(())
    }

    /// Submit and wait until the GPU has finished everything; report any deferred error.
    pub fn synchronize(&self) -> Result<()> {
        self.flush()?;
        self.wait()?;
        self.check()
    }
}

/// A buffer of 4-byte words on the WebGPU device (f32 data, or u32 indices and packed bytes).
/// Dropping it returns the memory to the pool; cloning copies the data on the GPU.
#[derive(Debug)]
pub struct GpuBuffer {
    buf: Option<::wgpu::Buffer>,
    len: usize,
}

impl GpuBuffer {
    /// Number of 4-byte words.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn raw(&self) -> &::wgpu::Buffer {
        self.buf
            .as_ref()
            .expect("a live GpuBuffer always holds its buffer")
    }
}

impl Clone for GpuBuffer {
    fn clone(&self) -> Self {
        // A GpuBuffer exists only if the context does; allocation errors surface at the next
        // synchronizing call through the error handler.
        let g = gpu().expect("a GpuBuffer exists only when the wgpu context does");
        g.copy(self)
            .expect("copying a GPU buffer within the size it already has")
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let (Some(buf), Some(Ok(g))) = (self.buf.take(), GPU.get()) {
            g.give(buf);
        }
    }
}

pub use crate::device::args::{ElemArgs, ShapeArgs, MAX_RANK};
