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
//! | [`cuda`], `kernels/colorize.cu` | one thread per (image, block of 4 values) |
//! | [`wgpu`], `shaders/colorize.wgsl` | the same |
//!
//! The GPU kernels read the MNIST pixels of both splits from a [`DeviceCopy`] uploaded once;
//! the host keeps only the per-batch indices and labels to send.

pub mod cpu;
pub mod cuda;
pub mod wgpu;

use crate::device::cuda::CudaBuffer;
use crate::device::wgpu::GpuBuffer;
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

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
pub enum DeviceCopy {
    Cuda {
        train: CudaBuffer,
        test: CudaBuffer,
        consts: CudaBuffer,
    },
    Wgpu {
        train: GpuBuffer,
        test: GpuBuffer,
        consts: GpuBuffer,
    },
}

impl DeviceCopy {
    /// Upload the train and test pixels (bytes, packed 4 to a word) and the constants to
    /// `device`. `None` for the CPU, which reads the host's copy.
    pub fn upload(
        device: Device,
        train: &[u8],
        test: &[u8],
        consts: &[f32],
    ) -> Result<Option<DeviceCopy>> {
        Ok(match device {
            Device::Cpu => None,
            Device::Cuda => {
                let g = crate::device::cuda::gpu()?;
                Some(DeviceCopy::Cuda {
                    train: g.upload(&pad_to_words(train))?,
                    test: g.upload(&pad_to_words(test))?,
                    consts: g.upload(consts)?,
                })
            }
            Device::Wgpu => {
                let g = crate::device::wgpu::gpu()?;
                Some(DeviceCopy::Wgpu {
                    train: g.upload(&pad_to_words(train))?,
                    test: g.upload(&pad_to_words(test))?,
                    consts: g.upload(consts)?,
                })
            }
        })
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
        (
            Device::Cuda,
            Some(DeviceCopy::Cuda {
                train,
                test,
                consts,
            }),
        ) => {
            let gray = if input.source == Source::Train {
                train
            } else {
                test
            };
            Storage::Cuda(cuda::colorize_fwd(gray, consts, indices, labels, args)?)
        }
        (
            Device::Wgpu,
            Some(DeviceCopy::Wgpu {
                train,
                test,
                consts,
            }),
        ) => {
            let gray = if input.source == Source::Train {
                train
            } else {
                test
            };
            Storage::Wgpu(wgpu::colorize_fwd(gray, consts, indices, labels, args)?)
        }
        (d, _) => {
            return Err(Error::Invalid(format!(
                "colorize: no copy of the data was uploaded to {d}"
            )))
        }
    };
    Ok(Tensor::from_storage(storage, shape))
}
