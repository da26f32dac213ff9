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
//! `K = pcg4d([seed_lo, seed_hi, split, epoch])` (stream ids in [`crate::rng::streams`]), and block `c` of sample `i` is
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
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::colorize::{self, cpu::block, ColorizeArgs, ColorizeInput, DeviceCopies, Source};
use crate::rng::streams;
use crate::tensor::Tensor;

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
pub const IMAGE_LEN: usize = colorize::IMAGE_LEN;

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

/// Biased MNIST over a loaded MNIST.
pub struct BiasedMnist {
    pub mnist: Mnist,
    pub seed: u64,
    /// Probability of the dominant colour in the train and aligned splits.
    pub bias: f32,
    /// Re-draw train colours and noise every epoch (default) or keep epoch 0's.
    pub redraw_per_epoch: bool,
    /// Palette, stripe and g/255 tables the colorize kernels read ([`colorize::consts`]).
    consts: Vec<f32>,
    /// Both splits' pixels uploaded to each GPU device used so far (uploaded on first use).
    uploads: DeviceCopies,
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
            consts: colorize::consts(&PALETTE, &stripe()),
            uploads: DeviceCopies::default(),
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
        streams::key(
            self.seed,
            streams::COLORIZE + split as u32,
            self.draw_epoch(split, epoch),
        )
    }

    /// The palette index sample `i` is painted with at `epoch`.
    pub fn color_of(&self, split: Split, epoch: usize, i: usize) -> usize {
        let args = self.colorize_args(split, epoch, 1, Paint::DRAWN);
        colorize::cpu::pick_color(&args, self.label(split, i), block(&args.key, i, 0))
    }

    /// Sample `i`'s background (3×28×28, CHW): the noise and stripes its pixels carry, in
    /// [−0.1, 0.1]; a pixel is `clamp(grey·colour + background, 0, 1)`.
    pub fn background(&self, split: Split, epoch: usize, i: usize) -> Vec<f32> {
        let args = self.colorize_args(split, epoch, 1, Paint::DRAWN);
        let mut out = vec![0.0f32; IMAGE_LEN];
        colorize::cpu::background(&args, i, &self.consts, &mut out);
        out
    }

    /// Sample `i`'s grey levels in [0, 1] (28×28), as the colouring reads them.
    pub fn gray_levels(&self, split: Split, i: usize) -> Vec<f32> {
        let gray = &self.source(split).images[i * PIXELS..(i + 1) * PIXELS];
        gray.iter().map(|&g| g as f32 / 255.0).collect()
    }

    /// Write the coloured image of sample `i` into `out` (3×28×28, CHW), on the host.
    pub fn colorize_into(
        &self,
        split: Split,
        epoch: usize,
        i: usize,
        paint: Paint,
        out: &mut [f32],
    ) {
        let args = self.colorize_args(split, epoch, 1, paint);
        let gray = &self.source(split).images[i * PIXELS..(i + 1) * PIXELS];
        colorize::cpu::colorize_image(gray, i, self.label(split, i), &args, &self.consts, out)
    }

    /// The colorize kernel's parameters for a batch of `count` images.
    fn colorize_args(
        &self,
        split: Split,
        epoch: usize,
        count: usize,
        paint: Paint,
    ) -> ColorizeArgs {
        ColorizeArgs::new(
            self.key(split, epoch),
            count,
            split == Split::Hard,
            self.bias,
            paint.color,
            paint.noise,
        )
    }

    /// A batch of coloured images [B, 3, 28, 28] on `device` and their labels, painted by the
    /// colorize op (on the device itself for a GPU: only the indices and labels travel).
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
        let labels: Vec<usize> = indices.iter().map(|&i| self.label(split, i)).collect();
        let copy = self.uploads.on(
            device,
            &self.mnist.train.images,
            &self.mnist.test.images,
            &self.consts,
        )?;
        let input = ColorizeInput {
            gray: &self.source(split).images,
            source: if split == Split::Train {
                Source::Train
            } else {
                Source::Test
            },
            consts: &self.consts,
            device_copy: copy.as_deref(),
        };
        let args = self.colorize_args(split, epoch, indices.len(), paint);
        let x = colorize::colorize(&input, indices, &labels, &args, device)?;
        Ok((x, labels))
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
