//! TEMPORARY naive GEMM (replaced by the packed SIMD kernel).
#![allow(clippy::too_many_arguments)]

pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    sgemm_naive(
        m, n, k, alpha, a, lda, trans_a, b, ldb, trans_b, beta, c, ldc,
    )
}
pub fn sgemm_st(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    sgemm_naive(
        m, n, k, alpha, a, lda, trans_a, b, ldb, trans_b, beta, c, ldc,
    )
}
pub fn sgemm_naive(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                let av = if trans_a {
                    a[p * lda + i]
                } else {
                    a[i * lda + p]
                };
                let bv = if trans_b {
                    b[j * ldb + p]
                } else {
                    b[p * ldb + j]
                };
                s += av as f64 * bv as f64;
            }
            let prev = if beta == 0.0 {
                0.0
            } else {
                beta * c[i * ldc + j]
            };
            c[i * ldc + j] = alpha * s as f32 + prev;
        }
    }
}
