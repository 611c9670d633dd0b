// matmul_wide.wgsl: c = a @ b, float32, register-blocked wide for CPU adapters (lavapipe).
// Each invocation computes a 16-row x 16-column block (16 rows x 4 vec4: 64 vec4 accumulators);
// workgroup 64 x 1 covers 16 rows x 1024 columns, so the 64 invocations share the rows of a.
// Measured on lavapipe at n = 1024 (GFLOP per CPU-second, interleaved): 8.3 against 5.8 for
// matmul_blocked (8 x 8) and 6.5 for 8 x 16 with 4 k-steps per loop pass; larger blocks gained
// little more (32 x 16: 8.7) and waste more at the edges. No workgroup memory, no barriers.
// Summation order per output element is the one of matmul_naive, bit for bit:
// acc = 0; for k = 0..K-1: acc = acc + a[i,k] * b[k,j]   (vec4 lanes are independent elements).
// Edges: rows past m are read clamped and not written; vec4 columns past n / 4 likewise.
// Bindings: 0 uniform Params {m, n, k}, 1 a (m x k, f32), 2 b (k x n as vec4, n % 4 == 0),
// 3 c (m x n as vec4). Written out (generated), registers rather than arrays, as in
// matmul_blocked.
// requires: flush
// Subnormals: inputs, each product and each sum are flushed (oasis_ftz), as in matmul_naive.
struct Params { m: u32, n: u32, k: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

@compute @workgroup_size(64, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n4 = P.n / 4u;
    let q0 = gid.x * 4u;
    let row0 = gid.y * 16u;
    if (row0 >= P.m || q0 >= n4) { return; }
    let q1 = min(q0 + 1u, n4 - 1u);
    let q2 = min(q0 + 2u, n4 - 1u);
    let q3 = min(q0 + 3u, n4 - 1u);
    let last = P.m - 1u;
    let o0 = min(row0 + 0u, last) * P.k;
    let o1 = min(row0 + 1u, last) * P.k;
    let o2 = min(row0 + 2u, last) * P.k;
    let o3 = min(row0 + 3u, last) * P.k;
    let o4 = min(row0 + 4u, last) * P.k;
    let o5 = min(row0 + 5u, last) * P.k;
    let o6 = min(row0 + 6u, last) * P.k;
    let o7 = min(row0 + 7u, last) * P.k;
    let o8 = min(row0 + 8u, last) * P.k;
    let o9 = min(row0 + 9u, last) * P.k;
    let o10 = min(row0 + 10u, last) * P.k;
    let o11 = min(row0 + 11u, last) * P.k;
    let o12 = min(row0 + 12u, last) * P.k;
    let o13 = min(row0 + 13u, last) * P.k;
    let o14 = min(row0 + 14u, last) * P.k;
    let o15 = min(row0 + 15u, last) * P.k;
    var s0_0 = vec4<f32>(0.0); var s0_1 = vec4<f32>(0.0); var s0_2 = vec4<f32>(0.0); var s0_3 = vec4<f32>(0.0);
    var s1_0 = vec4<f32>(0.0); var s1_1 = vec4<f32>(0.0); var s1_2 = vec4<f32>(0.0); var s1_3 = vec4<f32>(0.0);
    var s2_0 = vec4<f32>(0.0); var s2_1 = vec4<f32>(0.0); var s2_2 = vec4<f32>(0.0); var s2_3 = vec4<f32>(0.0);
    var s3_0 = vec4<f32>(0.0); var s3_1 = vec4<f32>(0.0); var s3_2 = vec4<f32>(0.0); var s3_3 = vec4<f32>(0.0);
    var s4_0 = vec4<f32>(0.0); var s4_1 = vec4<f32>(0.0); var s4_2 = vec4<f32>(0.0); var s4_3 = vec4<f32>(0.0);
    var s5_0 = vec4<f32>(0.0); var s5_1 = vec4<f32>(0.0); var s5_2 = vec4<f32>(0.0); var s5_3 = vec4<f32>(0.0);
    var s6_0 = vec4<f32>(0.0); var s6_1 = vec4<f32>(0.0); var s6_2 = vec4<f32>(0.0); var s6_3 = vec4<f32>(0.0);
    var s7_0 = vec4<f32>(0.0); var s7_1 = vec4<f32>(0.0); var s7_2 = vec4<f32>(0.0); var s7_3 = vec4<f32>(0.0);
    var s8_0 = vec4<f32>(0.0); var s8_1 = vec4<f32>(0.0); var s8_2 = vec4<f32>(0.0); var s8_3 = vec4<f32>(0.0);
    var s9_0 = vec4<f32>(0.0); var s9_1 = vec4<f32>(0.0); var s9_2 = vec4<f32>(0.0); var s9_3 = vec4<f32>(0.0);
    var s10_0 = vec4<f32>(0.0); var s10_1 = vec4<f32>(0.0); var s10_2 = vec4<f32>(0.0); var s10_3 = vec4<f32>(0.0);
    var s11_0 = vec4<f32>(0.0); var s11_1 = vec4<f32>(0.0); var s11_2 = vec4<f32>(0.0); var s11_3 = vec4<f32>(0.0);
    var s12_0 = vec4<f32>(0.0); var s12_1 = vec4<f32>(0.0); var s12_2 = vec4<f32>(0.0); var s12_3 = vec4<f32>(0.0);
    var s13_0 = vec4<f32>(0.0); var s13_1 = vec4<f32>(0.0); var s13_2 = vec4<f32>(0.0); var s13_3 = vec4<f32>(0.0);
    var s14_0 = vec4<f32>(0.0); var s14_1 = vec4<f32>(0.0); var s14_2 = vec4<f32>(0.0); var s14_3 = vec4<f32>(0.0);
    var s15_0 = vec4<f32>(0.0); var s15_1 = vec4<f32>(0.0); var s15_2 = vec4<f32>(0.0); var s15_3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < P.k; kk++) {
        let b0 = oasis_ftz4(b[kk * n4 + q0]);
        let b1 = oasis_ftz4(b[kk * n4 + q1]);
        let b2 = oasis_ftz4(b[kk * n4 + q2]);
        let b3 = oasis_ftz4(b[kk * n4 + q3]);
        let a0 = oasis_ftz(a[o0 + kk]);
        s0_0 = oasis_ftz4(s0_0 + oasis_ftz4(a0 * b0));
        s0_1 = oasis_ftz4(s0_1 + oasis_ftz4(a0 * b1));
        s0_2 = oasis_ftz4(s0_2 + oasis_ftz4(a0 * b2));
        s0_3 = oasis_ftz4(s0_3 + oasis_ftz4(a0 * b3));
        let a1 = oasis_ftz(a[o1 + kk]);
        s1_0 = oasis_ftz4(s1_0 + oasis_ftz4(a1 * b0));
        s1_1 = oasis_ftz4(s1_1 + oasis_ftz4(a1 * b1));
        s1_2 = oasis_ftz4(s1_2 + oasis_ftz4(a1 * b2));
        s1_3 = oasis_ftz4(s1_3 + oasis_ftz4(a1 * b3));
        let a2 = oasis_ftz(a[o2 + kk]);
        s2_0 = oasis_ftz4(s2_0 + oasis_ftz4(a2 * b0));
        s2_1 = oasis_ftz4(s2_1 + oasis_ftz4(a2 * b1));
        s2_2 = oasis_ftz4(s2_2 + oasis_ftz4(a2 * b2));
        s2_3 = oasis_ftz4(s2_3 + oasis_ftz4(a2 * b3));
        let a3 = oasis_ftz(a[o3 + kk]);
        s3_0 = oasis_ftz4(s3_0 + oasis_ftz4(a3 * b0));
        s3_1 = oasis_ftz4(s3_1 + oasis_ftz4(a3 * b1));
        s3_2 = oasis_ftz4(s3_2 + oasis_ftz4(a3 * b2));
        s3_3 = oasis_ftz4(s3_3 + oasis_ftz4(a3 * b3));
        let a4 = oasis_ftz(a[o4 + kk]);
        s4_0 = oasis_ftz4(s4_0 + oasis_ftz4(a4 * b0));
        s4_1 = oasis_ftz4(s4_1 + oasis_ftz4(a4 * b1));
        s4_2 = oasis_ftz4(s4_2 + oasis_ftz4(a4 * b2));
        s4_3 = oasis_ftz4(s4_3 + oasis_ftz4(a4 * b3));
        let a5 = oasis_ftz(a[o5 + kk]);
        s5_0 = oasis_ftz4(s5_0 + oasis_ftz4(a5 * b0));
        s5_1 = oasis_ftz4(s5_1 + oasis_ftz4(a5 * b1));
        s5_2 = oasis_ftz4(s5_2 + oasis_ftz4(a5 * b2));
        s5_3 = oasis_ftz4(s5_3 + oasis_ftz4(a5 * b3));
        let a6 = oasis_ftz(a[o6 + kk]);
        s6_0 = oasis_ftz4(s6_0 + oasis_ftz4(a6 * b0));
        s6_1 = oasis_ftz4(s6_1 + oasis_ftz4(a6 * b1));
        s6_2 = oasis_ftz4(s6_2 + oasis_ftz4(a6 * b2));
        s6_3 = oasis_ftz4(s6_3 + oasis_ftz4(a6 * b3));
        let a7 = oasis_ftz(a[o7 + kk]);
        s7_0 = oasis_ftz4(s7_0 + oasis_ftz4(a7 * b0));
        s7_1 = oasis_ftz4(s7_1 + oasis_ftz4(a7 * b1));
        s7_2 = oasis_ftz4(s7_2 + oasis_ftz4(a7 * b2));
        s7_3 = oasis_ftz4(s7_3 + oasis_ftz4(a7 * b3));
        let a8 = oasis_ftz(a[o8 + kk]);
        s8_0 = oasis_ftz4(s8_0 + oasis_ftz4(a8 * b0));
        s8_1 = oasis_ftz4(s8_1 + oasis_ftz4(a8 * b1));
        s8_2 = oasis_ftz4(s8_2 + oasis_ftz4(a8 * b2));
        s8_3 = oasis_ftz4(s8_3 + oasis_ftz4(a8 * b3));
        let a9 = oasis_ftz(a[o9 + kk]);
        s9_0 = oasis_ftz4(s9_0 + oasis_ftz4(a9 * b0));
        s9_1 = oasis_ftz4(s9_1 + oasis_ftz4(a9 * b1));
        s9_2 = oasis_ftz4(s9_2 + oasis_ftz4(a9 * b2));
        s9_3 = oasis_ftz4(s9_3 + oasis_ftz4(a9 * b3));
        let a10 = oasis_ftz(a[o10 + kk]);
        s10_0 = oasis_ftz4(s10_0 + oasis_ftz4(a10 * b0));
        s10_1 = oasis_ftz4(s10_1 + oasis_ftz4(a10 * b1));
        s10_2 = oasis_ftz4(s10_2 + oasis_ftz4(a10 * b2));
        s10_3 = oasis_ftz4(s10_3 + oasis_ftz4(a10 * b3));
        let a11 = oasis_ftz(a[o11 + kk]);
        s11_0 = oasis_ftz4(s11_0 + oasis_ftz4(a11 * b0));
        s11_1 = oasis_ftz4(s11_1 + oasis_ftz4(a11 * b1));
        s11_2 = oasis_ftz4(s11_2 + oasis_ftz4(a11 * b2));
        s11_3 = oasis_ftz4(s11_3 + oasis_ftz4(a11 * b3));
        let a12 = oasis_ftz(a[o12 + kk]);
        s12_0 = oasis_ftz4(s12_0 + oasis_ftz4(a12 * b0));
        s12_1 = oasis_ftz4(s12_1 + oasis_ftz4(a12 * b1));
        s12_2 = oasis_ftz4(s12_2 + oasis_ftz4(a12 * b2));
        s12_3 = oasis_ftz4(s12_3 + oasis_ftz4(a12 * b3));
        let a13 = oasis_ftz(a[o13 + kk]);
        s13_0 = oasis_ftz4(s13_0 + oasis_ftz4(a13 * b0));
        s13_1 = oasis_ftz4(s13_1 + oasis_ftz4(a13 * b1));
        s13_2 = oasis_ftz4(s13_2 + oasis_ftz4(a13 * b2));
        s13_3 = oasis_ftz4(s13_3 + oasis_ftz4(a13 * b3));
        let a14 = oasis_ftz(a[o14 + kk]);
        s14_0 = oasis_ftz4(s14_0 + oasis_ftz4(a14 * b0));
        s14_1 = oasis_ftz4(s14_1 + oasis_ftz4(a14 * b1));
        s14_2 = oasis_ftz4(s14_2 + oasis_ftz4(a14 * b2));
        s14_3 = oasis_ftz4(s14_3 + oasis_ftz4(a14 * b3));
        let a15 = oasis_ftz(a[o15 + kk]);
        s15_0 = oasis_ftz4(s15_0 + oasis_ftz4(a15 * b0));
        s15_1 = oasis_ftz4(s15_1 + oasis_ftz4(a15 * b1));
        s15_2 = oasis_ftz4(s15_2 + oasis_ftz4(a15 * b2));
        s15_3 = oasis_ftz4(s15_3 + oasis_ftz4(a15 * b3));
    }
    if (row0 + 0u < P.m) {
        let w0 = (row0 + 0u) * n4;
        c[w0 + q0] = s0_0;
        if (q0 + 1u < n4) { c[w0 + q0 + 1u] = s0_1; }
        if (q0 + 2u < n4) { c[w0 + q0 + 2u] = s0_2; }
        if (q0 + 3u < n4) { c[w0 + q0 + 3u] = s0_3; }
    }
    if (row0 + 1u < P.m) {
        let w1 = (row0 + 1u) * n4;
        c[w1 + q0] = s1_0;
        if (q0 + 1u < n4) { c[w1 + q0 + 1u] = s1_1; }
        if (q0 + 2u < n4) { c[w1 + q0 + 2u] = s1_2; }
        if (q0 + 3u < n4) { c[w1 + q0 + 3u] = s1_3; }
    }
    if (row0 + 2u < P.m) {
        let w2 = (row0 + 2u) * n4;
        c[w2 + q0] = s2_0;
        if (q0 + 1u < n4) { c[w2 + q0 + 1u] = s2_1; }
        if (q0 + 2u < n4) { c[w2 + q0 + 2u] = s2_2; }
        if (q0 + 3u < n4) { c[w2 + q0 + 3u] = s2_3; }
    }
    if (row0 + 3u < P.m) {
        let w3 = (row0 + 3u) * n4;
        c[w3 + q0] = s3_0;
        if (q0 + 1u < n4) { c[w3 + q0 + 1u] = s3_1; }
        if (q0 + 2u < n4) { c[w3 + q0 + 2u] = s3_2; }
        if (q0 + 3u < n4) { c[w3 + q0 + 3u] = s3_3; }
    }
    if (row0 + 4u < P.m) {
        let w4 = (row0 + 4u) * n4;
        c[w4 + q0] = s4_0;
        if (q0 + 1u < n4) { c[w4 + q0 + 1u] = s4_1; }
        if (q0 + 2u < n4) { c[w4 + q0 + 2u] = s4_2; }
        if (q0 + 3u < n4) { c[w4 + q0 + 3u] = s4_3; }
    }
    if (row0 + 5u < P.m) {
        let w5 = (row0 + 5u) * n4;
        c[w5 + q0] = s5_0;
        if (q0 + 1u < n4) { c[w5 + q0 + 1u] = s5_1; }
        if (q0 + 2u < n4) { c[w5 + q0 + 2u] = s5_2; }
        if (q0 + 3u < n4) { c[w5 + q0 + 3u] = s5_3; }
    }
    if (row0 + 6u < P.m) {
        let w6 = (row0 + 6u) * n4;
        c[w6 + q0] = s6_0;
        if (q0 + 1u < n4) { c[w6 + q0 + 1u] = s6_1; }
        if (q0 + 2u < n4) { c[w6 + q0 + 2u] = s6_2; }
        if (q0 + 3u < n4) { c[w6 + q0 + 3u] = s6_3; }
    }
    if (row0 + 7u < P.m) {
        let w7 = (row0 + 7u) * n4;
        c[w7 + q0] = s7_0;
        if (q0 + 1u < n4) { c[w7 + q0 + 1u] = s7_1; }
        if (q0 + 2u < n4) { c[w7 + q0 + 2u] = s7_2; }
        if (q0 + 3u < n4) { c[w7 + q0 + 3u] = s7_3; }
    }
    if (row0 + 8u < P.m) {
        let w8 = (row0 + 8u) * n4;
        c[w8 + q0] = s8_0;
        if (q0 + 1u < n4) { c[w8 + q0 + 1u] = s8_1; }
        if (q0 + 2u < n4) { c[w8 + q0 + 2u] = s8_2; }
        if (q0 + 3u < n4) { c[w8 + q0 + 3u] = s8_3; }
    }
    if (row0 + 9u < P.m) {
        let w9 = (row0 + 9u) * n4;
        c[w9 + q0] = s9_0;
        if (q0 + 1u < n4) { c[w9 + q0 + 1u] = s9_1; }
        if (q0 + 2u < n4) { c[w9 + q0 + 2u] = s9_2; }
        if (q0 + 3u < n4) { c[w9 + q0 + 3u] = s9_3; }
    }
    if (row0 + 10u < P.m) {
        let w10 = (row0 + 10u) * n4;
        c[w10 + q0] = s10_0;
        if (q0 + 1u < n4) { c[w10 + q0 + 1u] = s10_1; }
        if (q0 + 2u < n4) { c[w10 + q0 + 2u] = s10_2; }
        if (q0 + 3u < n4) { c[w10 + q0 + 3u] = s10_3; }
    }
    if (row0 + 11u < P.m) {
        let w11 = (row0 + 11u) * n4;
        c[w11 + q0] = s11_0;
        if (q0 + 1u < n4) { c[w11 + q0 + 1u] = s11_1; }
        if (q0 + 2u < n4) { c[w11 + q0 + 2u] = s11_2; }
        if (q0 + 3u < n4) { c[w11 + q0 + 3u] = s11_3; }
    }
    if (row0 + 12u < P.m) {
        let w12 = (row0 + 12u) * n4;
        c[w12 + q0] = s12_0;
        if (q0 + 1u < n4) { c[w12 + q0 + 1u] = s12_1; }
        if (q0 + 2u < n4) { c[w12 + q0 + 2u] = s12_2; }
        if (q0 + 3u < n4) { c[w12 + q0 + 3u] = s12_3; }
    }
    if (row0 + 13u < P.m) {
        let w13 = (row0 + 13u) * n4;
        c[w13 + q0] = s13_0;
        if (q0 + 1u < n4) { c[w13 + q0 + 1u] = s13_1; }
        if (q0 + 2u < n4) { c[w13 + q0 + 2u] = s13_2; }
        if (q0 + 3u < n4) { c[w13 + q0 + 3u] = s13_3; }
    }
    if (row0 + 14u < P.m) {
        let w14 = (row0 + 14u) * n4;
        c[w14 + q0] = s14_0;
        if (q0 + 1u < n4) { c[w14 + q0 + 1u] = s14_1; }
        if (q0 + 2u < n4) { c[w14 + q0 + 2u] = s14_2; }
        if (q0 + 3u < n4) { c[w14 + q0 + 3u] = s14_3; }
    }
    if (row0 + 15u < P.m) {
        let w15 = (row0 + 15u) * n4;
        c[w15 + q0] = s15_0;
        if (q0 + 1u < n4) { c[w15 + q0 + 1u] = s15_1; }
        if (q0 + 2u < n4) { c[w15 + q0 + 2u] = s15_2; }
        if (q0 + 3u < n4) { c[w15 + q0 + 3u] = s15_3; }
    }
}
