//! Colour selectivity of a layer's units, read through a forward hook (SPEC Task 2.2–2.4).
//!
//! For each colour c of a list (the palette), a uniform 3×28×28 image of that colour goes
//! through the model; a forward hook on the layer keeps its output, and unit k's response
//! r[k][c] is the mean of that output over the spatial positions (or the unit's value, for a
//! Linear layer). The **colour selectivity index** of a unit is
//!
//! ```text
//! CSI = (max_c r[c] − mean_c r[c]) / (std_c r[c] + 1e-8)        (population std)
//! ```
//!
//! high for a unit that fires for one colour far more than for the others. With n colours it
//! cannot exceed (n − 1)/√(n − 1) = √(n − 1) — 3.0 for the 10 palette colours — reached by a
//! unit that answers one colour only; with the sample std the bound is √(n − 1)·√((n − 1)/n)
//! = 2.85. The **poly score** (the report's) is the normalized entropy of a unit's
//! non-negative colour responses divided by its CSI: < 0.3 strongly monosemantic, < 0.7
//! weakly, else polysemantic.

use super::capture;
use super::stats::{argmax, mean, median, normalized_entropy, percentile, spearman};
use crate::device::Device;
use crate::error::Result;
use crate::nn::Module;
use crate::tensor::Tensor;

/// Uniform 28×28 images, one per colour: [n, 3, 28, 28].
pub fn uniform_images(colors: &[[f32; 3]], device: Device) -> Result<Tensor> {
    let mut pixels = Vec::with_capacity(colors.len() * 3 * 784);
    for rgb in colors {
        for &v in rgb {
            pixels.extend(std::iter::repeat_n(v, 784));
        }
    }
    Tensor::from_vec(pixels, [colors.len(), 3, 28, 28], device)
}

/// Responses `r[unit][image]` of layer `layer` (dotted name) to a batch of images: each unit's
/// output averaged over its positions. The hook is removed before returning.
pub fn unit_responses(model: &dyn Module, layer: &str, x: &Tensor) -> Result<Vec<Vec<f32>>> {
    let (_, out) = capture::layer_output(model, layer, x)?;
    capture::channel_means(&out)
}

/// Responses `r[unit][colour]` of layer `layer` to uniform images of each of `colors`.
pub fn channel_color_responses(
    model: &dyn Module,
    layer: &str,
    colors: &[[f32; 3]],
    device: Device,
) -> Result<Vec<Vec<f32>>> {
    unit_responses(model, layer, &uniform_images(colors, device)?)
}

/// CSI = (max − mean) / (std + 1e-8) of one unit's responses (population std).
pub fn csi(responses: &[f32]) -> f32 {
    let n = responses.len().max(1) as f64;
    let mean = responses.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = responses
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let max = responses
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    ((max - mean) / (var.sqrt() + 1e-8)) as f32
}

/// The largest CSI possible over `n` colours: (population-std bound, sample-std bound).
pub fn csi_bound(n: usize) -> (f64, f64) {
    let n = n as f64;
    ((n - 1.0).sqrt(), (n - 1.0).sqrt() * ((n - 1.0) / n).sqrt())
}

/// The report's poly score of one unit, `None` when no response is positive (a silent unit
/// has no colour distribution) — and +∞ when its CSI is not positive.
pub fn poly_score(responses: &[f32]) -> Option<f64> {
    let r: Vec<f64> = responses.iter().map(|&x| x as f64).collect();
    let h = normalized_entropy(&r)?;
    let c = csi(responses) as f64;
    Some(if c > 0.0 { h / c } else { f64::INFINITY })
}

/// Rec. 601 luma of an RGB colour (the report's "luminance": cyan 0.70).
pub fn luminance(rgb: [f32; 3]) -> f64 {
    0.299 * rgb[0] as f64 + 0.587 * rgb[1] as f64 + 0.114 * rgb[2] as f64
}

/// Units per poly-score class.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PolyClasses {
    /// poly < 0.3
    pub strongly_monosemantic: usize,
    /// 0.3 ≤ poly < 0.7
    pub weakly_monosemantic: usize,
    /// poly ≥ 0.7
    pub polysemantic: usize,
    /// No positive response to any colour: no score (left out of the three classes).
    pub silent: usize,
}

/// Everything SPEC 2.3 and the poly score report about a layer's units.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct UnitSelectivity {
    pub layer: String,
    /// `responses[unit][colour]`.
    pub responses: Vec<Vec<f32>>,
    #[serde(deserialize_with = "crate::files::nan::vec_f32")]
    pub csi: Vec<f32>,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub csi_mean: f64,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub csi_median: f64,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub csi_min: f64,
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub csi_max: f64,
    /// The 75th percentile; units above it are the specialists.
    #[serde(deserialize_with = "crate::files::nan::f64")]
    pub csi_p75: f64,
    pub specialists: Vec<usize>,
    /// Each unit's favourite colour (index into the colours).
    pub favourite: Vec<usize>,
    /// Units per favourite colour.
    pub favourite_counts: Vec<usize>,
    /// Mean response over units, per colour.
    pub mean_activation: Vec<f64>,
    pub luminance: Vec<f64>,
    /// Spearman ρ (favourite count vs mean activation), over the colours.
    pub rho_count_vs_activation: Option<f64>,
    /// Spearman ρ (favourite count vs luminance).
    pub rho_count_vs_luminance: Option<f64>,
    /// The CSI bound with these colours (population std), and with the sample std.
    pub csi_bound: f64,
    pub csi_bound_sample_std: f64,
    /// Units above the population bound (must be 0: a check on the measurement).
    pub above_bound: usize,
    pub poly: Vec<Option<f64>>,
    pub poly_classes: PolyClasses,
}

impl UnitSelectivity {
    /// Measure layer `layer`'s units on uniform images of `colors`.
    pub fn measure(
        model: &dyn Module,
        layer: &str,
        colors: &[[f32; 3]],
        device: Device,
    ) -> Result<UnitSelectivity> {
        let responses = channel_color_responses(model, layer, colors, device)?;
        Ok(Self::from_responses(layer, responses, colors))
    }

    /// The statistics of given responses `[unit][colour]`.
    pub fn from_responses(layer: &str, responses: Vec<Vec<f32>>, colors: &[[f32; 3]]) -> Self {
        let csis: Vec<f32> = responses.iter().map(|r| csi(r)).collect();
        let c64: Vec<f64> = csis.iter().map(|&c| c as f64).collect();
        let p75 = percentile(&c64, 75.0);
        let favourite: Vec<usize> = responses.iter().map(|r| argmax(r)).collect();
        let mut counts = vec![0usize; colors.len()];
        for &f in &favourite {
            counts[f] += 1;
        }
        let mean_activation: Vec<f64> = (0..colors.len())
            .map(|c| mean(&responses.iter().map(|r| r[c] as f64).collect::<Vec<_>>()))
            .collect();
        let lum: Vec<f64> = colors.iter().map(|&c| luminance(c)).collect();
        let counts_f: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let (bound, bound_sample) = csi_bound(colors.len());
        let poly: Vec<Option<f64>> = responses.iter().map(|r| poly_score(r)).collect();
        let mut classes = PolyClasses::default();
        for p in &poly {
            match p {
                None => classes.silent += 1,
                Some(p) if *p < 0.3 => classes.strongly_monosemantic += 1,
                Some(p) if *p < 0.7 => classes.weakly_monosemantic += 1,
                Some(_) => classes.polysemantic += 1,
            }
        }
        UnitSelectivity {
            layer: layer.to_string(),
            csi_mean: mean(&c64),
            csi_median: median(&c64),
            csi_min: c64.iter().copied().fold(f64::INFINITY, f64::min),
            csi_max: c64.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            csi_p75: p75,
            specialists: (0..csis.len()).filter(|&k| c64[k] > p75).collect(),
            favourite,
            rho_count_vs_activation: spearman(&counts_f, &mean_activation),
            rho_count_vs_luminance: spearman(&counts_f, &lum),
            favourite_counts: counts,
            mean_activation,
            luminance: lum,
            csi_bound: bound,
            csi_bound_sample_std: bound_sample,
            above_bound: c64.iter().filter(|&&c| c > bound + 1e-4).count(),
            csi: csis,
            responses,
            poly,
            poly_classes: classes,
        }
    }

    /// The `k` units of highest CSI, most selective first.
    pub fn top(&self, k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.csi.len()).collect();
        order.sort_by(|&a, &b| self.csi[b].total_cmp(&self.csi[a]));
        order.truncate(k);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csi_is_bounded_by_sqrt_n_minus_one_and_zero_for_flat_responses() {
        let mut one_hot = vec![0.0f32; 10];
        one_hot[3] = 1.0;
        assert!((csi(&one_hot) - 3.0).abs() < 1e-4);
        assert!(csi(&[0.5; 10]).abs() < 1e-6);
        let (pop, sample) = csi_bound(10);
        assert!((pop - 3.0).abs() < 1e-12 && (sample - 2.846).abs() < 1e-3);
    }

    #[test]
    fn poly_score_by_hand() {
        // One-hot: entropy 0 → poly 0 (strongly monosemantic).
        let mut one_hot = vec![0.0f32; 10];
        one_hot[2] = 5.0;
        assert_eq!(poly_score(&one_hot), Some(0.0));
        // Two equal colours out of 4: entropy ln2/ln4 = 0.5; mean 0.5, max 1, std 0.5 →
        // CSI = 1 (up to the 1e-8); poly = 0.5.
        let r = [1.0f32, 1.0, 0.0, 0.0];
        assert!((poly_score(&r).unwrap() - 0.5).abs() < 1e-6);
        // Flat: CSI 0 → +∞ (polysemantic); all negative → silent.
        assert_eq!(poly_score(&[1.0; 4]), Some(f64::INFINITY));
        assert_eq!(poly_score(&[-1.0; 4]), None);
        let colors = [
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 1.0, 1.0],
        ];
        let s = UnitSelectivity::from_responses(
            "t",
            vec![r.to_vec(), vec![-1.0; 4], vec![0.0, 0.0, 0.0, 3.0]],
            &colors,
        );
        assert_eq!(s.poly_classes.silent, 1);
        assert_eq!(s.poly_classes.strongly_monosemantic, 1);
        assert_eq!(s.poly_classes.weakly_monosemantic, 1);
        assert_eq!(s.favourite, vec![0, 0, 3]);
        assert_eq!(s.favourite_counts, vec![2, 0, 0, 1]);
        assert_eq!(s.above_bound, 0);
    }
}
