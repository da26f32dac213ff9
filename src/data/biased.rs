//! Biased MNIST (SPEC Task 0): digits painted in a colour that predicts the label.
//!
//! # The recipe
//!
//! * **Palette** — digit d's *dominant* colour `PALETTE[d]`.
//! * **Train split** (MNIST train): the dominant colour with probability `bias` (0.95), otherwise
//!   one of the 9 other colours uniformly. **Hard split** (MNIST test): never the dominant
//!   colour, uniform over the 9 others. **Aligned split** (MNIST test): coloured like train.
//! * **Colourize** — `x` = grey level in [0, 1]; `coloured = x · colour` per channel;
//!   `noise = 0.05·z` per pixel and channel (z standard normal); with probability ½ add the
//!   stripe `0.03·sin(linspace(0, 10, 28))` along the width (probability ½) or the height;
//!   clamp the noise to [−0.1, 0.1]; `pixel = clamp(coloured + noise, 0, 1)`. NCHW, 3×28×28.
//!
//! # Reproducible draws, on every device
//!
//! Every random number is a pure function of `(seed, split, epoch, sample index)`. With
//! `pcg4d` (see [`crate::rng`]) we derive a per-(seed, split, epoch) key
//! `K = pcg4d([seed_lo, seed_hi, split, epoch])`, and block `c` of sample `i` is
//! `B(i, c) = pcg4d([K0 ^ i, K1, K2 ^ c, K3])` — four 32-bit words. Block 0 decides the colour
//! and the stripe: word 0 (< bias·2³² ⇒ dominant), word 1 (which of the 9 others:
//! `(w·9) >> 32`), word 2 (stripe on if its top bit is 0), word 3 (stripe along the width if its
//! top bit is 0). Blocks 1…588 give the 2352 noise values, one per word in CHW order.
//!
//! The noise uses z = (b₀ + b₁ + b₂ + b₃ − 510) / √21845 where bᵢ are the four bytes of a word:
//! a standardized sum of four uniform bytes (Irwin–Hall), with mean exactly 0 and variance
//! exactly 1. It replaces Box–Muller on purpose: it needs only integer adds and one f32
//! multiply, so CUDA and WGSL kernels reproduce the CPU's pixels *bit for bit* (logarithms and
//! cosines differ by ulps between devices), and it is cheap. It differs from a normal only in
//! the far tails, which the clamp at ±0.1 = ±2σ removes anyway.
//!
//! The train split is re-drawn every epoch by default (as the original, which colourized on
//! every access); `fixed` uses epoch 0 throughout. Test splits are always drawn at epoch 0, so
//! every evaluation sees the same images.

use super::mnist::{Mnist, MnistSplit, PIXELS};
use crate::device::cuda::CudaBuffer;
use crate::device::wgpu::GpuBuffer;
use crate::device::{cuda, wgpu};
use crate::device::{Device, Storage};
use crate::error::{Error, Result};
use crate::rng::pcg4d;
use crate::shape::Shape;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Digit → dominant colour (RGB in [0, 1]).
pub const PALETTE: [[f32; 3]; 10] = [
    [1.0, 0.0, 0.0], // 0 red
    [0.0, 1.0, 0.0], // 1 green
    [0.0, 0.0, 1.0], // 2 blue
    [1.0, 1.0, 0.0], // 3 yellow
    [1.0, 0.0, 1.0], // 4 magenta
    [0.0, 1.0, 1.0], // 5 cyan
    [1.0, 0.5, 0.0], // 6 orange
    [0.5, 0.0, 1.0], // 7 purple
    [0.5, 1.0, 0.0], // 8 lime
    [1.0, 0.5, 0.5], // 9 pink
];

/// The palette's colour names, in digit order.
pub const COLOR_NAMES: [&str; 10] = [
    "red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple", "lime", "pink",
];

/// Values per coloured image (3×28×28).
pub const IMAGE_LEN: usize = 3 * PIXELS;

/// Which split a sample comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// MNIST train, coloured with the bias.
    Train = 0,
    /// MNIST test, never the dominant colour.
    Hard = 1,
    /// MNIST test, coloured like train.
    Aligned = 2,
}

impl Split {
    /// All three splits.
    pub const ALL: [Split; 3] = [Split::Train, Split::Hard, Split::Aligned];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Hard => "hard",
            Split::Aligned => "aligned",
        }
    }
}

/// How to paint a sample, overriding the split's own colour draw (probes, conflict matrix).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Paint {
    /// Use this palette index instead of the drawn colour.
    pub color: Option<usize>,
    /// Add the background noise and stripes.
    pub noise: bool,
}

impl Paint {
    /// The split's own recipe.
    pub const DRAWN: Paint = Paint {
        color: None,
        noise: true,
    };
}

/// sin(linspace(0, 10, 28)) · 0.03, computed once (in f64, rounded to f32: devices get this
/// table rather than computing sines themselves).
fn stripe() -> [f32; 28] {
    let mut s = [0.0f32; 28];
    for (i, v) in s.iter_mut().enumerate() {
        *v = ((10.0 * i as f64 / 27.0).sin() * 0.03) as f32;
    }
    s
}

/// 1/√21845: scales a centred sum of four bytes to unit variance (21845 = 4·(256² − 1)/12).
const BYTE_SUM_SCALE: f32 = 0.006_765_869;

/// Standard-normal-like value from the four bytes of `w` (see the module docs).
#[inline]
pub fn byte_sum_normal(w: u32) -> f32 {
    let s = (w & 0xff) + ((w >> 8) & 0xff) + ((w >> 16) & 0xff) + (w >> 24);
    (s as i32 - 510) as f32 * BYTE_SUM_SCALE
}

/// Lanes hashed together by [`noise_blocks`].
const LANES: usize = 16;

/// Fill `out` (3×28×28) with 0.05·z: value p from word p % 4 of block `1 + p / 4` of sample i.
/// This is `BiasedMnist::block` computed for 16 blocks at once, written lane-wise
/// (structure of arrays) so the compiler turns each step of pcg4d into one vector instruction.
// Indexing by lane across the four word arrays is the point: each loop is one vector op.
#[allow(clippy::needless_range_loop)]
fn noise_blocks(key: &[u32; 4], i: usize, out: &mut [f32]) {
    let blocks = IMAGE_LEN / 4; // 588 = 36·16 + 12
    let mut start = 0;
    while start < blocks {
        let n = LANES.min(blocks - start);
        let mut v = [[0u32; LANES]; 4];
        for l in 0..LANES {
            let c = 1 + (start + l) as u32;
            let input = [key[0] ^ i as u32, key[1], key[2] ^ c, key[3]];
            for (w, x) in v.iter_mut().zip(input) {
                w[l] = x.wrapping_mul(1664525).wrapping_add(1013904223);
            }
        }
        for round in 0..2 {
            if round == 1 {
                for w in v.iter_mut() {
                    for x in w.iter_mut() {
                        *x ^= *x >> 16;
                    }
                }
            }
            for l in 0..LANES {
                v[0][l] = v[0][l].wrapping_add(v[1][l].wrapping_mul(v[3][l]));
            }
            for l in 0..LANES {
                v[1][l] = v[1][l].wrapping_add(v[2][l].wrapping_mul(v[0][l]));
            }
            for l in 0..LANES {
                v[2][l] = v[2][l].wrapping_add(v[0][l].wrapping_mul(v[1][l]));
            }
            for l in 0..LANES {
                v[3][l] = v[3][l].wrapping_add(v[1][l].wrapping_mul(v[2][l]));
            }
        }
        for l in 0..n {
            for word in 0..4 {
                out[(start + l) * 4 + word] = 0.05 * byte_sum_normal(v[word][l]);
            }
        }
        start += n;
    }
}

/// Biased MNIST over a loaded MNIST.
pub struct BiasedMnist {
    pub mnist: Mnist,
    pub seed: u64,
    /// Probability of the dominant colour in the train and aligned splits.
    pub bias: f32,
    /// Re-draw train colours and noise every epoch (default) or keep epoch 0's.
    pub redraw_per_epoch: bool,
    stripe: [f32; 28],
    /// The splits' pixels and the colour tables on the WebGPU device, uploaded on first use.
    gpu: std::sync::Mutex<Option<std::sync::Arc<GpuData<GpuBuffer>>>>,
    /// The same on the CUDA device.
    cuda: std::sync::Mutex<Option<std::sync::Arc<GpuData<CudaBuffer>>>>,
}

/// What the `colorize_fwd_f32` kernel reads besides the batch's indices, on one device (`B` is
/// that device's buffer type).
struct GpuData<B> {
    train: B,
    test: B,
    /// palette (10 × 3), stripe (28), g/255 for g = 0..255 — computed here, so the shader
    /// multiplies exactly the numbers the CPU does.
    consts: B,
}

/// The kernel's parameters (`ColorizeArgs` in `shaders/biased_mnist.wgsl` and
/// `kernels/biased_mnist.cu`).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ColorizeArgs {
    key: [u32; 4],
    count: u32,
    hard: u32,
    threshold: u32,
    always: u32,
    color: u32,
    noise: u32,
    _pad: [u32; 2],
}

impl BiasedMnist {
    /// Wrap MNIST with the colouring recipe.
    pub fn new(mnist: Mnist, seed: u64, bias: f32, redraw_per_epoch: bool) -> Result<BiasedMnist> {
        if !(0.0..=1.0).contains(&bias) {
            return Err(Error::Invalid(format!(
                "bias must be in [0, 1], got {bias}"
            )));
        }
        Ok(BiasedMnist {
            mnist,
            seed,
            bias,
            redraw_per_epoch,
            stripe: stripe(),
            gpu: std::sync::Mutex::new(None),
            cuda: std::sync::Mutex::new(None),
        })
    }

    /// The MNIST images behind a split.
    pub fn source(&self, split: Split) -> &MnistSplit {
        match split {
            Split::Train => &self.mnist.train,
            Split::Hard | Split::Aligned => &self.mnist.test,
        }
    }

    /// Number of samples in a split.
    pub fn len(&self, split: Split) -> usize {
        self.source(split).len()
    }

    /// The label of sample `i`.
    pub fn label(&self, split: Split, i: usize) -> usize {
        self.source(split).labels[i] as usize
    }

    /// The epoch whose draws a split uses at training epoch `epoch`.
    fn draw_epoch(&self, split: Split, epoch: usize) -> u32 {
        match split {
            Split::Train if self.redraw_per_epoch => epoch as u32,
            _ => 0,
        }
    }

    /// K = pcg4d([seed_lo, seed_hi, split, epoch]).
    fn key(&self, split: Split, epoch: usize) -> [u32; 4] {
        pcg4d([
            self.seed as u32,
            (self.seed >> 32) as u32,
            split as u32,
            self.draw_epoch(split, epoch),
        ])
    }

    /// Block `c` of sample `i` under key `k`.
    #[inline]
    fn block(k: &[u32; 4], i: usize, c: u32) -> [u32; 4] {
        pcg4d([k[0] ^ i as u32, k[1], k[2] ^ c, k[3]])
    }

    /// The palette index sample `i` is painted with at `epoch`.
    pub fn color_of(&self, split: Split, epoch: usize, i: usize) -> usize {
        let b = Self::block(&self.key(split, epoch), i, 0);
        self.pick_color(split, self.label(split, i), b)
    }

    fn pick_color(&self, split: Split, label: usize, b: [u32; 4]) -> usize {
        let dominant = match split {
            Split::Train | Split::Aligned => (b[0] as f64) < self.bias as f64 * 4_294_967_296.0,
            Split::Hard => false,
        };
        if dominant {
            label
        } else {
            // one of the 9 other colours: skip over the dominant one
            let k = ((b[1] as u64 * 9) >> 32) as usize;
            if k >= label {
                k + 1
            } else {
                k
            }
        }
    }

    /// Write the coloured image of sample `i` into `out` (3×28×28, CHW).
    pub fn colorize_into(
        &self,
        split: Split,
        epoch: usize,
        i: usize,
        paint: Paint,
        out: &mut [f32],
    ) {
        self.colorize_with_key(&self.key(split, epoch), split, i, paint, out)
    }

    fn colorize_with_key(
        &self,
        key: &[u32; 4],
        split: Split,
        i: usize,
        paint: Paint,
        out: &mut [f32],
    ) {
        let src = self.source(split);
        let gray = src.image(i);
        let b0 = Self::block(key, i, 0);
        let color = PALETTE[paint
            .color
            .unwrap_or_else(|| self.pick_color(split, src.labels[i] as usize, b0))];
        if !paint.noise {
            for c in 0..3 {
                for (o, &g) in out[c * PIXELS..(c + 1) * PIXELS].iter_mut().zip(gray) {
                    *o = (g as f32 / 255.0) * color[c];
                }
            }
            return;
        }
        let stripe_on = b0[2] >> 31 == 0;
        let along_width = b0[3] >> 31 == 0;
        // noise, CHW order: value p comes from word p % 4 of block 1 + p / 4
        noise_blocks(key, i, out);
        for c in 0..3 {
            let plane = &mut out[c * PIXELS..(c + 1) * PIXELS];
            for y in 0..28 {
                for x in 0..28 {
                    let p = y * 28 + x;
                    let mut n = plane[p];
                    if stripe_on {
                        n += if along_width {
                            self.stripe[x]
                        } else {
                            self.stripe[y]
                        };
                    }
                    let n = n.clamp(-0.1, 0.1);
                    let coloured = (gray[p] as f32 / 255.0) * color[c];
                    plane[p] = (coloured + n).clamp(0.0, 1.0);
                }
            }
        }
    }

    /// The colour tables the kernels read: palette (10 × 3), stripe (28), g/255 for g = 0..255.
    fn consts(&self) -> Vec<f32> {
        let mut consts: Vec<f32> = PALETTE.iter().flatten().copied().collect();
        consts.extend_from_slice(&self.stripe);
        consts.extend((0..256).map(|v| v as f32 / 255.0));
        consts
    }

    /// The kernel's parameters for one batch.
    fn colorize_args(
        &self,
        split: Split,
        key: &[u32; 4],
        count: usize,
        paint: Paint,
    ) -> ColorizeArgs {
        // dominant ⇔ b0 < bias·2³² ⇔ b0 < ⌈bias·2³²⌉ for an integer b0
        let t = (self.bias as f64 * 4_294_967_296.0).ceil();
        let always = t >= 4_294_967_296.0;
        ColorizeArgs {
            key: *key,
            count: count as u32,
            hard: (split == Split::Hard) as u32,
            threshold: if always { 0 } else { t as u32 },
            always: always as u32,
            color: paint.color.map_or(u32::MAX, |c| c as u32),
            noise: paint.noise as u32,
            _pad: [0; 2],
        }
    }

    /// The CUDA copies of both MNIST splits and the colour tables (uploaded once).
    fn cuda_data(&self) -> Result<std::sync::Arc<GpuData<CudaBuffer>>> {
        let mut slot = self.cuda.lock().unwrap();
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let g = cuda::gpu()?;
        let d = std::sync::Arc::new(GpuData {
            train: g.upload(&self.mnist.train.images)?,
            test: g.upload(&self.mnist.test.images)?,
            consts: g.upload(&self.consts())?,
        });
        *slot = Some(d.clone());
        Ok(d)
    }

    /// `colorize_fwd_f32` on the CUDA device: the same kernel, draws and arguments as
    /// [`Self::batch_wgpu`].
    fn batch_cuda(
        &self,
        split: Split,
        key: &[u32; 4],
        indices: &[usize],
        labels: &[usize],
        paint: Paint,
    ) -> Result<Tensor> {
        let g = cuda::gpu()?;
        let data = self.cuda_data()?;
        let gray = match split {
            Split::Train => &data.train,
            Split::Hard | Split::Aligned => &data.test,
        };
        let out = g.alloc(indices.len() * IMAGE_LEN)?;
        if !indices.is_empty() {
            let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
            let lab: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
            let (ib, lb) = (g.upload(&idx)?, g.upload(&lab)?);
            let args = self.colorize_args(split, key, indices.len(), paint);
            g.launch_1d(
                "biased_mnist",
                "colorize_fwd_f32",
                &args,
                &[gray, &ib, &lb, &data.consts, &out],
                indices.len() * (IMAGE_LEN / 4),
            )?;
        }
        Ok(Tensor::from_storage(
            Storage::Cuda(out),
            Shape::new([indices.len(), 3, 28, 28]),
        ))
    }

    /// The WebGPU copies of both MNIST splits and the colour tables (uploaded once).
    fn gpu_data(&self) -> Result<std::sync::Arc<GpuData<GpuBuffer>>> {
        let mut slot = self.gpu.lock().unwrap();
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let g = wgpu::gpu()?;
        let consts = self.consts();
        let d = std::sync::Arc::new(GpuData {
            train: g.upload(&self.mnist.train.images)?,
            test: g.upload(&self.mnist.test.images)?,
            consts: g.upload(&consts)?,
        });
        *slot = Some(d.clone());
        Ok(d)
    }

    /// `colorize_fwd_f32`: the batch painted on the WebGPU device, pixel for pixel the CPU's
    /// draws (the colour, stripe and noise words are the same pcg4d outputs; values agree to
    /// within one rounding, as the GPU may fuse the final multiply-add).
    fn batch_wgpu(
        &self,
        split: Split,
        key: &[u32; 4],
        indices: &[usize],
        labels: &[usize],
        paint: Paint,
    ) -> Result<Tensor> {
        let g = wgpu::gpu()?;
        let data = self.gpu_data()?;
        let gray = match split {
            Split::Train => &data.train,
            Split::Hard | Split::Aligned => &data.test,
        };
        let out = g.alloc(indices.len() * IMAGE_LEN)?;
        if !indices.is_empty() {
            let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
            let lab: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
            let (ib, lb) = (g.upload(&idx)?, g.upload(&lab)?);
            let args = self.colorize_args(split, key, indices.len(), paint);
            g.launch_1d(
                "biased_mnist",
                "colorize_fwd_f32",
                &args,
                &[gray, &ib, &lb, &data.consts, &out],
                indices.len() * (IMAGE_LEN / 4),
            )?;
        }
        Ok(Tensor::from_storage(
            Storage::Wgpu(out),
            Shape::new([indices.len(), 3, 28, 28]),
        ))
    }

    /// A batch of coloured images [B, 3, 28, 28] and their labels, coloured in parallel.
    pub fn batch(
        &self,
        split: Split,
        epoch: usize,
        indices: &[usize],
        paint: Paint,
        device: Device,
    ) -> Result<(Tensor, Vec<usize>)> {
        let n = self.len(split);
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::Invalid(format!(
                "sample {bad} out of range for the {} split ({n} samples)",
                split.name()
            )));
        }
        let key = self.key(split, epoch);
        let labels: Vec<usize> = indices.iter().map(|&i| self.label(split, i)).collect();
        match device {
            Device::Wgpu => {
                let x = self.batch_wgpu(split, &key, indices, &labels, paint)?;
                return Ok((x, labels));
            }
            Device::Cuda => {
                let x = self.batch_cuda(split, &key, indices, &labels, paint)?;
                return Ok((x, labels));
            }
            Device::Cpu => {}
        }
        let mut data = crate::device::cpu::take(indices.len() * IMAGE_LEN);
        data.par_chunks_mut(IMAGE_LEN)
            .zip(indices.par_iter())
            .for_each(|(out, &i)| self.colorize_with_key(&key, split, i, paint, out));
        Ok((
            Tensor::from_vec(data, [indices.len(), 3, 28, 28], device)?,
            labels,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BiasedMnist {
        // 200 synthetic "digits": label i % 10, a bright square.
        let n = 200;
        let mut images = vec![0u8; n * PIXELS];
        for i in 0..n {
            for p in 300..400 {
                images[i * PIXELS + p] = 255;
            }
        }
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        let split = MnistSplit { images, labels };
        BiasedMnist::new(
            Mnist {
                train: split.clone(),
                test: split,
            },
            7,
            0.95,
            true,
        )
        .unwrap()
    }

    #[test]
    fn byte_sum_normal_has_zero_mean_and_unit_variance() {
        let mut s = 0.0f64;
        let mut s2 = 0.0f64;
        let n = 1 << 20;
        for i in 0..n {
            let w = pcg4d([i, 1, 2, 3])[0];
            let z = byte_sum_normal(w) as f64;
            s += z;
            s2 += z * z;
        }
        let m = s / n as f64;
        assert!(m.abs() < 0.005 && (s2 / n as f64 - 1.0).abs() < 0.01);
        assert_eq!(
            byte_sum_normal(0x7f7f_8080),
            (510 - 510) as f32 * BYTE_SUM_SCALE
        );
    }

    #[test]
    fn lane_wise_noise_equals_the_scalar_hash() {
        let key = [1u32, 2, 3, 4];
        let mut out = vec![0.0; IMAGE_LEN];
        noise_blocks(&key, 77, &mut out);
        for p in [0, 1, 5, 63, 64, 2000, IMAGE_LEN - 1] {
            let w = BiasedMnist::block(&key, 77, 1 + (p / 4) as u32)[p % 4];
            assert_eq!(out[p], 0.05 * byte_sum_normal(w), "value {p}");
        }
    }

    #[test]
    fn draws_are_pure_functions_of_seed_split_epoch_index() {
        let d = tiny();
        let mut a = vec![0.0; IMAGE_LEN];
        let mut b = vec![0.0; IMAGE_LEN];
        d.colorize_into(Split::Train, 3, 17, Paint::DRAWN, &mut a);
        d.colorize_into(Split::Train, 3, 17, Paint::DRAWN, &mut b);
        assert_eq!(a, b);
        d.colorize_into(Split::Train, 4, 17, Paint::DRAWN, &mut b);
        assert_ne!(a, b, "train must be re-drawn per epoch");
        let (t1, _) = d
            .batch(Split::Train, 3, &[5, 17], Paint::DRAWN, Device::Cpu)
            .unwrap();
        assert_eq!(&t1.to_vec().unwrap()[IMAGE_LEN..], &a[..]);
        // test splits do not depend on the epoch
        d.colorize_into(Split::Hard, 0, 9, Paint::DRAWN, &mut a);
        d.colorize_into(Split::Hard, 5, 9, Paint::DRAWN, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn hard_split_never_uses_the_dominant_color_and_train_mostly_does() {
        let d = tiny();
        let mut dominant = 0;
        let mut counts = [0usize; 10];
        for epoch in 0..50 {
            for i in 0..200 {
                let c = d.color_of(Split::Train, epoch, i);
                if c == d.label(Split::Train, i) {
                    dominant += 1;
                }
                let h = d.color_of(Split::Hard, 0, i);
                assert_ne!(h, d.label(Split::Hard, i));
                counts[h] += 1;
            }
        }
        let frac = dominant as f64 / 10_000.0;
        assert!((frac - 0.95).abs() < 0.01, "dominant fraction {frac}");
        // hard colours are spread over all palette entries
        assert!(counts.iter().all(|&c| c > 0));
    }

    #[test]
    fn pixels_follow_the_recipe() {
        let d = tiny();
        let mut img = vec![0.0; IMAGE_LEN];
        d.colorize_into(
            Split::Train,
            0,
            3,
            Paint {
                color: Some(0),
                noise: false,
            },
            &mut img,
        );
        // red: full in R where the digit is, zero in G and B
        assert_eq!(img[350], 1.0);
        assert_eq!(img[PIXELS + 350], 0.0);
        assert_eq!(img[10], 0.0);
        d.colorize_into(Split::Train, 0, 3, Paint::DRAWN, &mut img);
        assert!(img.iter().all(|v| (0.0..=1.0).contains(v)));
        // background = clamped noise: never above 0.1
        assert!(img[..300].iter().all(|&v| v <= 0.1));
        assert!(img[..300].iter().any(|&v| v > 0.0));
    }
}
