//! The report's polysemanticity tests (SPEC Task 2.4) for one unit: does it answer a colour and
//! nothing else? Four probes, each a batch of images through the model with a forward hook on
//! the unit's layer:
//!
//! * **seeds**: maximize the unit from 4 random starts; a colour detector ends at the same
//!   colour every time (we report each run's mean RGB and the largest distance between two);
//! * **intensity**: its favourite colour at 100 %, as a 75 % tint (0.75·c + 0.25), and darkened
//!   to 50 % and 25 % — a colour detector answers "how much of the colour";
//! * **mixtures**: the colour pure, mixed half-and-half with white, with black, and with its
//!   second-favourite colour; the ratio of the pure response to the mixtures' mean;
//! * **placement**: the colour over the whole image, in each quadrant, in the centre, in a
//!   vertical and a horizontal stripe (black elsewhere); the coefficient of variation
//!   std/|mean| of the responses (low: position does not matter).

use super::featviz::{maximize, mean_rgb, AmConfig};
use crate::device::Device;
use crate::error::Result;
use crate::measure::selectivity::unit_responses;
use crate::nn::Module;
use crate::tensor::Tensor;

/// The probes' results for one unit.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PolyTest {
    pub unit: usize,
    pub favourite: usize,
    /// Mean RGB of the image each of the 4 seeds converged to.
    pub seed_colors: Vec<[f32; 3]>,
    /// Largest Euclidean distance between two of them (RGB in [0, 1]; √3 at most).
    #[serde(deserialize_with = "crate::files::nan::f32")]
    pub seed_spread: f32,
    /// (name, response).
    pub intensity: Vec<(String, f32)>,
    pub mixtures: Vec<(String, f32)>,
    /// Pure response / mean of the three mixtures.
    #[serde(deserialize_with = "crate::files::nan::f32")]
    pub mixture_ratio: f32,
    pub placement: Vec<(String, f32)>,
    /// Coefficient of variation of the placement responses.
    #[serde(deserialize_with = "crate::files::nan::f32")]
    pub placement_cv: f32,
    /// The 4 optimized images (CHW), for drawing.
    #[serde(skip)]
    pub seed_images: Vec<Vec<f32>>,
}

/// Run the four probes on `unit` of `layer`, whose favourite and second-favourite colours are
/// `favourite` and `second` (RGB). `cfg` drives the seed probe (image seeds `cfg.seed + s`).
#[allow(clippy::too_many_arguments)]
pub fn poly_test(
    model: &dyn Module,
    layer: &str,
    unit: usize,
    favourite: (usize, [f32; 3]),
    second: [f32; 3],
    cfg: AmConfig,
    device: Device,
) -> Result<PolyTest> {
    let seeds = maximize(model, Some(layer), &[unit; 4], cfg, device)?;
    let seed_images = seeds.image_vecs()?;
    let seed_colors: Vec<[f32; 3]> = seed_images.iter().map(|i| mean_rgb(i)).collect();
    let mut seed_spread = 0.0f32;
    for a in &seed_colors {
        for b in &seed_colors {
            let d = (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f32>().sqrt();
            seed_spread = seed_spread.max(d);
        }
    }
    let c = favourite.1;
    let map = |f: &dyn Fn(f32) -> f32| [f(c[0]), f(c[1]), f(c[2])];
    let intensity_colors = [
        ("100 %", c),
        ("75 % tint", map(&|v| 0.75 * v + 0.25)),
        ("50 %", map(&|v| 0.5 * v)),
        ("25 %", map(&|v| 0.25 * v)),
    ];
    let mix = |o: [f32; 3]| {
        [
            (c[0] + o[0]) / 2.0,
            (c[1] + o[1]) / 2.0,
            (c[2] + o[2]) / 2.0,
        ]
    };
    let mixture_colors = [
        ("pure", c),
        ("+ white", mix([1.0; 3])),
        ("+ black", mix([0.0; 3])),
        ("+ second favourite", mix(second)),
    ];
    let respond = |imgs: Vec<Vec<f32>>| -> Result<Vec<f32>> {
        let n = imgs.len();
        let x = Tensor::from_vec(imgs.concat(), [n, 3, 28, 28], device)?;
        Ok(unit_responses(model, layer, &x)?[unit].clone())
    };
    let named = |names: &[&str], r: Vec<f32>| -> Vec<(String, f32)> {
        names.iter().map(|s| s.to_string()).zip(r).collect()
    };
    let intensity = named(
        &intensity_colors.map(|(n, _)| n),
        respond(
            intensity_colors
                .iter()
                .map(|&(_, c)| patch(c, &|_, _| true))
                .collect(),
        )?,
    );
    let mixtures = named(
        &mixture_colors.map(|(n, _)| n),
        respond(
            mixture_colors
                .iter()
                .map(|&(_, c)| patch(c, &|_, _| true))
                .collect(),
        )?,
    );
    let mixture_mean = mixtures[1..].iter().map(|(_, v)| v).sum::<f32>() / 3.0;
    let regions = placements();
    let placement = named(
        &regions.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        respond(
            regions
                .iter()
                .map(|(_, inside)| patch(c, inside.as_ref()))
                .collect(),
        )?,
    );
    let p: Vec<f64> = placement.iter().map(|(_, v)| *v as f64).collect();
    let m = crate::measure::stats::mean(&p);
    Ok(PolyTest {
        unit,
        favourite: favourite.0,
        seed_colors,
        seed_spread,
        intensity,
        mixture_ratio: mixtures[0].1 / mixture_mean,
        mixtures,
        placement_cv: (crate::measure::stats::std_pop(&p) / m.abs()) as f32,
        placement,
        seed_images,
    })
}

/// Region test of a placement: is pixel (row, column) coloured?
type Region = Box<dyn Fn(usize, usize) -> bool>;

/// The report's placements on a 28×28 image.
fn placements() -> Vec<(&'static str, Region)> {
    vec![
        ("full", Box::new(|_, _| true)),
        ("top-left", Box::new(|r, c| r < 14 && c < 14)),
        ("top-right", Box::new(|r, c| r < 14 && c >= 14)),
        ("bottom-left", Box::new(|r, c| r >= 14 && c < 14)),
        ("bottom-right", Box::new(|r, c| r >= 14 && c >= 14)),
        (
            "centre",
            Box::new(|r, c| (7..21).contains(&r) && (7..21).contains(&c)),
        ),
        ("vertical stripe", Box::new(|_, c| (10..18).contains(&c))),
        ("horizontal stripe", Box::new(|r, _| (10..18).contains(&r))),
    ]
}

/// A CHW image of colour `c` where `inside` holds, black elsewhere.
fn patch(c: [f32; 3], inside: &dyn Fn(usize, usize) -> bool) -> Vec<f32> {
    let mut img = vec![0.0f32; 3 * 784];
    for ch in 0..3 {
        for r in 0..28 {
            for col in 0..28 {
                if inside(r, col) {
                    img[ch * 784 + r * 28 + col] = c[ch];
                }
            }
        }
    }
    img
}
