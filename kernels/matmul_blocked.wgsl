// matmul_blocked.wgsl: c = a @ b, float32, register-blocked for CPU adapters and GPUs alike.
// Each invocation computes an 8-row x 8-column block held in 16 vec4 registers; workgroup 8 x 8
// covers 64 x 64 outputs. No workgroup memory and no barriers (barriers are costly on lavapipe).
// Summation order per output element is the one of matmul_naive, bit for bit:
// acc = 0; for k = 0..K-1: acc = acc + a[i,k] * b[k,j]   (vec4 lanes are independent elements).
// Written out by hand: the same loop over `array<vec4<f32>, 8>` registers gave the same bits but ran
// 7-9% slower on lavapipe at n = 1024 (17-18 vs 19 GFLOP/s).
// Bindings: 0 uniform Params {m, n, k}, 1 a (m x k, f32), 2 b (k x n as vec4, n % 4 == 0),
// 3 c (m x n as vec4). Rows past m are read clamped and not written; likewise the second vec4.
// requires: flush
// Subnormals: inputs, each product and each sum are flushed (oasis_ftz), as in matmul_naive.
struct Params { m: u32, n: u32, k: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n4 = P.n / 4u;
    let c0 = gid.x * 2u;
    let row0 = gid.y * 8u;
    if (row0 >= P.m || c0 >= n4) { return; }
    let c1 = min(c0 + 1u, n4 - 1u);
    let last = P.m - 1u;
    let o0 = min(row0 + 0u, last) * P.k;
    let o1 = min(row0 + 1u, last) * P.k;
    let o2 = min(row0 + 2u, last) * P.k;
    let o3 = min(row0 + 3u, last) * P.k;
    let o4 = min(row0 + 4u, last) * P.k;
    let o5 = min(row0 + 5u, last) * P.k;
    let o6 = min(row0 + 6u, last) * P.k;
    let o7 = min(row0 + 7u, last) * P.k;
    var x0 = vec4<f32>(0.0); var y0 = vec4<f32>(0.0);
    var x1 = vec4<f32>(0.0); var y1 = vec4<f32>(0.0);
    var x2 = vec4<f32>(0.0); var y2 = vec4<f32>(0.0);
    var x3 = vec4<f32>(0.0); var y3 = vec4<f32>(0.0);
    var x4 = vec4<f32>(0.0); var y4 = vec4<f32>(0.0);
    var x5 = vec4<f32>(0.0); var y5 = vec4<f32>(0.0);
    var x6 = vec4<f32>(0.0); var y6 = vec4<f32>(0.0);
    var x7 = vec4<f32>(0.0); var y7 = vec4<f32>(0.0);
    for (var kk = 0u; kk < P.k; kk++) {
        let b0 = oasis_ftz4(b[kk * n4 + c0]);
        let b1 = oasis_ftz4(b[kk * n4 + c1]);
        let a0 = oasis_ftz(a[o0 + kk]);
        x0 = oasis_ftz4(x0 + oasis_ftz4(a0 * b0));
        y0 = oasis_ftz4(y0 + oasis_ftz4(a0 * b1));
        let a1 = oasis_ftz(a[o1 + kk]);
        x1 = oasis_ftz4(x1 + oasis_ftz4(a1 * b0));
        y1 = oasis_ftz4(y1 + oasis_ftz4(a1 * b1));
        let a2 = oasis_ftz(a[o2 + kk]);
        x2 = oasis_ftz4(x2 + oasis_ftz4(a2 * b0));
        y2 = oasis_ftz4(y2 + oasis_ftz4(a2 * b1));
        let a3 = oasis_ftz(a[o3 + kk]);
        x3 = oasis_ftz4(x3 + oasis_ftz4(a3 * b0));
        y3 = oasis_ftz4(y3 + oasis_ftz4(a3 * b1));
        let a4 = oasis_ftz(a[o4 + kk]);
        x4 = oasis_ftz4(x4 + oasis_ftz4(a4 * b0));
        y4 = oasis_ftz4(y4 + oasis_ftz4(a4 * b1));
        let a5 = oasis_ftz(a[o5 + kk]);
        x5 = oasis_ftz4(x5 + oasis_ftz4(a5 * b0));
        y5 = oasis_ftz4(y5 + oasis_ftz4(a5 * b1));
        let a6 = oasis_ftz(a[o6 + kk]);
        x6 = oasis_ftz4(x6 + oasis_ftz4(a6 * b0));
        y6 = oasis_ftz4(y6 + oasis_ftz4(a6 * b1));
        let a7 = oasis_ftz(a[o7 + kk]);
        x7 = oasis_ftz4(x7 + oasis_ftz4(a7 * b0));
        y7 = oasis_ftz4(y7 + oasis_ftz4(a7 * b1));
    }
    let second = c0 + 1u < n4;
    if (row0 + 0u < P.m) { c[(row0 + 0u) * n4 + c0] = x0; if (second) { c[(row0 + 0u) * n4 + c0 + 1u] = y0; } }
    if (row0 + 1u < P.m) { c[(row0 + 1u) * n4 + c0] = x1; if (second) { c[(row0 + 1u) * n4 + c0 + 1u] = y1; } }
    if (row0 + 2u < P.m) { c[(row0 + 2u) * n4 + c0] = x2; if (second) { c[(row0 + 2u) * n4 + c0 + 1u] = y2; } }
    if (row0 + 3u < P.m) { c[(row0 + 3u) * n4 + c0] = x3; if (second) { c[(row0 + 3u) * n4 + c0 + 1u] = y3; } }
    if (row0 + 4u < P.m) { c[(row0 + 4u) * n4 + c0] = x4; if (second) { c[(row0 + 4u) * n4 + c0 + 1u] = y4; } }
    if (row0 + 5u < P.m) { c[(row0 + 5u) * n4 + c0] = x5; if (second) { c[(row0 + 5u) * n4 + c0 + 1u] = y5; } }
    if (row0 + 6u < P.m) { c[(row0 + 6u) * n4 + c0] = x6; if (second) { c[(row0 + 6u) * n4 + c0 + 1u] = y6; } }
    if (row0 + 7u < P.m) { c[(row0 + 7u) * n4 + c0] = x7; if (second) { c[(row0 + 7u) * n4 + c0 + 1u] = y7; } }
}
