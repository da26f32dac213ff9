//! CPU kernel `matmul_fwd_f32`: a thin wrapper over our packed GEMM (`gemm.rs`).

use crate::device::cpu::take;

use super::gemm;

/// C[m×n] = op(A)·op(B) with row-major operands; see [`gemm::sgemm`] for the layout contract.
pub fn matmul(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> Vec<f32> {
    let mut c = take(m * n); // beta = 0: the GEMM writes every element
    let lda = if trans_a { m } else { k };
    let ldb = if trans_b { k } else { n };
    gemm::sgemm(
        m, n, k, 1.0, a, lda, trans_a, b, ldb, trans_b, 0.0, &mut c, n,
    );
    c
}
