//! One interface for the two GPU devices, so that an op whose CUDA kernel and WGSL shader take
//! the same arguments has **one** launcher, written once against [`Backend`].
//!
//! Both devices already work the same way: a buffer is a run of 4-byte words on the device; a
//! kernel is found by (module, entry point) — `kernels/<module>.cu` on CUDA,
//! `shaders/<module>.wgsl` on WebGPU, with the same entry names — and takes a `#[repr(C)]`
//! parameter struct first, then its buffers in order. What differs is only how a launch is
//! shaped, and the trait hides that in two calls:
//!
//! * [`Backend::launch_1d`] — one thread per element, `threads` of them. CUDA launches
//!   ⌈threads / 256⌉ blocks of 256 threads; WebGPU dispatches ⌈threads / 256⌉ workgroups of the
//!   shader's `@workgroup_size(256)`, folded into two dimensions past 65,535.
//! * [`Backend::launch_groups`] — one group of `group_threads` cooperating threads per item
//!   (a row to reduce, an image to jitter). CUDA launches `groups` blocks of `group_threads`;
//!   WebGPU dispatches `groups` workgroups, whose size the shader declares — it must be the same
//!   `group_threads` (each launcher's doc names both).
//!
//! Kernels index in 32 bits on both devices, so a launcher checks its sizes with
//! [`fits_u32`] before launching: a wrapped index would silently redo the first elements.
//!
//! Variants that exist on one device only (CUDA's register-tiled GEMM and convolution tiles)
//! keep their own launchers in `ops/<op>/cuda.rs`; so do the optimizer steps, whose CUDA
//! kernels take the parameter count in their struct (WGSL reads it as `arrayLength`).

use super::cuda::{self, CudaBuffer};
use super::wgpu::{self, GpuBuffer};
use super::{Device, Storage};
use crate::error::{Error, Result};

/// The CUDA device as a [`Backend`].
pub use super::cuda::Cuda;
/// The WebGPU device as a [`Backend`].
pub use super::wgpu::Gpu as Wgpu;

/// A GPU device, as the launchers see it: buffers, upload, launch, read back.
pub trait Backend: Sync + 'static {
    /// A device buffer of 4-byte words.
    type Buffer;

    /// Which [`Device`] this is.
    const DEVICE: Device;

    /// The process-wide device, created on first use (an error when it is missing).
    fn get() -> Result<&'static Self>;

    /// Number of words in `buf`.
    fn len(buf: &Self::Buffer) -> usize;

    /// A buffer of `words` words with unspecified contents (the kernel writes all of it).
    fn alloc(&self, words: usize) -> Result<Self::Buffer>;

    /// A buffer of `words` zeros.
    fn zeros(&self, words: usize) -> Result<Self::Buffer>;

    /// A new buffer holding `data` (padded with zero bytes to whole words).
    fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<Self::Buffer>;

    /// `buf` read back to the host (waits for every queued kernel).
    fn download<T: bytemuck::Pod>(&self, buf: &Self::Buffer) -> Result<Vec<T>>;

    /// Launch `entry` of `module` with `args`, then `bufs`, over `threads` threads, one per
    /// element (nothing happens for 0).
    fn launch_1d<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&Self::Buffer],
        threads: usize,
    ) -> Result<()>;

    /// Launch `entry` of `module` with `args`, then `bufs`, as `groups` groups of
    /// `group_threads` threads (the WGSL entry point must declare that workgroup size).
    fn launch_groups<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&Self::Buffer],
        groups: usize,
        group_threads: u32,
    ) -> Result<()>;

    /// A tensor's storage owning `buf`.
    fn storage(buf: Self::Buffer) -> Storage;

    /// The buffer of a storage on this device (an error for any other device).
    fn buffer(s: &Storage) -> Result<&Self::Buffer>;
}

impl Backend for Cuda {
    type Buffer = CudaBuffer;
    const DEVICE: Device = Device::Cuda;

    fn get() -> Result<&'static Self> {
        cuda::gpu()
    }
    fn len(buf: &CudaBuffer) -> usize {
        buf.len()
    }
    fn alloc(&self, words: usize) -> Result<CudaBuffer> {
        Cuda::alloc(self, words)
    }
    fn zeros(&self, words: usize) -> Result<CudaBuffer> {
        Cuda::zeros(self, words)
    }
    fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<CudaBuffer> {
        Cuda::upload(self, data)
    }
    fn download<T: bytemuck::Pod>(&self, buf: &CudaBuffer) -> Result<Vec<T>> {
        Cuda::download(self, buf)
    }
    fn launch_1d<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&CudaBuffer],
        threads: usize,
    ) -> Result<()> {
        Cuda::launch_1d(self, module, entry, args, bufs, threads)
    }
    fn launch_groups<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&CudaBuffer],
        groups: usize,
        group_threads: u32,
    ) -> Result<()> {
        // A grid holds up to 2³¹ − 1 blocks along x.
        if groups > i32::MAX as usize {
            return Err(Error::Invalid(format!(
                "cuda: {entry} needs {groups} blocks, more than a grid holds"
            )));
        }
        let grid = (groups as u32, 1, 1);
        Cuda::launch(self, module, entry, args, bufs, grid, (group_threads, 1, 1))
    }
    fn storage(buf: CudaBuffer) -> Storage {
        Storage::Cuda(buf)
    }
    fn buffer(s: &Storage) -> Result<&CudaBuffer> {
        s.cuda()
    }
}

impl Backend for Wgpu {
    type Buffer = GpuBuffer;
    const DEVICE: Device = Device::Wgpu;

    fn get() -> Result<&'static Self> {
        wgpu::gpu()
    }
    fn len(buf: &GpuBuffer) -> usize {
        buf.len()
    }
    fn alloc(&self, words: usize) -> Result<GpuBuffer> {
        Wgpu::alloc(self, words)
    }
    fn zeros(&self, words: usize) -> Result<GpuBuffer> {
        Wgpu::zeros(self, words)
    }
    fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<GpuBuffer> {
        Wgpu::upload(self, data)
    }
    fn download<T: bytemuck::Pod>(&self, buf: &GpuBuffer) -> Result<Vec<T>> {
        Wgpu::download(self, buf)
    }
    fn launch_1d<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&GpuBuffer],
        threads: usize,
    ) -> Result<()> {
        Wgpu::launch_1d(self, module, entry, args, bufs, threads)
    }
    fn launch_groups<A: bytemuck::Pod>(
        &self,
        module: &'static str,
        entry: &'static str,
        args: &A,
        bufs: &[&GpuBuffer],
        groups: usize,
        _group_threads: u32,
    ) -> Result<()> {
        if groups == 0 {
            return Ok(());
        }
        Wgpu::launch(self, module, entry, args, bufs, wgpu::grid_groups(groups))
    }
    fn storage(buf: GpuBuffer) -> Storage {
        Storage::Wgpu(buf)
    }
    fn buffer(s: &Storage) -> Result<&GpuBuffer> {
        s.wgpu()
    }
}

/// An error unless `words` elements can be indexed in 32 bits, as every kernel indexes them.
/// `what` says which launch, for the message.
pub fn fits_u32(what: &str, words: Option<usize>) -> Result<()> {
    match words {
        Some(w) if w <= u32::MAX as usize => Ok(()),
        _ => Err(Error::Invalid(format!(
            "{what}: more than the 2^32 elements a GPU kernel can index"
        ))),
    }
}

/// An error unless `buf` holds at least `words` elements: a kernel reading past a buffer's end
/// reads garbage on WebGPU and poisons the whole context on CUDA.
pub fn need<B: Backend>(buf: &B::Buffer, words: usize, what: &str) -> Result<()> {
    let len = B::len(buf);
    if len < words {
        return Err(Error::Invalid(format!(
            "{what}: buffer of {len} elements, needs {words}"
        )));
    }
    Ok(())
}
