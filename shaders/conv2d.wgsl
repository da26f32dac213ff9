// conv2d.wgsl — 2-D convolution (cross-correlation), NCHW, as in PyTorch.
//
//   y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · x[n, c, oy·sh − ph + ky, ox·sw − pw + kx]
//
// with x = 0 outside the image. Write P = OH·OW, K = C·KH·KW and flatten (c,ky,kx) into one
// index kk = (c·KH + ky)·KW + kx and (n,oy,ox) into p = n·P + oy·OW + ox. Then the forward pass
// is a GEMM, Y[o, p] = Σ_kk W[o, kk] · X̂[kk, p], where X̂ (the "im2col" matrix) is never stored:
// the tile loader computes each element from x on the fly (an *implicit GEMM*). The weight
// gradient is the same kind of GEMM, dW[o, kk] = Σ_p G[o, p] · X̂[kk, p], split over p into
// `splits` partial sums that a second kernel adds in a fixed order (no atomics: deterministic).
// The input gradient is a gather: every dx element sums the (o, ky, kx) terms that reach it.

struct Conv2dArgs {
    n: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    out_h: u32,
    out_w: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
};

// The launch: the shape, plus has_bias (forward), the K chunk and the split count (weight
// gradient) and the element count of 1-D kernels.
struct ConvLaunch {
    a: Conv2dArgs,
    has_bias: u32,
    k_chunk: u32,
    splits: u32,
    count: u32,
};

@group(0) @binding(0) var<uniform> cv: ConvLaunch;

const TILE: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> tile_a: array<f32, 1024>;
var<workgroup> tile_b: array<f32, 1024>;

// X̂[kk, p] read from `x`-shaped data through a function of the binding each entry uses.
struct Im2col {
    index: u32,
    valid: bool,
};

fn im2col(kk: u32, p: u32) -> Im2col {
    let a = cv.a;
    let khw = a.kh * a.kw;
    let c = kk / khw;
    let r = kk % khw;
    let ky = r / a.kw;
    let kx = r % a.kw;
    let ohw = a.out_h * a.out_w;
    let n = p / ohw;
    let pix = p % ohw;
    let oy = pix / a.out_w;
    let ox = pix % a.out_w;
    let iy = i32(oy * a.stride_h + ky) - i32(a.pad_h);
    let ix = i32(ox * a.stride_w + kx) - i32(a.pad_w);
    var out: Im2col;
    out.valid = iy >= 0 && ix >= 0 && iy < i32(a.h) && ix < i32(a.w);
    out.index = ((n * a.c_in + c) * a.h + u32(max(iy, 0))) * a.w + u32(max(ix, 0));
    return out;
}

// ---------------------------------------------------------------- forward

@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(2) var<storage, read> fw: array<f32>;
@group(0) @binding(3) var<storage, read> fb: array<f32>;
@group(0) @binding(4) var<storage, read_write> fy: array<f32>;

// Workgroup (wid.x, wid.y) computes Y[64·wid.y .. +64, 64·wid.x .. +64]; thread (tx, ty) owns
// rows ty + 16r and columns tx + 16c of the tile (4×4 registers).
@compute @workgroup_size(16, 16)
fn conv2d_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
    let a = cv.a;
    let m = a.c_out;
    let kdim = a.c_in * a.kh * a.kw;
    let ohw = a.out_h * a.out_w;
    let np = a.n * ohw;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let tx = lid3.x;
    let ty = lid3.y;
    var acc: array<f32, 16>;
    for (var q = 0u; q < 16u; q = q + 1u) { acc[q] = 0.0; }
    for (var k0 = 0u; k0 < kdim; k0 = k0 + TK) {
        for (var r = 0u; r < 4u; r = r + 1u) {
            let e = li + r * 256u;
            // W tile: 64 output channels × 16 kk (contiguous along kk)
            let ka = e % TK;
            let ia = e / TK;
            var va = 0.0;
            if (row0 + ia < m && k0 + ka < kdim) { va = fw[(row0 + ia) * kdim + k0 + ka]; }
            tile_a[ka * TILE + ia] = va;
            // X̂ tile: 16 kk × 64 positions (neighbouring threads take neighbouring pixels)
            let jb = e % TILE;
            let kb = e / TILE;
            var vb = 0.0;
            if (col0 + jb < np && k0 + kb < kdim) {
                let src = im2col(k0 + kb, col0 + jb);
                if (src.valid) { vb = fx[src.index]; }
            }
            tile_b[kb * TILE + jb] = vb;
        }
        workgroupBarrier();
        let kend = min(TK, kdim - k0);
        for (var kk = 0u; kk < kend; kk = kk + 1u) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var r = 0u; r < 4u; r = r + 1u) {
                av[r] = tile_a[kk * TILE + ty + 16u * r];
                bv[r] = tile_b[kk * TILE + tx + 16u * r];
            }
            for (var r = 0u; r < 4u; r = r + 1u) {
                for (var c = 0u; c < 4u; c = c + 1u) {
                    acc[r * 4u + c] = acc[r * 4u + c] + av[r] * bv[c];
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        let o = row0 + ty + 16u * r;
        if (o >= m) { continue; }
        var bias = 0.0;
        if (cv.has_bias != 0u) { bias = fb[o]; }
        for (var c = 0u; c < 4u; c = c + 1u) {
            let p = col0 + tx + 16u * c;
            if (p < np) {
                let n = p / ohw;
                let pix = p % ohw;
                fy[(n * m + o) * ohw + pix] = acc[r * 4u + c] + bias;
            }
        }
    }
}

// ---------------------------------------------------------------- input gradient

@group(0) @binding(1) var<storage, read> ig: array<f32>;
@group(0) @binding(2) var<storage, read> iw: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx_out: array<f32>;

// dx[n,c,iy,ix] = Σ_{o,ky,kx} g[n,o,oy,ox] · w[o,c,ky,kx] over the (ky, kx) for which
// oy = (iy + ph − ky) / sh is a whole number in [0, OH) (likewise ox). One thread per dx
// element; order o, ky, kx.
@compute @workgroup_size(256)
fn conv2d_bwd_input_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= cv.count) { return; }
    let a = cv.a;
    let ix = i % a.w;
    let iy = (i / a.w) % a.h;
    let c = (i / (a.w * a.h)) % a.c_in;
    let n = i / (a.w * a.h * a.c_in);
    var s = 0.0;
    for (var o = 0u; o < a.c_out; o = o + 1u) {
        let gbase = (n * a.c_out + o) * a.out_h;
        let wbase = (o * a.c_in + c) * a.kh;
        for (var ky = 0u; ky < a.kh; ky = ky + 1u) {
            let ty = i32(iy + a.pad_h) - i32(ky);
            if (ty < 0 || u32(ty) % a.stride_h != 0u) { continue; }
            let oy = u32(ty) / a.stride_h;
            if (oy >= a.out_h) { continue; }
            for (var kx = 0u; kx < a.kw; kx = kx + 1u) {
                let tx = i32(ix + a.pad_w) - i32(kx);
                if (tx < 0 || u32(tx) % a.stride_w != 0u) { continue; }
                let ox = u32(tx) / a.stride_w;
                if (ox >= a.out_w) { continue; }
                s = s + ig[(gbase + oy) * a.out_w + ox] * iw[(wbase + ky) * a.kw + kx];
            }
        }
    }
    idx_out[i] = s;
}

// ---------------------------------------------------------------- weight gradient

@group(0) @binding(1) var<storage, read> wg_g: array<f32>;
@group(0) @binding(2) var<storage, read> wg_x: array<f32>;
@group(0) @binding(3) var<storage, read_write> wg_part: array<f32>;

// Partial dW over positions p ∈ [z·k_chunk, min((z+1)·k_chunk, N·P)) for split z = wid.z:
// part[z, o, kk] = Σ_p G[o, p] · X̂[kk, p]. Same tiling as the forward pass with M = O,
// N = K (= C·KH·KW), and the GEMM's inner dimension running over positions p.
@compute @workgroup_size(16, 16)
fn conv2d_bwd_weight_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                         @builtin(local_invocation_index) li: u32) {
    let a = cv.a;
    let m = a.c_out;
    let kdim = a.c_in * a.kh * a.kw;
    let ohw = a.out_h * a.out_w;
    let np = a.n * ohw;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let p_begin = wid.z * cv.k_chunk;
    let p_end = min(p_begin + cv.k_chunk, np);
    let tx = lid3.x;
    let ty = lid3.y;
    var acc: array<f32, 16>;
    for (var q = 0u; q < 16u; q = q + 1u) { acc[q] = 0.0; }
    for (var p0 = p_begin; p0 < p_end; p0 = p0 + TK) {
        for (var r = 0u; r < 4u; r = r + 1u) {
            let e = li + r * 256u;
            // G tile: 64 output channels × 16 positions (contiguous along p within an image)
            let pa = e % TK;
            let ia = e / TK;
            var va = 0.0;
            if (row0 + ia < m && p0 + pa < p_end) {
                let p = p0 + pa;
                va = wg_g[((p / ohw) * m + row0 + ia) * ohw + p % ohw];
            }
            tile_a[pa * TILE + ia] = va;
            // X̂ᵀ tile: 16 positions × 64 kk
            let jb = e % TILE;
            let pb = e / TILE;
            var vb = 0.0;
            if (col0 + jb < kdim && p0 + pb < p_end) {
                let src = im2col(col0 + jb, p0 + pb);
                if (src.valid) { vb = wg_x[src.index]; }
            }
            tile_b[pb * TILE + jb] = vb;
        }
        workgroupBarrier();
        let kend = min(TK, p_end - p0);
        for (var kk = 0u; kk < kend; kk = kk + 1u) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var r = 0u; r < 4u; r = r + 1u) {
                av[r] = tile_a[kk * TILE + ty + 16u * r];
                bv[r] = tile_b[kk * TILE + tx + 16u * r];
            }
            for (var r = 0u; r < 4u; r = r + 1u) {
                for (var c = 0u; c < 4u; c = c + 1u) {
                    acc[r * 4u + c] = acc[r * 4u + c] + av[r] * bv[c];
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        let o = row0 + ty + 16u * r;
        for (var c = 0u; c < 4u; c = c + 1u) {
            let kk = col0 + tx + 16u * c;
            if (o < m && kk < kdim) {
                wg_part[(wid.z * m + o) * kdim + kk] = acc[r * 4u + c];
            }
        }
    }
}

@group(0) @binding(1) var<storage, read> rd_part: array<f32>;
@group(0) @binding(2) var<storage, read_write> rd_dw: array<f32>;

// dW[e] = Σ_z part[z, e], z ascending.
@compute @workgroup_size(256)
fn conv2d_bwd_weight_reduce_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                                @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wid, nwg, lid);
    if (e >= cv.count) { return; }
    var s = 0.0;
    for (var z = 0u; z < cv.splits; z = z + 1u) {
        s = s + rd_part[z * cv.count + e];
    }
    rd_dw[e] = s;
}
