//! Colour jitter (`src/ops/color_jitter/`): each adjustment against torchvision's formulas, the
//! draws, and the op composing them. The device kernels are compared with this CPU kernel in
//! `tests/parity_cases` (wgpu and CUDA).
//!
//! Fixture: `tests/fixtures/color_jitter_torchvision.json`, written by
//! `tests/fixtures/color_jitter_torchvision.py` (torchvision 0.26's tensor code transcribed to
//! numpy float32). Tolerances:
//! * brightness, saturation, hue: the same float32 operations in the same order as torchvision,
//!   so equal up to one rounding (2⁻²³ at values ≤ 1; numpy's `mod` may round the hue's wrap
//!   differently from x − ⌊x⌋): 2.4e-7;
//! * contrast: the image mean is summed in another order (our 256-lane tree vs numpy's pairwise
//!   sum): over n = 20 grays ≤ 1 the two sums differ by ≤ n·2⁻²⁴·n, so the mean by ≤ 2.4e-6,
//!   and the blend multiplies that by |1 − f| ≤ 1: 3e-6.

use shortcut::ops::color_jitter::{cpu, permutation, scale_word, ColorJitter, Strengths};
use shortcut::{Device, Tensor};

fn fixture() -> serde_json::Value {
    let text = include_str!("fixtures/color_jitter_torchvision.json");
    serde_json::from_str(text).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn op_id(name: &str) -> u32 {
    ["brightness", "contrast", "saturation", "hue"]
        .iter()
        .position(|&n| n == name)
        .unwrap() as u32
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn each_adjustment_alone_matches_torchvisions_formulas() {
    let fx = fixture();
    let hw = (fx["h"].as_u64().unwrap() * fx["w"].as_u64().unwrap()) as usize;
    let image = floats(&fx["image"]);
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let op = case["op"].as_str().unwrap();
        let f = case["factor"].as_f64().unwrap() as f32;
        let mut img = image.clone();
        cpu::adjust(&mut img, hw, op_id(op), f);
        let tol = if op == "contrast" { 3e-6 } else { 2.4e-7 };
        let d = max_abs_diff(&img, &floats(&case["out"]));
        assert!(d <= tol, "{op} {f}: differs from torchvision by {d}");
    }
}

#[test]
fn four_adjustments_in_a_given_order_match_torchvision() {
    let fx = fixture();
    let hw = (fx["h"].as_u64().unwrap() * fx["w"].as_u64().unwrap()) as usize;
    let mut img = floats(&fx["image"]);
    for op in fx["chain"]["order"].as_array().unwrap() {
        let op = op.as_str().unwrap();
        let f = fx["chain"]["factors"][op].as_f64().unwrap() as f32;
        cpu::adjust(&mut img, hw, op_id(op), f);
    }
    // one contrast step (3e-6), amplified by the later brightness (0.6) and saturation (1.7)
    let d = max_abs_diff(&img, &floats(&fx["chain"]["out"]));
    assert!(d <= 1e-5, "differs from torchvision by {d}");
}

#[test]
fn factor_one_and_zero_hue_are_the_identity() {
    let x: Vec<f32> = (0..3 * 50)
        .map(|i| ((i * 37) % 101) as f32 / 100.0)
        .collect();
    for op in 0..3 {
        let mut img = x.clone();
        cpu::adjust(&mut img, 50, op, 1.0);
        assert_eq!(img, x, "adjustment {op} with factor 1");
    }
    let mut img = x.clone();
    cpu::adjust(&mut img, 50, 3, 0.0);
    // The RGB → HSV → RGB round trip is not exact (in torchvision either): h (|h| ≤ 1) carries
    // ≈ 4 roundings, ≤ 4u (u = 2⁻²⁴), and is multiplied by 6 before its fractional part f is
    // taken, so f is off by ≤ 24u ≈ 1.4e-6, and q, t = v·(1 − s·f), v·(1 − s·(1 − f)) by as much
    // plus their own roundings: 2e-6.
    let d = max_abs_diff(&img, &x);
    assert!(d <= 2e-6, "hue 0 changed a pixel by {d}");
}

#[test]
fn hue_shifts_wrap_around_the_colour_circle() {
    let red = (1.0, 0.0, 0.0);
    assert_eq!(cpu::shift_hue(red.0, red.1, red.2, 0.5), (0.0, 1.0, 1.0));
    assert_eq!(cpu::shift_hue(red.0, red.1, red.2, -0.5), (0.0, 1.0, 1.0));
    // magenta is at hue 5/6; + 1/4 wraps past 1 to 1/12: orange (1, 0.5, 0)
    let (r, g, b) = cpu::shift_hue(1.0, 0.0, 1.0, 0.25);
    assert!((r - 1.0).abs() < 1e-6 && (g - 0.5).abs() < 1e-6 && b.abs() < 1e-6);
    // and − 1/4 from red goes below 0 to 3/4: (0.5, 0, 1), purple
    let (r, g, b) = cpu::shift_hue(1.0, 0.0, 0.0, -0.25);
    assert!((r - 0.5).abs() < 1e-6 && g.abs() < 1e-6 && (b - 1.0).abs() < 1e-6);
    // grey has no hue: unchanged
    assert_eq!(cpu::shift_hue(0.4, 0.4, 0.4, 0.3), (0.4, 0.4, 0.4));
}

#[test]
fn brightness_contrast_and_saturation_follow_their_formulas() {
    // one pixel of an image of two pixels: (0.2, 0.4, 0.6) and (1, 1, 1)
    let img = vec![0.2, 1.0, 0.4, 1.0, 0.6, 1.0];
    let mut b = img.clone();
    cpu::adjust(&mut b, 2, 0, 1.5);
    assert_eq!(b, vec![0.3, 1.0, 0.6, 1.0, 0.90000004, 1.0]);
    let gray = |r: f32, g: f32, b: f32| 0.2989 * r + 0.587 * g + 0.114 * b;
    let mean = (gray(0.2, 0.4, 0.6) + gray(1.0, 1.0, 1.0)) / 2.0;
    let mut c = img.clone();
    cpu::adjust(&mut c, 2, 1, 0.5);
    assert!((c[0] - (0.5 * 0.2 + 0.5 * mean)).abs() < 1e-7);
    let mut s = img.clone();
    cpu::adjust(&mut s, 2, 2, 0.0);
    let l = gray(0.2, 0.4, 0.6);
    assert!([s[0], s[2], s[4]].iter().all(|v| (v - l).abs() < 1e-7));
    // torchvision's weights sum to 0.9999, so white desaturates to 0.9999
    assert!([s[1], s[3], s[5]].iter().all(|v| (v - 0.9999).abs() < 1e-7));
}

#[test]
fn draws_are_pure_functions_of_seed_epoch_and_index_and_cover_every_order() {
    let j = ColorJitter::default();
    let key = ColorJitter::key(3, 4);
    let args = j.args(key, 1, 784);
    assert_eq!(args.draw(17), j.args(key, 9, 100).draw(17));
    assert_ne!(
        args.draw(17),
        j.args(ColorJitter::key(3, 5), 1, 784).draw(17),
        "another epoch draws anew"
    );
    let mut orders = std::collections::HashSet::new();
    let mut extreme = 0;
    let n = 20_000;
    for i in 0..n {
        let d = args.draw(i);
        orders.insert(d.order);
        let s = if d.extreme {
            extreme += 1;
            Strengths::EXTREME
        } else {
            Strengths::SPEC
        };
        let (bl, bh) = ((1.0 - s.brightness).max(0.0), 1.0 + s.brightness);
        assert!((bl..=bh).contains(&d.factors[0]));
        assert!((-s.hue..=s.hue).contains(&d.factors[3]));
        let mut sorted = d.order;
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3]);
    }
    assert_eq!(
        orders.len(),
        24,
        "every order of the four adjustments occurs"
    );
    let frac = extreme as f64 / n as f64;
    assert!((frac - 0.5).abs() < 0.02, "extreme fraction {frac}");
}

#[test]
fn lehmer_codes_and_word_scaling_are_exact() {
    let all: std::collections::HashSet<[u32; 4]> = (0..24).map(permutation).collect();
    assert_eq!(all.len(), 24);
    assert_eq!(permutation(0), [0, 1, 2, 3]);
    assert_eq!(permutation(23), [3, 2, 1, 0]);
    for w in [0u32, 1, 0xffff, 0x1234_5678, 0x8000_0000, u32::MAX] {
        assert_eq!(scale_word(w, 24) as u64, (w as u64 * 24) >> 32);
    }
}

#[test]
fn the_op_applies_each_images_draw_in_its_order_whatever_the_batch() {
    let mut rng = shortcut::Rng::new(9, 9);
    let x = Tensor::rand_uniform([4, 3, 6, 5], 0.0, 1.0, &mut rng, Device::Cpu).unwrap();
    let j = ColorJitter::default();
    let key = ColorJitter::key(1, 0);
    let idx = [5usize, 80, 12, 7];
    let y = x.color_jitter(&j, key, &idx).unwrap().to_vec().unwrap();
    let xs = x.to_vec().unwrap();
    let args = j.args(key, 4, 30);
    for (b, &i) in idx.iter().enumerate() {
        let mut img = xs[b * 90..(b + 1) * 90].to_vec();
        let d = args.draw(i as u32);
        for op in d.order {
            cpu::adjust(&mut img, 30, op, d.factors[op as usize]);
        }
        assert_eq!(&y[b * 90..(b + 1) * 90], &img[..], "image {b}");
    }
    // the same sample in another batch position gets the same jitter
    let x2 = x.index_select(&[2, 0]).unwrap();
    let y2 = x2
        .color_jitter(&j, key, &[12, 5])
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(&y2[..90], &y[180..270]);
    assert_eq!(&y2[90..], &y[..90]);
}

#[test]
fn bad_inputs_are_errors() {
    let x = Tensor::zeros([2, 3, 4, 4], Device::Cpu).unwrap();
    let j = ColorJitter::default();
    let key = ColorJitter::key(0, 0);
    assert!(
        x.color_jitter(&j, key, &[0]).is_err(),
        "one index per image"
    );
    let gray = Tensor::zeros([2, 1, 4, 4], Device::Cpu).unwrap();
    assert!(gray.color_jitter(&j, key, &[0, 1]).is_err(), "RGB only");
    let mut bad = j;
    bad.normal.hue = 0.7;
    assert!(x.color_jitter(&bad, key, &[0, 1]).is_err(), "hue ≤ 0.5");
    bad = j;
    bad.extreme.brightness = f32::NAN;
    assert!(x.color_jitter(&bad, key, &[0, 1]).is_err());
    let leaf = x.requires_grad_(true).unwrap();
    let y = leaf.color_jitter(&j, key, &[0, 1]).unwrap();
    assert!(y.sum_all().unwrap().backward().is_err(), "no backward");
}
