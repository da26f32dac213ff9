//! Devices and the storage that lives on them.
//!
//! This is the seam the three backends plug into. Everything above `src/ops/` sees only
//! [`Device`] and [`Storage`]; each op's `mod.rs` matches on the storage variant and calls the
//! kernel in its `cpu.rs` or its GPU launcher — one in `gpu.rs` for both GPUs, written against
//! [`backend::Backend`], or `cuda.rs` / `wgpu.rs` for a variant one device has alone. The rules a
//! backend must follow, so that it slots in without touching anything else:
//!
//! * Storage is a contiguous buffer of `numel` elements in row-major order, owned by its device.
//! * A launch never synchronizes with the host: only [`Storage::to_host`] waits for the device.
//! * Every failure (no driver, out of memory, a kernel that does not compile) comes back as an
//!   [`Error`], never as a panic.

pub mod args;
pub mod backend;
pub mod cpu;
pub mod cuda;
pub mod wgpu;

use crate::error::{Error, Result};
use std::fmt;

/// Where a tensor's data lives and where its kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// The host CPU: our own multi-threaded kernels (rayon) in `src/ops/<op>/cpu.rs`.
    Cpu,
    /// An NVIDIA GPU through the CUDA driver: our kernels in `kernels/`, compiled by NVRTC at
    /// run time and launched from `src/ops/<op>/gpu.rs` (or `cuda.rs`). See [`cuda`].
    Cuda,
    /// A WebGPU adapter (Vulkan, Metal, DX12): our WGSL shaders in `shaders/`, launched from
    /// `src/ops/<op>/gpu.rs` (or `wgpu.rs`). One adapter per process, chosen by [`wgpu::adapters`].
    Wgpu,
}

impl Device {
    /// Parse a user's device choice. `auto` picks the best available device: CUDA (driver, GPU
    /// and NVRTC all present), then a *hardware* wgpu adapter, then the CPU — never a software
    /// Vulkan driver, which our CPU kernels outrun. `wgpu` takes the best adapter there is,
    /// software included; `cuda` and `wgpu` fail with a clear error when their device is
    /// missing.
    pub fn parse(name: &str) -> Result<Device> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "auto" => {
                if cuda::available() {
                    return Ok(Device::Cuda);
                }
                let hardware = wgpu::adapters::list()
                    .first()
                    .is_some_and(|c| wgpu::adapters::is_hardware(&c.info));
                if hardware && wgpu::available() {
                    Ok(Device::Wgpu)
                } else {
                    Ok(Device::Cpu)
                }
            }
            "wgpu" => {
                wgpu::gpu()?;
                Ok(Device::Wgpu)
            }
            "cuda" => {
                cuda::gpu()?;
                Ok(Device::Cuda)
            }
            other => Err(Error::Invalid(format!(
                "unknown device '{other}': expected one of cpu, cuda, wgpu, auto"
            ))),
        }
    }

    /// A one-line description of the hardware behind this device.
    pub fn describe(&self) -> String {
        match self {
            Device::Cpu => format!(
                "cpu ({} threads, our own kernels)",
                rayon::current_num_threads()
            ),
            Device::Cuda => match cuda::gpu() {
                Ok(g) => format!("cuda: {}", g.describe()),
                Err(e) => format!("cuda: {e}"),
            },
            Device::Wgpu => match wgpu::gpu() {
                Ok(g) => format!("wgpu: {}", g.describe()),
                Err(e) => format!("wgpu: {e}"),
            },
        }
    }

    /// Wait until every launch queued on this device has finished (a no-op on the CPU, whose
    /// kernels run synchronously). Benchmarks call this inside the timed region.
    pub fn synchronize(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda => cuda::gpu()?.synchronize(),
            Device::Wgpu => wgpu::gpu()?.synchronize(),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda => f.write_str("cuda"),
            Device::Wgpu => f.write_str("wgpu"),
        }
    }
}

/// A tensor's elements, on some device. Cloning copies the data (on the same device).
#[derive(Clone, Debug)]
pub enum Storage {
    /// Host memory, recycled through the CPU buffer pool when dropped.
    Cpu(cpu::CpuBuffer),
    /// A CUDA device buffer, recycled through the caching allocator when dropped.
    Cuda(cuda::CudaBuffer),
    /// A WebGPU buffer, recycled through the wgpu buffer pool when dropped.
    Wgpu(wgpu::GpuBuffer),
}

impl Storage {
    /// CPU storage over a kernel's output vector.
    pub fn from_cpu(v: Vec<f32>) -> Storage {
        Storage::Cpu(v.into())
    }

    /// Copy host data onto `device`.
    pub fn from_host(device: Device, data: Vec<f32>) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::Cpu(data.into())),
            Device::Cuda => Ok(Storage::Cuda(cuda::gpu()?.upload(&data)?)),
            Device::Wgpu => Ok(Storage::Wgpu(wgpu::gpu()?.upload(&data)?)),
        }
    }

    /// The device holding this storage.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(_) => Device::Cuda,
            Storage::Wgpu(_) => Device::Wgpu,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(v) => v.len(),
            Storage::Cuda(b) => b.len(),
            Storage::Wgpu(b) => b.len(),
        }
    }

    /// True when the storage holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copy the data back to the host, waiting for the device.
    pub fn to_host(&self) -> Result<Vec<f32>> {
        match self {
            Storage::Cpu(v) => Ok(v.to_vec()),
            Storage::Cuda(b) => cuda::gpu()?.download(b),
            Storage::Wgpu(b) => wgpu::gpu()?.download(b),
        }
    }

    /// The host slice of a CPU storage; an error for any other device. Op dispatchers call this
    /// only after checking that all operands share one device.
    pub fn cpu(&self) -> Result<&[f32]> {
        match self {
            Storage::Cpu(v) => Ok(v),
            other => Err(not_on(other, "cpu")),
        }
    }

    /// Mutable host slice of a CPU storage (for in-place optimizer updates).
    pub fn cpu_mut(&mut self) -> Result<&mut [f32]> {
        match self {
            Storage::Cpu(v) => Ok(v),
            other => Err(not_on(other, "cpu")),
        }
    }

    /// The buffer of a CUDA storage; an error for any other device.
    pub fn cuda(&self) -> Result<&cuda::CudaBuffer> {
        match self {
            Storage::Cuda(b) => Ok(b),
            other => Err(not_on(other, "cuda")),
        }
    }

    /// The buffer of a CUDA storage, for in-place kernels (optimizer steps).
    pub fn cuda_mut(&mut self) -> Result<&mut cuda::CudaBuffer> {
        match self {
            Storage::Cuda(b) => Ok(b),
            other => Err(not_on(other, "cuda")),
        }
    }

    /// The buffer of a wgpu storage; an error for any other device.
    pub fn wgpu(&self) -> Result<&wgpu::GpuBuffer> {
        match self {
            Storage::Wgpu(b) => Ok(b),
            other => Err(not_on(other, "wgpu")),
        }
    }

    /// The buffer of a wgpu storage, for in-place kernels (optimizer steps).
    pub fn wgpu_mut(&mut self) -> Result<&mut wgpu::GpuBuffer> {
        match self {
            Storage::Wgpu(b) => Ok(b),
            other => Err(not_on(other, "wgpu")),
        }
    }
}

fn not_on(s: &Storage, want: &str) -> Error {
    Error::Device(format!(
        "a kernel for {want} was handed {} storage (an op forgot a device check)",
        s.device()
    ))
}

/// A device as JSON names it (`"cpu"`, `"cuda"`, `"wgpu"`), for `#[serde(with = …)]`. Reading
/// a name back touches no device: a record written on a GPU machine reads on any machine.
pub mod serde_name {
    use super::Device;

    pub fn serialize<S: serde::Serializer>(d: &Device, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_string())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Device, D::Error> {
        let name: String = serde::Deserialize::deserialize(d)?;
        match name.as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            "wgpu" => Ok(Device::Wgpu),
            other => Err(serde::de::Error::custom(format!(
                "unknown device '{other}'"
            ))),
        }
    }
}
