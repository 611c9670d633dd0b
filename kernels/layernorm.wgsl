// layernorm.wgsl: two-pass row layer normalization; one row per invocation.
// Order: mean = (sum_j x_j) / C; var = (sum_j (x_j - mean)^2) / C; r = 1 / sqrt(var + eps);
// y_j = ((x_j - mean) * r) * gamma_j + beta_j; sums in column order; sqrt and / are IEEE exact.
// Bindings: 0 uniform Params {rows, cols, eps}, 1 x, 2 gamma, 3 beta, 4 y. Workgroup 64.
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
    for (var j = 0u; j < P.cols; j++) { s = s + x[base + j]; }
    let mean = s / n;
    var v = 0.0;
    for (var j = 0u; j < P.cols; j++) { let d = x[base + j] - mean; v = v + d * d; }
    let rs = 1.0 / sqrt(v / n + P.eps);
    for (var j = 0u; j < P.cols; j++) {
        y[base + j] = ((x[base + j] - mean) * rs) * gamma[j] + beta[j];
    }
}
