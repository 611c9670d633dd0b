// matmul_naive.wgsl: c = a @ b, float32, one output element per invocation.
// Summation order (the bitwise contract shared with matmul_blocked and reference.matmul):
// acc = 0; for k = 0..K-1: acc = acc + a[i,k] * b[k,j]   (product rounded, then sum rounded).
// Bindings: 0 uniform Params {m, n, k}, 1 a (m x k), 2 b (k x n), 3 c (m x n), row-major.
// Workgroup 8 x 8 (x = column, y = row).
// requires: flush
// Subnormals: inputs, each product and each sum are flushed (oasis_ftz), as in matmul_blocked.
struct Params { m: u32, n: u32, k: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let row = gid.y;
    if (row >= P.m || col >= P.n) { return; }
    var acc = 0.0;
    for (var kk = 0u; kk < P.k; kk++) {
        acc = oasis_ftz(acc + oasis_ftz(oasis_ftz(a[row * P.k + kk]) * oasis_ftz(b[kk * P.n + col])));
    }
    c[row * P.n + col] = acc;
}
