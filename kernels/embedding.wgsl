// embedding.wgsl: out[t, :] = table[ids[t], :] (+ positions[t, :] when has_pos = 1).
// One output element per invocation; ids were range-checked on the host.
// Bindings: 0 uniform Params {t, d, has_pos, stride}, 1 ids (i32), 2 table, 3 positions (a dummy
// when has_pos = 0), 4 out. Workgroup 256, 2-D dispatch.
// requires: flush
// Subnormals: table and position entries and their sum are flushed (oasis_ftz).
struct Params { t: u32, d: u32, has_pos: u32, stride: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = gid.y * P.stride + gid.x;
    if (e >= P.t * P.d) { return; }
    let row = e / P.d;
    let col = e % P.d;
    let w = oasis_ftz(table[u32(ids[row]) * P.d + col]);
    if (P.has_pos == 1u) {
        o[e] = oasis_ftz(w + oasis_ftz(positions[e]));
    } else {
        o[e] = w;
    }
}
