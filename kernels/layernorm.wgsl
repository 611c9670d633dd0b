// layernorm.wgsl: two-pass row layer normalization; one row per invocation.
// Order: mean = (sum_j x_j) / C; var = (sum_j (x_j - mean)^2) / C; r = 1 / sqrt(var + eps);
// y_j = ((x_j - mean) * r) * gamma_j + beta_j; sums in column order; sqrt and / are IEEE exact.
// Bindings: 0 uniform Params {rows, cols, eps}, 1 x, 2 gamma, 3 beta, 4 y. Workgroup 64.
// requires: flush
// Subnormals: every input and every + - * / result are flushed (oasis_ftz); sqrt of a normal
// number or zero is never subnormal.
struct Params { rows: u32, cols: u32, eps: f32, _p0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= P.rows) { return; }
    let base = r * P.cols;
    let n = f32(P.cols);
    var s = 0.0;
    for (var j = 0u; j < P.cols; j++) { s = oasis_ftz(s + oasis_ftz(x[base + j])); }
    let mean = oasis_ftz(s / n);
    var v = 0.0;
    for (var j = 0u; j < P.cols; j++) {
        let d = oasis_ftz(oasis_ftz(x[base + j]) - mean);
        v = oasis_ftz(v + oasis_ftz(d * d));
    }
    let rs = oasis_ftz(1.0 / sqrt(oasis_ftz(oasis_ftz(v / n) + oasis_ftz(P.eps))));
    for (var j = 0u; j < P.cols; j++) {
        let d = oasis_ftz(oasis_ftz(x[base + j]) - mean);
        let g = oasis_ftz(oasis_ftz(d * rs) * oasis_ftz(gamma[j]));
        y[base + j] = oasis_ftz(g + oasis_ftz(beta[j]));
    }
}
