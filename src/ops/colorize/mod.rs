//! Colourization of Biased MNIST as an op: paint a batch of grey MNIST digits in colour, with
//! background noise and stripes, on any device (SPEC Task 0; the recipe and the draws are
//! explained in [`crate::data::biased`]).
//!
//! It is a data-side op with no backward: the images it makes are inputs. Its three kernels
//! make the same draws — every random word is `pcg4d` of (key, sample index, block) — so the
//! CPU, CUDA and WGSL paint the same pixels (bit for bit on CUDA, whose float steps are
//! separately rounded in the CPU's order; within one rounding on WGSL, which may fuse the final
//! multiply-add).
//!
//! | file | kernel |
//! | --- | --- |
//! | [`cpu`] | `colorize_fwd_f32` on the host (rayon over images, the noise hashed 16 lanes at a time) |
//! | [`gpu`]: `kernels/colorize.cu`, `shaders/colorize.wgsl` | one thread per (image, block of 4 values); one launcher for both GPUs |
//!
//! The GPU kernels read the MNIST pixels of both splits from a [`DeviceCopy`] uploaded once
//! per device ([`DeviceCopies`]); the host keeps only the per-batch indices and labels to send.
//! [`ColorizeArgs::new`] fills the kernels' parameter struct from the recipe's settings.

pub mod cpu;
pub mod gpu;

use crate::device::backend::Backend;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Pixels of one 28×28 plane.
pub const PIXELS: usize = 784;
/// Values per coloured image (3×28×28).
pub const IMAGE_LEN: usize = 3 * PIXELS;
/// Offsets in the constants table: palette (10 × 3) at 0, stripe (28) at 30, g/255 at 58.
pub const STRIPE_AT: usize = 30;
pub const GRAY_AT: usize = 58;

/// The kernel's parameters (`ColorizeArgs` in `shaders/colorize.wgsl` and `kernels/colorize.cu`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ColorizeArgs {
    /// The per-(seed, split, epoch) key K (see [`crate::rng::streams`]).
    pub key: [u32; 4],
    /// Images in the batch.
    pub count: u32,
    /// 1: the hard split (never the dominant colour).
    pub hard: u32,
    /// The dominant colour when word 0 of block 0 is below `threshold` (= ⌈bias·2³²⌉) …
    pub threshold: u32,
    /// … or always, when bias·2³² ≥ 2³².
    pub always: u32,
    /// A forced palette index, or `u32::MAX` to draw the colour.
    pub color: u32,
    /// 0: no noise and no stripe.
    pub noise: u32,
    pub _pad: [u32; 2],
}

impl ColorizeArgs {
    /// The kernel's parameters for a batch of `count` images drawn with `key`: of the hard
    /// split (never the dominant colour) or not, the dominant colour with probability `bias`,
    /// every image in palette colour `color` when given, with or without the noise and stripe.
    pub fn new(
        key: [u32; 4],
        count: usize,
        hard: bool,
        bias: f32,
        color: Option<usize>,
        noise: bool,
    ) -> ColorizeArgs {
        // dominant ⇔ b0 < bias·2³² ⇔ b0 < ⌈bias·2³²⌉ for an integer b0
        let t = (bias as f64 * 4_294_967_296.0).ceil();
        let always = t >= 4_294_967_296.0;
        ColorizeArgs {
            key,
            count: count as u32,
            hard: hard as u32,
            threshold: if always { 0 } else { t as u32 },
            always: always as u32,
            color: color.map_or(u32::MAX, |c| c as u32),
            noise: noise as u32,
            _pad: [0; 2],
        }
    }
}

/// Which MNIST split the grey digits come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// MNIST's train images.
    Train,
    /// MNIST's test images (the hard and aligned splits).
    Test,
}

/// What the kernel reads besides the batch's indices and labels.
pub struct ColorizeInput<'a> {
    /// The split's grey pixels on the host, 784 bytes per image (the CPU kernel reads these).
    pub gray: &'a [u8],
    /// Which split they are (the GPU kernels read their uploaded copy of it).
    pub source: Source,
    /// Palette (10 × 3), stripe table (28), g/255 for g = 0..255 (see [`consts`]).
    pub consts: &'a [f32],
    /// The uploaded copy, for a GPU device.
    pub device_copy: Option<&'a DeviceCopy>,
}

/// Both MNIST splits' pixels and the constants table, uploaded to one GPU once.
pub struct GpuCopy<B: Backend> {
    train: B::Buffer,
    test: B::Buffer,
    consts: B::Buffer,
}

impl<B: Backend> GpuCopy<B> {
    /// Upload the train and test pixels (bytes, packed 4 to a word) and the constants.
    fn upload(train: &[u8], test: &[u8], consts: &[f32]) -> Result<GpuCopy<B>> {
        let g = B::get()?;
        Ok(GpuCopy {
            train: g.upload(&pad_to_words(train))?,
            test: g.upload(&pad_to_words(test))?,
            consts: g.upload(consts)?,
        })
    }

    /// Paint the batch from the uploaded split `source`.
    fn paint(
        &self,
        source: Source,
        indices: &[usize],
        labels: &[usize],
        args: &ColorizeArgs,
    ) -> Result<B::Buffer> {
        let gray = match source {
            Source::Train => &self.train,
            Source::Test => &self.test,
        };
        gpu::colorize_fwd::<B>(gray, &self.consts, indices, labels, args)
    }
}

/// The uploaded data on whichever GPU it lives.
pub enum DeviceCopy {
    Cuda(GpuCopy<Cuda>),
    Wgpu(GpuCopy<Wgpu>),
}

impl DeviceCopy {
    /// Upload the train and test pixels and the constants to `device`. `None` for the CPU,
    /// which reads the host's copy.
    pub fn upload(
        device: Device,
        train: &[u8],
        test: &[u8],
        consts: &[f32],
    ) -> Result<Option<DeviceCopy>> {
        Ok(match device {
            Device::Cpu => None,
            Device::Cuda => Some(DeviceCopy::Cuda(GpuCopy::upload(train, test, consts)?)),
            Device::Wgpu => Some(DeviceCopy::Wgpu(GpuCopy::upload(train, test, consts)?)),
        })
    }
}

/// The data's copies on each GPU used so far, uploaded on first use and kept for the process:
/// after that, a batch sends only its indices and labels.
#[derive(Default)]
pub struct DeviceCopies {
    copies: Mutex<HashMap<Device, Arc<DeviceCopy>>>,
}

impl DeviceCopies {
    /// The copy on `device` (`None` for the CPU), uploading `train`, `test` and `consts` the
    /// first time a device asks.
    pub fn on(
        &self,
        device: Device,
        train: &[u8],
        test: &[u8],
        consts: &[f32],
    ) -> Result<Option<Arc<DeviceCopy>>> {
        if device == Device::Cpu {
            return Ok(None);
        }
        let mut copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = copies.get(&device) {
            return Ok(Some(c.clone()));
        }
        let copy = DeviceCopy::upload(device, train, test, consts)?.map(Arc::new);
        if let Some(c) = &copy {
            copies.insert(device, c.clone());
        }
        Ok(copy)
    }
}

/// Bytes padded with zeros to a whole number of 4-byte words (the kernels read words).
fn pad_to_words(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.resize(bytes.len().div_ceil(4) * 4, 0);
    v
}

/// The constants table the kernels read: `palette` (10 × 3), `stripe` (28), then g/255 for
/// g = 0..255 — computed once on the host, so every device multiplies exactly the same numbers.
pub fn consts(palette: &[[f32; 3]; 10], stripe: &[f32; 28]) -> Vec<f32> {
    let mut c: Vec<f32> = palette.iter().flatten().copied().collect();
    c.extend_from_slice(stripe);
    c.extend((0..256).map(|v| v as f32 / 255.0));
    c
}

/// Paint the images `indices` (with their `labels`) of a split as a [B, 3, 28, 28] tensor on
/// `device`.
pub fn colorize(
    input: &ColorizeInput,
    indices: &[usize],
    labels: &[usize],
    args: &ColorizeArgs,
    device: Device,
) -> Result<Tensor> {
    let n_images = input.gray.len() / PIXELS;
    if indices.len() != labels.len() || args.count as usize != indices.len() {
        return Err(Error::Invalid(format!(
            "colorize: {} indices, {} labels and count {} must agree",
            indices.len(),
            labels.len(),
            args.count
        )));
    }
    if let Some(&bad) = indices.iter().find(|&&i| i >= n_images) {
        return Err(Error::Invalid(format!(
            "colorize: image {bad} out of range ({n_images} images)"
        )));
    }
    if input.consts.len() != GRAY_AT + 256 {
        return Err(Error::Invalid(format!(
            "colorize: the constants table has {} values, expected {}",
            input.consts.len(),
            GRAY_AT + 256
        )));
    }
    let shape = Shape::new([indices.len(), 3, 28, 28]);
    let storage = match (device, input.device_copy) {
        (Device::Cpu, _) => Storage::from_cpu(cpu::colorize_fwd(input, indices, labels, args)),
        (Device::Cuda, Some(DeviceCopy::Cuda(c))) => {
            Storage::Cuda(c.paint(input.source, indices, labels, args)?)
        }
        (Device::Wgpu, Some(DeviceCopy::Wgpu(c))) => {
            Storage::Wgpu(c.paint(input.source, indices, labels, args)?)
        }
        (d, _) => {
            return Err(Error::Invalid(format!(
                "colorize: no copy of the data was uploaded to {d}"
            )))
        }
    };
    Ok(Tensor::from_storage(storage, shape))
}
