// sample.wgsl: one index per row of probs by inverse CDF, randomness fixed by `seed`.
// requires: mathlib
// u = oasis_uniform01(seed, row); c = 0; for j = 0..V-1: c = c + p_j; first j with u < c wins
// (the last column if rounding leaves c <= u). One row per invocation.
// Bindings: 0 uniform Params {rows, cols, seed}, 1 probs (rows x cols), 2 out (i32). Workgroup 64.
// Subnormals: probabilities and running sums are flushed (oasis_ftz).
struct Params { rows: u32, cols: u32, seed: u32, _p0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= P.rows) { return; }
    let u = oasis_uniform01(P.seed, r);
    var c = 0.0;
    var pick = P.cols - 1u;
    for (var j = 0u; j < P.cols; j++) {
        c = oasis_ftz(c + oasis_ftz(probs[r * P.cols + j]));
        if (u < c) { pick = j; break; }
    }
    o[r] = i32(pick);
}
