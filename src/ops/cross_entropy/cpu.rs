//! CPU kernels `cross_entropy_fwd_f32` and `cross_entropy_bwd_f32`, one sample per row.

use crate::device::cpu::take;

/// logsumexp of a row, with the maximum subtracted for stability.
fn logsumexp(row: &[f32]) -> f32 {
    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    m + row.iter().map(|v| (v - m).exp()).sum::<f32>().ln()
}

/// loss[n] = logsumexp(x[n]) − x[n, t[n]]
pub fn cross_entropy_fwd(x: &[f32], t: &[f32], n: usize, c: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let row = &x[i * c..(i + 1) * c];
            logsumexp(row) - row[t[i] as usize]
        })
        .collect()
}

/// dx[n, c] = g[n] · (softmax(x[n])[c] − [c = t[n]])
pub fn cross_entropy_bwd(x: &[f32], t: &[f32], g: &[f32], n: usize, c: usize) -> Vec<f32> {
    let mut dx = take(n * c);
    for i in 0..n {
        let row = &x[i * c..(i + 1) * c];
        let lse = logsumexp(row);
        let d = &mut dx[i * c..(i + 1) * c];
        for (k, (dv, &v)) in d.iter_mut().zip(row).enumerate() {
            let onehot = if k == t[i] as usize { 1.0 } else { 0.0 };
            *dv = g[i] * ((v - lse).exp() - onehot);
        }
    }
    dx
}
