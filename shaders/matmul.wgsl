// matmul.wgsl — matmul_fwd_f32: C[m×n] = op(A)·op(B), row-major, op = identity or transpose.
//
// A stored m×k (k×m when trans_a), B stored k×n (n×k when trans_b).
//
// Tiling: a workgroup of 16×16 threads computes a 64×64 tile of C. It walks k in steps of 16:
// all 256 threads cooperatively copy the 64×16 slice of op(A) and the 16×64 slice of op(B) into
// workgroup memory (4 elements each, reading along the stored rows so neighbouring threads read
// neighbouring addresses), then each thread accumulates a 4×4 register micro-tile: rows
// ty + 16·r and columns tx + 16·c (r, c ∈ 0..4). Each C element is one sum over k in ascending
// order: deterministic.

struct MatmulArgs {
    m: u32,
    n: u32,
    k: u32,
    trans_a: u32,
    trans_b: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
};

@group(0) @binding(0) var<uniform> mm: MatmulArgs;
@group(0) @binding(1) var<storage, read> mm_a: array<f32>;
@group(0) @binding(2) var<storage, read> mm_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> mm_c: array<f32>;

const TILE: u32 = 64u;
const TK: u32 = 16u;

// tile_a[kk · 64 + i] = op(A)[row0 + i, k0 + kk];  tile_b[kk · 64 + j] = op(B)[k0 + kk, col0 + j]
var<workgroup> tile_a: array<f32, 1024>;
var<workgroup> tile_b: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn matmul_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let tx = lid3.x;
    let ty = lid3.y;
    var acc: array<f32, 16>;
    for (var q = 0u; q < 16u; q = q + 1u) { acc[q] = 0.0; }
    for (var k0 = 0u; k0 < mm.k; k0 = k0 + TK) {
        for (var r = 0u; r < 4u; r = r + 1u) {
            let e = li + r * 256u;
            // op(A) slice: 64 rows × 16 k
            var i = 0u;
            var kk = 0u;
            if (mm.trans_a == 0u) { kk = e % TK; i = e / TK; } else { i = e % TILE; kk = e / TILE; }
            let gi = row0 + i;
            let gk = k0 + kk;
            var va = 0.0;
            if (gi < mm.m && gk < mm.k) {
                if (mm.trans_a == 0u) { va = mm_a[gi * mm.k + gk]; } else { va = mm_a[gk * mm.m + gi]; }
            }
            tile_a[kk * TILE + i] = va;
            // op(B) slice: 16 k × 64 columns
            var j = 0u;
            var kb = 0u;
            if (mm.trans_b == 0u) { j = e % TILE; kb = e / TILE; } else { kb = e % TK; j = e / TK; }
            let gj = col0 + j;
            let gkb = k0 + kb;
            var vb = 0.0;
            if (gj < mm.n && gkb < mm.k) {
                if (mm.trans_b == 0u) { vb = mm_b[gkb * mm.n + gj]; } else { vb = mm_b[gj * mm.k + gkb]; }
            }
            tile_b[kb * TILE + j] = vb;
        }
        workgroupBarrier();
        let kend = min(TK, mm.k - k0);
        for (var kk = 0u; kk < kend; kk = kk + 1u) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var r = 0u; r < 4u; r = r + 1u) {
                a[r] = tile_a[kk * TILE + ty + 16u * r];
                b[r] = tile_b[kk * TILE + tx + 16u * r];
            }
            for (var r = 0u; r < 4u; r = r + 1u) {
                for (var c = 0u; c < 4u; c = c + 1u) {
                    acc[r * 4u + c] = acc[r * 4u + c] + a[r] * b[c];
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        let gi = row0 + ty + 16u * r;
        for (var c = 0u; c < 4u; c = c + 1u) {
            let gj = col0 + tx + 16u * c;
            if (gi < mm.m && gj < mm.n) {
                mm_c[gi * mm.n + gj] = acc[r * 4u + c];
            }
        }
    }
}
