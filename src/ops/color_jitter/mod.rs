//! Colour jitter with torchvision's semantics (`transforms.ColorJitter` on float tensors), one
//! random draw per image, as a data-side op on every device (SPEC Task 4.1, the colour
//! consistency method's second view).
//!
//! # The four adjustments (torchvision's `F.adjust_*` on images in [0, 1])
//!
//! With `gray(r, g, b) = 0.2989·r + 0.587·g + 0.114·b` and
//! `blend(a, b, f) = clamp(f·a + (1 − f)·b, 0, 1)`:
//!
//! | id | adjustment | each channel becomes |
//! | --- | --- | --- |
//! | 0 | brightness f | `blend(x, 0, f)` = clamp(f·x, 0, 1) |
//! | 1 | contrast f | `blend(x, m, f)`, m = the mean of `gray` over the whole image |
//! | 2 | saturation f | `blend(x, gray(pixel), f)` |
//! | 3 | hue h | RGB → HSV, H ← (H + h) mod 1, HSV → RGB (torchvision's `_rgb2hsv`/`_hsv2rgb`) |
//!
//! The factors are drawn uniformly: brightness, contrast and saturation in
//! [max(0, 1 − s), 1 + s] for strength s, hue in [−h, h]; the four adjustments run in a random
//! order (torchvision's `randperm(4)`). SPEC: strengths (0.8, 0.8, 0.8, 0.3), and
//! (1, 1, 1, 0.5) for a random half of the images.
//!
//! # Reproducible draws
//!
//! Everything random is a pure function of (seed, epoch, sample index), like the colourization:
//! the key `K = pcg4d([seed_lo, seed_hi, JITTER, epoch])` ([`crate::rng::streams`]); for sample
//! i, block 0 = `pcg4d([K0 ^ i, K1, K2, K3])` gives the four factors' uniforms (word k → u_k =
//! top 24 bits · 2⁻²⁴, factor = lo_k + span_k · u_k), block 1 = `pcg4d([K0 ^ i, K1, K2 ^ 1, K3])`
//! gives the extreme coin (word 0 < threshold) and the order (word 1 → one of the 24
//! permutations, ⌊w·24 / 2³²⌋, decoded as a Lehmer code). So the CPU, CUDA and WGSL kernels
//! jitter the same images the same way, and which half of a batch is "extreme" is a per-image
//! fair coin (exactly what `torch.rand(B) < 0.5` gives), not a batch-dependent split.
//!
//! Not differentiable: the op makes inputs. Backward through it is an error that says so.
//!
//! | file | kernel `color_jitter_fwd_f32` |
//! | --- | --- |
//! | [`cpu`] | rayon over images |
//! | [`cuda`], `kernels/color_jitter.cu` | one block of 256 threads per image |
//! | [`wgpu`], `shaders/color_jitter.wgsl` | one workgroup of 256 per image |
//!
//! The contrast mean is summed in the same order everywhere: thread l of 256 adds the grays of
//! pixels l, l + 256, … in turn, then a tree (strides 128, 64, …, 1) adds the 256 partial sums.

pub mod cpu;
pub mod gpu;

use crate::autograd::record;
use crate::device::backend::{Cuda, Wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::rng::{pcg4d, streams, u32_to_unit_f32};
use crate::tensor::Tensor;

/// Threads per image in the GPU kernels, and lanes of the contrast mean's sum on every device.
pub const LANES: usize = 256;

/// Jitter strengths, as torchvision's `ColorJitter(brightness, contrast, saturation, hue)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Strengths {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
}

impl Strengths {
    /// SPEC Task 4.1's jitter: (0.8, 0.8, 0.8, 0.3).
    pub const SPEC: Strengths = Strengths {
        brightness: 0.8,
        contrast: 0.8,
        saturation: 0.8,
        hue: 0.3,
    };
    /// SPEC Task 4.1's extreme jitter: (1, 1, 1, 0.5).
    pub const EXTREME: Strengths = Strengths {
        brightness: 1.0,
        contrast: 1.0,
        saturation: 1.0,
        hue: 0.5,
    };

    fn check(&self) -> Result<()> {
        let ok = |s: f32| s.is_finite() && s >= 0.0;
        if !(ok(self.brightness) && ok(self.contrast) && ok(self.saturation)) {
            return Err(Error::Invalid(format!(
                "color jitter: brightness, contrast and saturation must be finite and ≥ 0, got {self:?}"
            )));
        }
        if !(0.0..=0.5).contains(&self.hue) {
            return Err(Error::Invalid(format!(
                "color jitter: hue must be in [0, 0.5] (as in torchvision), got {}",
                self.hue
            )));
        }
        Ok(())
    }

    /// (lo, span) of the four factors: [max(0, 1 − s), 1 + s] and [−h, h].
    fn ranges(&self) -> ([f32; 4], [f32; 4]) {
        let r = |s: f32| ((1.0 - s).max(0.0), 1.0 + s);
        let rs = [
            r(self.brightness),
            r(self.contrast),
            r(self.saturation),
            (-self.hue, self.hue),
        ];
        (rs.map(|(lo, _)| lo), rs.map(|(lo, hi)| hi - lo))
    }
}

/// The jitter of SPEC Task 4.1: `normal` strengths, and `extreme` ones for a fraction of images.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColorJitter {
    pub normal: Strengths,
    pub extreme: Strengths,
    /// Probability that an image uses the `extreme` strengths (SPEC: ½).
    pub extreme_fraction: f32,
}

impl Default for ColorJitter {
    fn default() -> Self {
        ColorJitter {
            normal: Strengths::SPEC,
            extreme: Strengths::EXTREME,
            extreme_fraction: 0.5,
        }
    }
}

/// The kernel's parameters (`JitterArgs` in `kernels/color_jitter.cu` and
/// `shaders/color_jitter.wgsl`, 96 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct JitterArgs {
    /// The per-(seed, epoch) key K.
    pub key: [u32; 4],
    /// Images in the batch.
    pub count: u32,
    /// Pixels per channel plane (H·W).
    pub hw: u32,
    /// An image is extreme when word 0 of its block 1 is below `threshold` …
    pub threshold: u32,
    /// … or always, when the fraction is 1.
    pub always: u32,
    /// Lower ends and spans of the factors (brightness, contrast, saturation, hue), normal …
    pub lo: [f32; 4],
    pub span: [f32; 4],
    /// … and extreme.
    pub xlo: [f32; 4],
    pub xspan: [f32; 4],
}

/// What was drawn for one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterDraw {
    /// Brightness, contrast, saturation and hue factors.
    pub factors: [f32; 4],
    /// The adjustments' ids (0 brightness, 1 contrast, 2 saturation, 3 hue) in the order run.
    pub order: [u32; 4],
    pub extreme: bool,
}

/// ⌊w·n / 2³²⌋ for n < 2¹⁶, in 32-bit arithmetic (WGSL has no 64-bit integers).
pub fn scale_word(w: u32, n: u32) -> u32 {
    let hi = (w >> 16) * n;
    let lo = (w & 0xffff) * n;
    (hi + (lo >> 16)) >> 16
}

/// The permutation with Lehmer code `code` (0 ≤ code < 24) of [0, 1, 2, 3].
pub fn permutation(code: u32) -> [u32; 4] {
    let mut rest = [0u32, 1, 2, 3];
    let mut left = 4usize;
    let mut code = code;
    let mut out = [0u32; 4];
    for (k, o) in out.iter_mut().enumerate() {
        let f = [6u32, 2, 1, 1][k];
        let j = (code / f) as usize;
        code %= f;
        *o = rest[j];
        rest.copy_within(j + 1..left, j);
        left -= 1;
    }
    out
}

impl ColorJitter {
    /// Check the strengths and the fraction.
    pub fn check(&self) -> Result<()> {
        self.normal.check()?;
        self.extreme.check()?;
        if !(0.0..=1.0).contains(&self.extreme_fraction) {
            return Err(Error::Invalid(format!(
                "color jitter: the extreme fraction must be in [0, 1], got {}",
                self.extreme_fraction
            )));
        }
        Ok(())
    }

    /// The key of training epoch `epoch` under `seed`.
    pub fn key(seed: u64, epoch: usize) -> [u32; 4] {
        streams::key(seed, streams::JITTER, epoch as u32)
    }

    /// The kernel's parameters for `count` images of `hw` pixels.
    pub fn args(&self, key: [u32; 4], count: usize, hw: usize) -> JitterArgs {
        let t = (self.extreme_fraction as f64 * 4_294_967_296.0).ceil();
        let always = t >= 4_294_967_296.0;
        let (lo, span) = self.normal.ranges();
        let (xlo, xspan) = self.extreme.ranges();
        JitterArgs {
            key,
            count: count as u32,
            hw: hw as u32,
            threshold: if always { 0 } else { t as u32 },
            always: always as u32,
            lo,
            span,
            xlo,
            xspan,
        }
    }
}

impl JitterArgs {
    /// The draws for sample `index` (what every kernel computes for it).
    pub fn draw(&self, index: u32) -> JitterDraw {
        let k = self.key;
        let b0 = pcg4d([k[0] ^ index, k[1], k[2], k[3]]);
        let b1 = pcg4d([k[0] ^ index, k[1], k[2] ^ 1, k[3]]);
        let extreme = self.always != 0 || b1[0] < self.threshold;
        let (lo, span) = if extreme {
            (self.xlo, self.xspan)
        } else {
            (self.lo, self.span)
        };
        let mut factors = [0.0f32; 4];
        for (j, f) in factors.iter_mut().enumerate() {
            *f = lo[j] + span[j] * u32_to_unit_f32(b0[j]);
        }
        JitterDraw {
            factors,
            order: permutation(scale_word(b1[1], 24)),
            extreme,
        }
    }
}

impl Tensor {
    /// Jitter a batch of RGB images [B, 3, H, W] (values in [0, 1]); image b is sample
    /// `indices[b]` under `key` (see [`ColorJitter::key`]), so its draw does not depend on the
    /// batch it is in.
    pub fn color_jitter(
        &self,
        jitter: &ColorJitter,
        key: [u32; 4],
        indices: &[usize],
    ) -> Result<Tensor> {
        jitter.check()?;
        let (b, c, h, w) = self.shape().nchw().ok_or_else(|| {
            Error::shape_expected("color_jitter", "images [B, 3, H, W]", self.shape())
        })?;
        if c != 3 || indices.len() != b || h * w == 0 {
            return Err(Error::shape(
                "color_jitter",
                format!(
                    "needs RGB images and one sample index per image; got {} and {} indices",
                    self.shape(),
                    indices.len()
                ),
            ));
        }
        if u32::try_from(self.numel()).is_err() || indices.iter().any(|&i| i > u32::MAX as usize) {
            return Err(Error::Invalid(
                "color_jitter: sizes and sample indices must fit in 32 bits".into(),
            ));
        }
        let args = jitter.args(key, b, h * w);
        let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
        let s = self.storage();
        let out = match self.device() {
            Device::Cpu => Storage::from_cpu(cpu::color_jitter_fwd(s.cpu()?, &idx, &args)),
            Device::Cuda => Storage::Cuda(gpu::color_jitter_fwd::<Cuda>(s.cuda()?, &idx, &args)?),
            Device::Wgpu => Storage::Wgpu(gpu::color_jitter_fwd::<Wgpu>(s.wgpu()?, &idx, &args)?),
        };
        Ok(record(
            "color_jitter",
            &[self],
            out,
            self.shape().clone(),
            |_, _| {
                Err(Error::Autograd(
                    "color_jitter has no backward: it makes training inputs; detach its input"
                        .into(),
                ))
            },
        ))
    }
}
