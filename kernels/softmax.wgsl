// softmax.wgsl: row softmax with the row maximum subtracted; one row per invocation.
// requires: mathlib
// Order: m = max_j x_j; s = 0; for j = 0..C-1: s = s + exp(x_j - m); y_j = exp(x_j - m) / s.
// (exp is recomputed in the last loop: same inputs, same bits, no scratch buffer.)
// Bindings: 0 uniform Params {rows, cols}, 1 x (rows x cols), 2 y. Workgroup 64.
// Subnormals: inputs, differences, sums and quotients are flushed (oasis_ftz): wide logit ranges
// give subnormal probabilities e / s, which engines that flush would otherwise zero alone.
struct Params { rows: u32, cols: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= P.rows) { return; }
    let base = r * P.cols;
    var m = x[base];
    for (var j = 1u; j < P.cols; j++) { m = max(m, x[base + j]); }
    m = oasis_ftz(m);
    var s = 0.0;
    for (var j = 0u; j < P.cols; j++) {
        s = oasis_ftz(s + oasis_exp(oasis_ftz(oasis_ftz(x[base + j]) - m)));
    }
    for (var j = 0u; j < P.cols; j++) {
        y[base + j] = oasis_ftz(oasis_exp(oasis_ftz(oasis_ftz(x[base + j]) - m)) / s);
    }
}
