//! What an SAE's code says, measured on host vectors: reconstruction quality, sparsity, the
//! per-digit (or per-colour) tables of mean activation, and the per-feature scores SPEC Task 6
//! compares between the lazy and the robust model.
//!
//! Layouts: `x`, `x_hat` are row-major [N, D]; `h` is row-major [N, M].

use serde::{Deserialize, Serialize};

/// Reconstruction and sparsity over a set of samples.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reconstruction {
    /// Mean of (x − x̂)² over samples and units.
    pub mse: f64,
    /// SPEC's formula: 1 − Σⱼ Var(xⱼ − x̂ⱼ) / Σⱼ Var(xⱼ). It subtracts the residual's mean, so a
    /// constant offset in x̂ costs nothing.
    pub explained_variance_spec: f64,
    /// The conventional one: 1 − E‖x − x̂‖² / E‖x − E x‖² (an offset counts as error).
    pub explained_variance: f64,
    /// Mean number of active features (h > 0) per sample.
    pub l0: f64,
    /// l0 / M: the report's "density".
    pub density: f64,
    /// Features never active on these samples.
    pub dead: usize,
    pub samples: usize,
}

/// Reconstruction metrics of `x̂` against `x` (width `d`) and the sparsity of `h` (width `m`).
pub fn reconstruction(x: &[f32], x_hat: &[f32], h: &[f32], d: usize, m: usize) -> Reconstruction {
    let d = d.max(1);
    let n = x.len() / d;
    let mut sq = 0f64;
    let (mut mean_x, mut mean_r) = (vec![0f64; d], vec![0f64; d]);
    for (row, rrow) in x.chunks(d).zip(x_hat.chunks(d)) {
        for j in 0..d {
            let r = (row[j] - rrow[j]) as f64;
            sq += r * r;
            mean_x[j] += row[j] as f64;
            mean_r[j] += r;
        }
    }
    let nf = n.max(1) as f64;
    mean_x.iter_mut().for_each(|v| *v /= nf);
    mean_r.iter_mut().for_each(|v| *v /= nf);
    let (mut var_x, mut var_r) = (0f64, 0f64);
    for (row, rrow) in x.chunks(d).zip(x_hat.chunks(d)) {
        for j in 0..d {
            let r = (row[j] - rrow[j]) as f64;
            var_x += (row[j] as f64 - mean_x[j]).powi(2);
            var_r += (r - mean_r[j]).powi(2);
        }
    }
    let active: usize = h.iter().filter(|&&v| v > 0.0).count();
    let mut alive = vec![false; m];
    for row in h.chunks(m.max(1)) {
        for (a, &v) in alive.iter_mut().zip(row) {
            *a |= v > 0.0;
        }
    }
    let l0 = active as f64 / nf;
    Reconstruction {
        mse: sq / (nf * d.max(1) as f64),
        explained_variance_spec: 1.0 - var_r / var_x,
        explained_variance: 1.0 - sq / var_x,
        l0,
        density: l0 / m.max(1) as f64,
        dead: alive.iter().filter(|&&a| !a).count(),
        samples: n,
    }
}

/// Mean activation of every feature per group (digit or colour): `table[g][j]`. A group with
/// no samples has a row of zeros.
pub fn group_means(h: &[f32], m: usize, groups: &[usize], n_groups: usize) -> Vec<Vec<f32>> {
    let mut sum = vec![vec![0f64; m]; n_groups];
    let mut count = vec![0usize; n_groups];
    for (row, &g) in h.chunks(m.max(1)).zip(groups) {
        count[g] += 1;
        for (s, &v) in sum[g].iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    sum.into_iter()
        .zip(count)
        .map(|(s, c)| {
            s.into_iter()
                .map(|v| (v / c.max(1) as f64) as f32)
                .collect()
        })
        .collect()
}

/// The `k` largest entries of a row: (feature, value), largest first, lower index on ties.
pub fn top_features(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    idx.into_iter().take(k).map(|j| (j, row[j])).collect()
}

/// The `k` features with the largest mean activation over all samples, largest first.
pub fn most_active(h: &[f32], m: usize, k: usize) -> Vec<usize> {
    let mut mean = vec![0f32; m];
    for row in h.chunks(m.max(1)) {
        for (s, &v) in mean.iter_mut().zip(row) {
            *s += v;
        }
    }
    top_features(&mean, k).into_iter().map(|(j, _)| j).collect()
}

/// SPEC's per-feature scores over a group table (`table[g][j]`, e.g. digit means), averaged
/// over the features that are active in some group (a dead feature has no distribution).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeatureScores {
    /// Mean over live features of (max group mean − mean of the other groups) / max group mean:
    /// 1 for a feature that fires for one group only, 0 for one that fires equally for all.
    pub selectivity: f64,
    /// Mean over live features of the entropy (nats) of p_g = mean_g / Σ mean: 0 for one group,
    /// ln G (2.30 for ten) for all equally.
    pub entropy: f64,
    /// How many features have a non-zero mean in some group.
    pub live: usize,
    /// Per feature (NaN for a dead one), for histograms.
    #[serde(deserialize_with = "crate::files::nan::vec_f32")]
    pub per_feature_selectivity: Vec<f32>,
    #[serde(deserialize_with = "crate::files::nan::vec_f32")]
    pub per_feature_entropy: Vec<f32>,
}

/// Selectivity and entropy of every feature of a group table.
pub fn feature_scores(table: &[Vec<f32>]) -> FeatureScores {
    let m = table.first().map_or(0, Vec::len);
    let g = table.len();
    let (mut sel, mut ent) = (vec![f32::NAN; m], vec![f32::NAN; m]);
    for j in 0..m {
        let col: Vec<f64> = table.iter().map(|r| r[j].max(0.0) as f64).collect();
        let total: f64 = col.iter().sum();
        let max = col.iter().cloned().fold(0.0, f64::max);
        if total <= 0.0 || g < 2 {
            continue;
        }
        let others = (total - max) / (g - 1) as f64;
        sel[j] = ((max - others) / max) as f32;
        ent[j] = -col
            .iter()
            .map(|&v| v / total)
            .filter(|&p| p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f64>() as f32;
    }
    let live: Vec<usize> = (0..m).filter(|&j| sel[j].is_finite()).collect();
    let mean =
        |v: &[f32]| live.iter().map(|&j| v[j] as f64).sum::<f64>() / live.len().max(1) as f64;
    FeatureScores {
        selectivity: mean(&sel),
        entropy: mean(&ent),
        live: live.len(),
        per_feature_selectivity: sel,
        per_feature_entropy: ent,
    }
}

/// For every feature, the share of its activation variance that the group explains — the
/// correlation ratio η² = Σ_g n_g (mean_g − mean)² / Σᵢ (hᵢ − mean)² ∈ [0, 1] (NaN for a
/// feature that never varies). On the hard split, colour and digit are nearly independent, so
/// η² by colour vs η² by digit says which of the two a feature reads.
pub fn eta_squared(h: &[f32], m: usize, groups: &[usize], n_groups: usize) -> Vec<f32> {
    let means = group_means(h, m, groups, n_groups);
    let mut count = vec![0f64; n_groups];
    for &g in groups {
        count[g] += 1.0;
    }
    let n = groups.len().max(1) as f64;
    let mut overall = vec![0f64; m];
    for row in h.chunks(m.max(1)) {
        for (s, &v) in overall.iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    overall.iter_mut().for_each(|v| *v /= n);
    let mut total = vec![0f64; m];
    for row in h.chunks(m.max(1)) {
        for j in 0..m {
            total[j] += (row[j] as f64 - overall[j]).powi(2);
        }
    }
    (0..m)
        .map(|j| {
            let between: f64 = (0..n_groups)
                .map(|g| count[g] * (means[g][j] as f64 - overall[j]).powi(2))
                .sum();
            if total[j] > 0.0 {
                (between / total[j]) as f32
            } else {
                f32::NAN
            }
        })
        .collect()
}

/// What a feature reads, from its η² by colour and by digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reads {
    /// η²(colour) ≥ 0.5 and above η²(digit): colour explains most of its variance.
    Colour,
    /// η²(digit) ≥ 0.5 and above η²(colour).
    Digit,
    /// Neither explains half of its variance.
    Mixed,
    /// Never varies (dead, or the same value on every sample).
    Constant,
}

/// The threshold of [`Reads`]: a group must explain at least half a feature's variance.
pub const READS_THRESHOLD: f32 = 0.5;

/// Classify every feature by what explains its variance.
pub fn reads(eta_colour: &[f32], eta_digit: &[f32]) -> Vec<Reads> {
    eta_colour
        .iter()
        .zip(eta_digit)
        .map(|(&c, &d)| {
            if !c.is_finite() || !d.is_finite() {
                Reads::Constant
            } else if c >= READS_THRESHOLD && c > d {
                Reads::Colour
            } else if d >= READS_THRESHOLD && d > c {
                Reads::Digit
            } else {
                Reads::Mixed
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_reconstruction_explains_everything() {
        let x = [1.0, 2.0, 3.0, 5.0, 0.0, 1.0];
        let h = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0];
        let r = reconstruction(&x, &x, &h, 2, 2);
        assert_eq!(r.mse, 0.0);
        assert_eq!(r.explained_variance, 1.0);
        assert_eq!(r.explained_variance_spec, 1.0);
        assert!((r.l0 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.dead, 1, "feature 1 never fires");
    }

    #[test]
    fn an_offset_costs_only_the_conventional_explained_variance() {
        let x = [0.0, 2.0, 4.0];
        let shifted = [1.0, 3.0, 5.0];
        let r = reconstruction(&x, &shifted, &[1.0; 3], 1, 1);
        assert!((r.explained_variance_spec - 1.0).abs() < 1e-12);
        // Σ(x − x̂)² = 3, Σ(x − x̄)² = 8.
        assert!((r.explained_variance - (1.0 - 3.0 / 8.0)).abs() < 1e-12);
    }

    #[test]
    fn one_hot_feature_is_fully_selective_with_zero_entropy() {
        let mut table = vec![vec![0.0, 1.0]; 10];
        table[3][0] = 2.0;
        let s = feature_scores(&table);
        assert_eq!(s.per_feature_selectivity[0], 1.0);
        assert_eq!(s.per_feature_entropy[0], 0.0);
        assert_eq!(s.per_feature_selectivity[1], 0.0);
        assert!((s.per_feature_entropy[1] as f64 - 10f64.ln()).abs() < 1e-6);
        assert_eq!(s.live, 2);
    }

    #[test]
    fn dead_features_and_empty_groups_are_left_out() {
        // Feature 0 never fires; group 2 has no samples.
        let h = [0.0, 1.0, 0.0, 3.0];
        let t = group_means(&h, 2, &[0, 1], 3);
        assert_eq!(t, vec![vec![0.0, 1.0], vec![0.0, 3.0], vec![0.0, 0.0]]);
        let s = feature_scores(&t);
        assert_eq!(s.live, 1);
        assert!(s.per_feature_selectivity[0].is_nan());
        // Feature 1: max 3, the others' mean (1 + 0) / 2 = 0.5 → (3 − 0.5) / 3.
        assert!((s.selectivity - 2.5 / 3.0).abs() < 1e-6);
        assert_eq!(
            reads(&eta_squared(&h, 2, &[0, 1], 3), &[0.0, 0.0])[0],
            Reads::Constant
        );
    }

    #[test]
    fn eta_squared_separates_the_group_from_noise() {
        // Feature 0 = the group; feature 1 alternates within each group.
        let groups = [0, 0, 1, 1];
        let h = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        let e = eta_squared(&h, 2, &groups, 2);
        assert!((e[0] - 1.0).abs() < 1e-6);
        assert!(e[1].abs() < 1e-6);
        assert_eq!(reads(&e, &[0.0, 0.0]), vec![Reads::Colour, Reads::Mixed]);
    }
}
