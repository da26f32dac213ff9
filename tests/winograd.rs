//! Winograd convolution (3×3, stride 1, padding 1) against the f64 reference, with the error
//! bound derived below; the CPU op with Winograd forced against finite differences.
//!
//! # The bound
//!
//! Write u = 2⁻²⁴ (f32's unit roundoff) and γ_k = k·u (to first order). For one output
//! element y of tile t, channel o, the Winograd path computes
//!
//! ```text
//! y = Σ_ξ α_ξ · Σ_c U[ξ][o][c] · V[ξ][c][t],   U = G g Gᵀ,  V = Bᵀ d B,  α from Aᵀ · A
//! ```
//!
//! with rounding at four places: V (a two-sided transform: at most 2·(m+2) terms per entry,
//! error ≤ γ_{2(m+2)} · (|Bᵀ| |d| |B|)), U (f64, rounded once: ≤ u · |U|), the GEMM over the C
//! channels (≤ γ_C · Σ_c |U||V|) and the output transform (≤ γ_{2(m+2)} · |Aᵀ| |M| |A|).
//! Every error is a multiple of the same magnitude, the *absolute Winograd sum*
//!
//! ```text
//! T = Σ_c |Aᵀ| ( |G| |g| |Gᵀ|  ⊙  |Bᵀ| |d| |B| ) |A|     (f64, everything in absolute value)
//! ```
//!
//! so |y − y_exact| ≤ (C + 4·(m+2) + 1) · u · T (+ u·|b| for the bias). T is what makes the bound
//! grow with the tile: F(4×4)'s coefficients reach 5 (Bᵀ) and 8 (Aᵀ), so T is ~10–100× the
//! direct sum Σ|w||x| where F(2×2)'s is 2–9×. This is the standard first-order analysis
//! (Higham, *Accuracy and Stability of Numerical Algorithms*, §3) applied to each stage; the test
//! computes T from the same matrices the kernel uses and checks every element.
//!
//! The weight gradient (`winograd::weight_grad`) computes, for each filter tap of (o, c),
//!
//! ```text
//! dW = Gᵀ [ Σ_t (A g_t Aᵀ) ⊙ (Bᵀ d_t B) ] G      (g_t: the m×m output-gradient tile)
//! ```
//!
//! with rounding in the two transforms (≤ γ_{2(m+2)} each, as above), the products, the sum over
//! the tiles of the batch (a GEMM reduction over the tiles of each group, continued across the
//! groups of a part, then the parts added: at most N·tiles + parts additions) and the f64 filter
//! transform (rounded once). So |dW − dW_exact| ≤ (N·tiles + parts + 4·(m+2) + 2) · u · S with
//! the absolute sum
//!
//! ```text
//! S = Σ_t |G|ᵀ ( |A| |g_t| |A|ᵀ  ⊙  |Bᵀ| |d_t| |B| ) |G|
//! ```
//!
//! The reduction length N·tiles makes this bound looser than the forward one (a worst case; the
//! typical error grows like its square root), but a layout or transform mistake gives errors of
//! the order of S itself, far above it.

mod common;

use common::uniform;
use common::winograd_bounds::{absolute_sums, weight_absolute_sums};
use proptest::prelude::*;
use shortcut::autograd::gradcheck::{check_gradients, GradCheck};
use shortcut::autograd::Tape;
use shortcut::ops::conv2d::cpu::{set_algorithm, Algorithm};
use shortcut::ops::conv2d::reference;
use shortcut::ops::conv2d::winograd::{self, Tile};
use shortcut::ops::conv2d::Conv2dArgs;
use shortcut::ops::Conv2dParams;
use shortcut::{Rng, Tensor};
use std::sync::Mutex;

/// The convolution algorithm is a process-wide setting: the tests that force one take turns.
static ALGORITHM: Mutex<()> = Mutex::new(());

fn args(n: usize, c: usize, h: usize, w: usize, o: usize) -> Conv2dArgs {
    let x = shortcut::Shape::from(vec![n, c, h, w]);
    let wt = shortcut::Shape::from(vec![o, c, 3, 3]);
    Conv2dArgs::new(&x, &wt, &Conv2dParams::new(1, 1)).unwrap()
}

fn random(len: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed, 3);
    (0..len)
        .map(|_| scale * rng.uniform_range(-1.0, 1.0))
        .collect()
}

/// Check `got` against `want` (f64 reference) element by element with the header's bound.
fn within_bound(
    got: &[f32],
    want: &[f32],
    t: &[f64],
    c: usize,
    tile: Tile,
    bias: f64,
) -> Result<(), String> {
    within(got, want, t, (c + 4 * tile.a() + 1) as f64, bias)
}

/// `got` against `want` with the bound k·u·T (+ u·|bias|) per element, T from `t`.
fn within(got: &[f32], want: &[f32], t: &[f64], k: f64, bias: f64) -> Result<(), String> {
    let u = 2f64.powi(-24);
    for (i, ((&g, &r), &ti)) in got.iter().zip(want).zip(t).enumerate() {
        let bound = k * u * ti + u * bias + f32::MIN_POSITIVE as f64;
        // the reference itself is rounded to f32 once: half an ulp of |r|
        let err = (g as f64 - r as f64).abs() - u * (r as f64).abs();
        if err > bound {
            return Err(format!(
                "element {i}: {g} vs {r}, error {err:e} > bound {bound:e}"
            ));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn check_forward(
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    scale: f32,
    seed: u64,
    tile: Tile,
) {
    let x = random(n * c * h * w, scale, seed);
    let wt = random(o * c * 9, 1.0, seed + 1);
    let b = random(o, 1.0, seed + 2);
    let a = args(n, c, h, w, o);
    let want = reference::conv2d_fwd(&x, &wt, Some(&b), &a);
    let u = winograd::filter_transform(&wt, o, c, tile);
    let mut got = vec![0.0; n * o * h * w];
    let epi = winograd::Epilogue {
        bias: Some(&b),
        relu: false,
    };
    winograd::conv3x3(&x, n, c, h, w, &u, o, epi, tile, &mut got);
    let t = absolute_sums(&x, &wt, n, c, h, w, o, tile);
    if let Err(e) = within_bound(&got, &want, &t, c, tile, 1.0) {
        panic!("{tile:?} forward n{n} c{c} {h}×{w} o{o} scale {scale}: {e}");
    }
}

fn check_input_gradient(n: usize, c: usize, h: usize, w: usize, o: usize, seed: u64, tile: Tile) {
    let g = random(n * o * h * w, 1.0, seed);
    let wt = random(o * c * 9, 1.0, seed + 1);
    let a = args(n, c, h, w, o);
    let want = reference::conv2d_bwd_input(&g, &wt, &a);
    let flipped = winograd::flipped_filters(&wt, o, c);
    let u = winograd::filter_transform(&flipped, c, o, tile);
    let mut got = vec![0.0; n * c * h * w];
    winograd::conv3x3(&g, n, o, h, w, &u, c, Default::default(), tile, &mut got);
    let t = absolute_sums(&g, &flipped, n, o, h, w, c, tile);
    if let Err(e) = within_bound(&got, &want, &t, o, tile, 0.0) {
        panic!("{tile:?} input gradient n{n} c{c} {h}×{w} o{o}: {e}");
    }
}

fn check_weight_gradient(n: usize, c: usize, h: usize, w: usize, o: usize, seed: u64, tile: Tile) {
    let x = random(n * c * h * w, 1.0, seed);
    let g = random(n * o * h * w, 1.0, seed + 1);
    let a = args(n, c, h, w, o);
    let want = reference::conv2d_bwd_weight(&g, &x, &a);
    let got = winograd::weight_grad(&x, &g, n, c, h, w, o, tile);
    let s = weight_absolute_sums(&x, &g, n, c, h, w, o, tile);
    let tiles = h.div_ceil(tile.m()) * w.div_ceil(tile.m());
    let k = (n * tiles + n.min(4) + 4 * tile.a() + 2) as f64;
    if let Err(e) = within(&got, &want, &s, k, 0.0) {
        panic!("{tile:?} weight gradient n{n} c{c} {h}×{w} o{o}: {e}");
    }
}

#[test]
fn the_weight_gradient_stays_within_its_bound() {
    for tile in [Tile::F2, Tile::F4] {
        // odd and tiny maps, batch 1 and batches split into several parts and groups, channel
        // counts below, at and past the 16 lanes (full, half and ragged lane groups)
        for (n, c, h, w, o) in [
            (1, 1, 1, 1, 1),
            (1, 3, 2, 3, 5),
            (2, 5, 5, 7, 3),
            (5, 17, 7, 7, 9),
            (3, 13, 14, 14, 31),
            (1, 33, 9, 13, 20),
            (9, 16, 6, 6, 16),
        ] {
            check_weight_gradient(n, c, h, w, o, (n * 31 + c * 5 + h) as u64, tile);
        }
    }
}

#[test]
fn the_weight_gradient_is_the_same_with_any_thread_count() {
    // parts and groups are fixed by the shape, so one thread and two give the same bits
    let (n, c, h, w, o) = (12, 20, 9, 9, 18);
    let x = random(n * c * h * w, 1.0, 5);
    let g = random(n * o * h * w, 1.0, 6);
    for tile in [Tile::F2, Tile::F4] {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| winograd::weight_grad(&x, &g, n, c, h, w, o, tile))
        };
        let (one, two) = (run(1), run(2));
        assert!(one
            .iter()
            .zip(&two)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn the_transforms_compute_a_3x3_correlation_exactly() {
    for tile in [Tile::F2, Tile::F4] {
        let (m, a) = (tile.m(), tile.a());
        let mut rng = Rng::new(9, 1);
        for _ in 0..20 {
            let d: Vec<f64> = (0..a * a)
                .map(|_| rng.uniform_range(-1.0, 1.0) as f64)
                .collect();
            let g: Vec<f64> = (0..9)
                .map(|_| rng.uniform_range(-1.0, 1.0) as f64)
                .collect();
            let y = winograd::transform_f64(tile, &d, &g);
            for i in 0..m {
                for j in 0..m {
                    let direct: f64 = (0..3)
                        .flat_map(|ky| (0..3).map(move |kx| (ky, kx)))
                        .map(|(ky, kx)| d[(i + ky) * a + j + kx] * g[ky * 3 + kx])
                        .sum();
                    assert!(
                        (y[i * m + j] - direct).abs() < 1e-12,
                        "{tile:?}: {} vs {direct}",
                        y[i * m + j]
                    );
                }
            }
        }
    }
}

#[test]
fn odd_sizes_batch_one_and_ragged_channels_stay_within_the_bound() {
    for tile in [Tile::F2, Tile::F4] {
        // odd and tiny maps (ragged last tiles, padding on every side), batch 1, channel counts
        // that are not multiples of the SIMD width (8/16) nor of the GEMM's panels
        for (n, c, h, w, o) in [
            (1, 1, 1, 1, 1),
            (1, 3, 2, 3, 5),
            (1, 5, 5, 7, 3),
            (2, 17, 7, 7, 9),
            (3, 13, 14, 14, 31),
            (1, 33, 9, 13, 65),
            (2, 64, 28, 28, 32),
        ] {
            check_forward(n, c, h, w, o, 1.0, (n * 131 + c * 7 + h) as u64, tile);
            check_input_gradient(n, c, h, w, o, (o * 17 + w) as u64, tile);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_shapes_and_magnitudes_stay_within_the_bound(
        n in 1usize..4, c in 1usize..40, o in 1usize..40, h in 1usize..16, w in 1usize..16,
        exponent in -6i32..7, f4 in any::<bool>(), seed in 0u64..10_000,
    ) {
        let tile = if f4 { Tile::F4 } else { Tile::F2 };
        check_forward(n, c, h, w, o, 2f32.powi(exponent), seed, tile);
        check_input_gradient(n, c, h, w, o, seed, tile);
        check_weight_gradient(n, c, h, w, o, seed, tile);
    }
}

/// The op's backward rule with Winograd forced (both passes through it), against finite
/// differences. The checker's rounding allowance (16·u·S/h, see `autograd::gradcheck`) covers
/// the forward pass's error only when that error is a few u·S: true of F(2×2) on these small
/// channel counts (T ≤ 9·S per the bound above, for C ≤ 3 about 2–4·S). F(4×4)'s larger error is
/// checked against the bound above instead, not against finite differences.
#[test]
fn conv2d_with_winograd_passes_the_gradient_check() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    set_algorithm(Algorithm::Winograd(Tile::F2));
    for (n, c, h, w, o, seed) in [(1, 2, 5, 4, 3, 1), (2, 3, 3, 7, 2, 2), (1, 1, 1, 1, 1, 3)] {
        let x = uniform(&[n, c, h, w], -1.0, 1.0, seed);
        let wt = uniform(&[o, c, 3, 3], -1.0, 1.0, seed + 1);
        let b = uniform(&[o], -1.0, 1.0, seed + 2);
        let f = |t: &[Tensor]| t[0].conv2d(&t[1], Some(&t[2]), Conv2dParams::new(1, 1));
        if let Err(e) = check_gradients(f, &[x, wt, b], GradCheck::default()) {
            panic!("{e}");
        }
    }
    set_algorithm(Algorithm::Auto);
}

/// The fused conv + ReLU + 2×2 max pool (its forward through Winograd, forced here: `auto`
/// would take im2col at these channel counts, and the op would be the separate three) against
/// finite differences. A step h = 0.01 of one x, w or b value (all in [−1, 1]) moves each
/// pre-activation by at most 0.01; seeds whose pre-activations come within 0.02 of zero, or
/// whose windows' two largest values within 0.04 of each other, could step across a kink, so
/// they are skipped (at least two seeds are checked).
#[test]
fn conv2d_relu_max_pool_passes_the_gradient_check() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    set_algorithm(Algorithm::Winograd(Tile::F2));
    let (n, c, h, w, o) = (1, 2, 4, 6, 2);
    let margin = 0.02;
    let mut checked = 0;
    for seed in 0..200u64 {
        let x = uniform(&[n, c, h, w], -1.0, 1.0, 3 * seed);
        let wt = uniform(&[o, c, 3, 3], -1.0, 1.0, 3 * seed + 1);
        let b = uniform(&[o], -1.0, 1.0, 3 * seed + 2);
        let z = x.conv2d(&wt, Some(&b), Conv2dParams::new(1, 1)).unwrap();
        let z = z.to_vec().unwrap();
        let clear_of_zero = z.iter().all(|v| v.abs() > margin);
        let clear_ties = (0..n * o * (h / 2) * (w / 2)).all(|k| {
            let (plane, py, px) = (k / ((h / 2) * (w / 2)), k / (w / 2) % (h / 2), k % (w / 2));
            let mut win: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                .iter()
                .map(|(dy, dx)| z[plane * h * w + (2 * py + dy) * w + 2 * px + dx].max(0.0))
                .collect();
            win.sort_by(|a, b| b.total_cmp(a));
            win[0] == 0.0 || win[0] - win[1] > 2.0 * margin
        });
        if !(clear_of_zero && clear_ties) {
            continue;
        }
        let f =
            |t: &[Tensor]| t[0].conv2d_relu_max_pool2d(&t[1], Some(&t[2]), Conv2dParams::new(1, 1));
        // the fused operation itself, not the separate three
        let leaf = wt.detach().requires_grad_(true).unwrap();
        let y = f(&[x.clone(), leaf, b.clone()]).unwrap();
        let ops: Vec<_> = Tape::of(&y).unwrap().entries.iter().map(|e| e.op).collect();
        assert_eq!(ops, ["conv2d_relu_maxpool"]);
        if let Err(e) = check_gradients(f, &[x, wt, b], GradCheck::default()) {
            panic!("seed {seed}: {e}");
        }
        checked += 1;
        if checked == 3 {
            break;
        }
    }
    set_algorithm(Algorithm::Auto);
    assert!(checked >= 2, "only {checked} seeds were clear of the kinks");
}
