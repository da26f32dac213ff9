// upsample.wgsl — upsample_bilinear2d_fwd_f32 (align_corners = false), one thread per output.
// Along an axis, output o samples the source at s = max((o + 0.5)·in/out − 0.5, 0):
// i0 = min(⌊s⌋, in − 1), i1 = min(i0 + 1, in − 1), weight of i1 = s − i0.

struct UpArgs {
    planes: u32,
    h: u32,
    w: u32,
    out_h: u32,
    out_w: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
};

@group(0) @binding(0) var<uniform> ua: UpArgs;
@group(0) @binding(1) var<storage, read> up_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> up_y: array<f32>;

struct Coord {
    i0: u32,
    i1: u32,
    t: f32,
};

fn coord(o: u32, in_size: u32, out_size: u32) -> Coord {
    let scale = f32(in_size) / f32(out_size);
    let s = max((f32(o) + 0.5) * scale - 0.5, 0.0);
    var c: Coord;
    c.i0 = min(u32(floor(s)), in_size - 1u);
    c.i1 = min(c.i0 + 1u, in_size - 1u);
    c.t = s - f32(c.i0);
    return c;
}

@compute @workgroup_size(256)
fn upsample_bilinear2d_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= ua.planes * ua.out_h * ua.out_w) { return; }
    let ox = i % ua.out_w;
    let oy = (i / ua.out_w) % ua.out_h;
    let p = i / (ua.out_w * ua.out_h);
    let cy = coord(oy, ua.h, ua.out_h);
    let cx = coord(ox, ua.w, ua.out_w);
    let base = p * ua.h * ua.w;
    let top = (1.0 - cx.t) * up_x[base + cy.i0 * ua.w + cx.i0] + cx.t * up_x[base + cy.i0 * ua.w + cx.i1];
    let bot = (1.0 - cx.t) * up_x[base + cy.i1 * ua.w + cx.i0] + cx.t * up_x[base + cy.i1 * ua.w + cx.i1];
    up_y[i] = (1.0 - cy.t) * top + cy.t * bot;
}
