//! The small statistics the interpretability measures share: ranks, Pearson and Spearman
//! correlation, normalized entropy, mean and standard deviation.

/// Index of the largest value (the first one on ties; 0 for an empty slice).
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// Ranks 1..=n of `v` (ties get the mean of their ranks, as `scipy.stats.rankdata`).
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        // Positions i..=j hold equal values: each gets the mean rank (i+1 + j+1) / 2.
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = mean_rank;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation; `None` when either side is constant (the correlation is undefined).
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let (ma, mb) = (mean(&a[..n]), mean(&b[..n]));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (da, db) = (a[i] - ma, b[i] - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if saa == 0.0 || sbb == 0.0 {
        return None;
    }
    Some(sab / (saa * sbb).sqrt())
}

/// Spearman's ρ: the Pearson correlation of the ranks.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    pearson(&ranks(a), &ranks(b))
}

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Population standard deviation.
pub fn std_pop(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

/// Median (mean of the two middle values for an even count; NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    percentile(v, 50.0)
}

/// The `p`-th percentile with linear interpolation between order statistics (NumPy's default).
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = p / 100.0 * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Entropy of the distribution `max(v, 0) / Σ max(v, 0)`, divided by ln(n) so it lies in
/// [0, 1] (1: equal weight everywhere). `None` when no value is positive.
pub fn normalized_entropy(v: &[f64]) -> Option<f64> {
    let total: f64 = v.iter().map(|x| x.max(0.0)).sum();
    if total <= 0.0 || v.len() < 2 {
        return None;
    }
    let h: f64 = v
        .iter()
        .map(|x| x.max(0.0) / total)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    Some(h / (v.len() as f64).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties_and_spearman_matches_hand_values() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
        // A monotone but non-linear relation has ρ = 1; a reversed one −1.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.0, 4.0, 9.0, 16.0, 100.0];
        assert!((spearman(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        let c = [5.0, 4.0, 3.0, 2.0, 1.0];
        assert!((spearman(&a, &c).unwrap() + 1.0).abs() < 1e-12);
        // scipy.stats.spearmanr([1,2,3,4,5], [2,1,4,3,5]) = 0.8.
        assert!((spearman(&a, &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(spearman(&a, &[1.0; 5]), None);
    }

    #[test]
    fn entropy_is_one_for_uniform_and_zero_for_one_hot() {
        assert!((normalized_entropy(&[1.0; 10]).unwrap() - 1.0).abs() < 1e-12);
        let mut one_hot = vec![0.0; 10];
        one_hot[4] = 2.0;
        assert_eq!(normalized_entropy(&one_hot), Some(0.0));
        // Negative responses count as zero.
        assert_eq!(normalized_entropy(&[-1.0, 3.0]), Some(0.0));
        assert_eq!(normalized_entropy(&[-1.0, -3.0]), None);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], 75) = 3.25
        assert!((percentile(&[4.0, 1.0, 3.0, 2.0], 75.0) - 3.25).abs() < 1e-12);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }
}

/// The Wilson score interval at 95 % (z = 1.96) for k successes in n trials, as fractions:
/// better behaved than the normal approximation near 0 and 1 and for small n.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.96f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod wilson_tests {
    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels.stats.proportion.proportion_confint(7, 20, method="wilson")
        // = (0.18119, 0.56714)
        let (lo, hi) = super::wilson(7, 20);
        assert!(
            (lo - 0.18119).abs() < 1e-4 && (hi - 0.56714).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = super::wilson(0, 20);
        assert!(lo == 0.0 && (hi - 0.16113).abs() < 1e-4, "{hi}");
    }
}
