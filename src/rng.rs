//! A small counter-based random number generator.
//!
//! Every random draw in the engine is a pure function of a key and a counter, `pcg4d(key,
//! counter)`, the 4-lane PCG-style hash of Jarzynski & Olano ("Hash Functions for GPU
//! Rendering", JCGT 2020). It uses only wrapping 32-bit multiplies, adds, xors and shifts, which
//! CUDA and WGSL (no 64-bit integers) compute bit for bit like Rust does. So a device kernel can
//! reproduce exactly the numbers the CPU draws for, say, `(seed, split, epoch, sample)`.
//!
//! [`Rng`] wraps the hash in a sequential stream for parameter initialization and shuffling:
//! the k-th block of four words is `pcg4d([seed_lo, seed_hi, stream, k])`.

/// Every random stream of the engine and the study, in one table, so that no two purposes can
/// share one by accident.
///
/// A stream id is the third word of the pcg4d input `[seed_lo, seed_hi, stream, counter]`: for a
/// sequential [`Rng`] the counter is the block number; for the per-sample draws of the data
/// kernels (colourization, colour jitter) the hash of `[seed_lo, seed_hi, stream, epoch]` is the
/// key from which every sample's words are derived (`pcg4d([K0 ^ index, K1, K2 ^ block, K3])`).
/// Two purposes with different ids never see the same words.
///
/// | id | purpose |
/// | --- | --- |
/// | 0, 1, 2 | colourization of the train, hard and aligned splits ([`crate::data::Split`] as u32) |
/// | 3 | colour jitter of the train split (Task 4, colour consistency) |
/// | 16 | model parameter initialization |
/// | 17 | sparse-autoencoder initialization (Task 6) |
/// | 18 | the random control features of Task 6's colour-only intervention |
/// | 131 072 + e | the shuffle of a sparse autoencoder's epoch e |
/// | 65 536 + e | the shuffle of training epoch e |
pub mod streams {
    /// Colourization of Biased MNIST: split s uses stream `COLORIZE + s` (s = 0, 1, 2).
    pub const COLORIZE: u32 = 0;
    /// Colour jitter (the consistency method's second view).
    pub const JITTER: u32 = 3;
    /// Initialization of a model's parameters.
    pub const INIT: u32 = 16;
    /// First stream of the per-epoch shuffles: epoch e uses `SHUFFLE + e`.
    pub const SHUFFLE: u32 = 1 << 16;
    /// Initialization of a sparse autoencoder (its own stream, so an SAE and the model it
    /// decomposes never share draws).
    pub const SAE_INIT: u32 = 17;
    /// The random features of Task 6's control intervention.
    pub const SAE_CONTROL: u32 = 18;
    /// Initialization of Learning from Failure's biased model (its own stream: the biased and
    /// the debiased model start from different weights, as two models in LfF's code do).
    pub const LFF_BIASED_INIT: u32 = 19;
    /// First stream of a sparse autoencoder's per-epoch shuffles.
    pub const SAE_SHUFFLE: u32 = 1 << 17;

    /// The stream of the shuffle of training epoch `epoch` (0-based).
    pub fn shuffle(epoch: usize) -> u32 {
        SHUFFLE.wrapping_add(epoch as u32)
    }

    /// The per-(seed, epoch) key of a per-sample draw on `stream` (see the table above).
    pub fn key(seed: u64, stream: u32, epoch: u32) -> [u32; 4] {
        super::pcg4d([seed as u32, (seed >> 32) as u32, stream, epoch])
    }
}

/// The pcg4d hash: four 32-bit words in, four well-mixed 32-bit words out.
///
/// ```text
/// v = v * 1664525 + 1013904223            (each lane, a 32-bit LCG step)
/// v.x += v.y*v.w; v.y += v.z*v.x; v.z += v.x*v.y; v.w += v.y*v.z
/// v ^= v >> 16
/// v.x += v.y*v.w; v.y += v.z*v.x; v.z += v.x*v.y; v.w += v.y*v.z
/// ```
pub fn pcg4d(v: [u32; 4]) -> [u32; 4] {
    let mut v = v.map(|x| x.wrapping_mul(1664525).wrapping_add(1013904223));
    mix(&mut v);
    v = v.map(|x| x ^ (x >> 16));
    mix(&mut v);
    v
}

fn mix(v: &mut [u32; 4]) {
    v[0] = v[0].wrapping_add(v[1].wrapping_mul(v[3]));
    v[1] = v[1].wrapping_add(v[2].wrapping_mul(v[0]));
    v[2] = v[2].wrapping_add(v[0].wrapping_mul(v[1]));
    v[3] = v[3].wrapping_add(v[1].wrapping_mul(v[2]));
}

/// Map 32 random bits to a float uniform in [0, 1): the top 24 bits times 2⁻²⁴, so every value
/// is exactly representable and 1.0 is never returned.
pub fn u32_to_unit_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A sequential random stream over the counter-based hash. Cheap to create: make one per purpose
/// (`Rng::new(seed, stream)`), so that adding draws in one place never shifts the draws elsewhere.
#[derive(Clone, Debug)]
pub struct Rng {
    key: [u32; 3],
    counter: u32,
    buf: [u32; 4],
    used: usize,
}

impl Rng {
    /// A stream identified by `(seed, stream)`.
    pub fn new(seed: u64, stream: u32) -> Rng {
        Rng {
            key: [seed as u32, (seed >> 32) as u32, stream],
            counter: 0,
            buf: [0; 4],
            used: 4,
        }
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        if self.used == 4 {
            self.buf = pcg4d([self.key[0], self.key[1], self.key[2], self.counter]);
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let x = self.buf[self.used];
        self.used += 1;
        x
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        u32_to_unit_f32(self.next_u32())
    }

    /// Uniform in [lo, hi).
    pub fn uniform_range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal by the Box–Muller transform: with u1 ∈ (0,1], u2 ∈ [0,1),
    /// z = √(−2 ln u1) · cos(2π u2).
    pub fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; the bias is below 2⁻³² · n).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u32() as u64 * n as u64) >> 32) as usize
    }

    /// A uniformly random permutation of 0..n (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i + 1);
            p.swap(i, j);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_numbers_and_streams_differ() {
        let a: Vec<u32> = (0..10)
            .map(|_| 0)
            .scan(Rng::new(7, 0), |r, _| Some(r.next_u32()))
            .collect();
        let b: Vec<u32> = (0..10)
            .map(|_| 0)
            .scan(Rng::new(7, 0), |r, _| Some(r.next_u32()))
            .collect();
        let c: Vec<u32> = (0..10)
            .map(|_| 0)
            .scan(Rng::new(7, 1), |r, _| Some(r.next_u32()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn uniform_and_normal_have_the_right_moments() {
        let mut r = Rng::new(1, 2);
        let n = 200_000;
        let u: Vec<f32> = (0..n).map(|_| r.uniform()).collect();
        let mean = u.iter().sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.005, "uniform mean {mean}");
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let z: Vec<f64> = (0..n).map(|_| r.normal() as f64).collect();
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(
            m.abs() < 0.01 && (v - 1.0).abs() < 0.02,
            "normal mean {m} var {v}"
        );
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = Rng::new(3, 0).permutation(1000);
        p.sort();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }
}
