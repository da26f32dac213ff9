// common.wgsl — prepended to every module (see src/device/wgpu/shaders.rs).
//
// A 1-D kernel runs one thread per element in workgroups of WG threads. When more than 65,535
// workgroups are needed the host folds the grid into two dimensions (x ≤ 65,535, y = rows of
// x groups), so the flat thread index is
//
//     i = (wid.y · nwg.x + wid.x) · WG + lid
//
// and threads with i ≥ n (the tail of the last workgroup) return at once.

const WG: u32 = 256u;

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// A quiet NaN (WGSL has no NaN literal).
fn nan_f32() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

// The counter-based hash of every random draw (src/rng.rs: pcg4d, Jarzynski & Olano 2020), bit
// for bit as the CPU computes it (u32 arithmetic wraps). Used by the data-side kernels
// (colorize, color_jitter) to draw per sample what the CPU draws.
fn mix4(v0: vec4<u32>) -> vec4<u32> {
    var v = v0;
    v.x = v.x + v.y * v.w;
    v.y = v.y + v.z * v.x;
    v.z = v.z + v.x * v.y;
    v.w = v.w + v.y * v.z;
    return v;
}

fn pcg4d(v0: vec4<u32>) -> vec4<u32> {
    var v = v0 * 1664525u + 1013904223u;
    v = mix4(v);
    v = v ^ (v >> vec4<u32>(16u));
    return mix4(v);
}
