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
