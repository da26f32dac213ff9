//! Devices and the storage that lives on them.
//!
//! This is the seam the three backends plug into. Everything above `src/ops/` sees only
//! [`Device`] and [`Storage`]; each op's `mod.rs` matches on the storage variant and calls the
//! launcher in its `cpu.rs` (and, once those backends land, `cuda.rs` / `wgpu.rs`). The rules a
//! backend must follow, so that it slots in without touching anything else:
//!
//! * Storage is a contiguous buffer of `numel` elements in row-major order, owned by its device.
//! * A launch never synchronizes with the host: only [`Storage::to_host`] waits for the device.
//! * Every failure (no driver, out of memory, a kernel that does not compile) comes back as an
//!   [`Error`], never as a panic.

pub mod cpu;

use crate::error::{Error, Result};
use std::fmt;

/// Where a tensor's data lives and where its kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// The host CPU: our own multi-threaded kernels (rayon) in `src/ops/<op>/cpu.rs`.
    Cpu,
}

impl Device {
    /// Parse a user's device choice. `auto` picks the best available device: CUDA, then a
    /// hardware wgpu adapter, then the CPU (only the CPU exists in this build).
    pub fn parse(name: &str) -> Result<Device> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cpu" | "auto" => Ok(Device::Cpu),
            "cuda" | "wgpu" => Err(Error::DeviceUnavailable {
                device: name.to_string(),
                reason: "this build has no such backend yet; use --device cpu".into(),
            }),
            other => Err(Error::Invalid(format!(
                "unknown device '{other}': expected one of cpu, auto"
            ))),
        }
    }

    /// Wait until every launch queued on this device has finished (a no-op on the CPU, whose
    /// kernels run synchronously). Benchmarks call this inside the timed region.
    pub fn synchronize(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
        }
    }
}

/// A tensor's elements, on some device. Cloning copies the data (on the same device).
#[derive(Clone, Debug)]
pub enum Storage {
    /// Host memory, recycled through the CPU buffer pool when dropped.
    Cpu(cpu::CpuBuffer),
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
        }
    }

    /// The device holding this storage.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(v) => v.len(),
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
        }
    }

    /// The host slice of a CPU storage; an error for any other device. Op dispatchers call this
    /// only after checking that all operands share one device.
    pub fn cpu(&self) -> Result<&[f32]> {
        match self {
            Storage::Cpu(v) => Ok(v),
        }
    }

    /// Mutable host slice of a CPU storage (for in-place optimizer updates).
    pub fn cpu_mut(&mut self) -> Result<&mut [f32]> {
        match self {
            Storage::Cpu(v) => Ok(v),
        }
    }
}
