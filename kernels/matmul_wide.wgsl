// matmul_wide.wgsl: c = a @ b, float32, register-blocked wider for CPU adapters (lavapipe).
// Each invocation computes an 8-row x 16-column block (8 rows x 4 vec4: 32 vec4 accumulators);
// workgroup 64 x 1 covers 8 rows x 1024 columns, so the 64 invocations share the rows of a.
// The k loop runs 4 steps per pass (fewer loop passes, 4 b loads + 8 a loads per step), then
// the K % 4 remaining steps one by one. No workgroup memory, no barriers.
// Summation order per output element is the one of matmul_naive, bit for bit:
// acc = 0; for k = 0..K-1: acc = acc + a[i,k] * b[k,j]   (vec4 lanes are independent elements).
// Edges: rows past m are read clamped and not written; vec4 columns past n / 4 likewise.
// Bindings: 0 uniform Params {m, n, k}, 1 a (m x k, f32), 2 b (k x n as vec4, n % 4 == 0),
// 3 c (m x n as vec4). Written out by hand (generated): registers, not arrays, as in
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
    let row0 = gid.y * 8u;
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
    var s00 = vec4<f32>(0.0); var s01 = vec4<f32>(0.0); var s02 = vec4<f32>(0.0); var s03 = vec4<f32>(0.0);
    var s10 = vec4<f32>(0.0); var s11 = vec4<f32>(0.0); var s12 = vec4<f32>(0.0); var s13 = vec4<f32>(0.0);
    var s20 = vec4<f32>(0.0); var s21 = vec4<f32>(0.0); var s22 = vec4<f32>(0.0); var s23 = vec4<f32>(0.0);
    var s30 = vec4<f32>(0.0); var s31 = vec4<f32>(0.0); var s32 = vec4<f32>(0.0); var s33 = vec4<f32>(0.0);
    var s40 = vec4<f32>(0.0); var s41 = vec4<f32>(0.0); var s42 = vec4<f32>(0.0); var s43 = vec4<f32>(0.0);
    var s50 = vec4<f32>(0.0); var s51 = vec4<f32>(0.0); var s52 = vec4<f32>(0.0); var s53 = vec4<f32>(0.0);
    var s60 = vec4<f32>(0.0); var s61 = vec4<f32>(0.0); var s62 = vec4<f32>(0.0); var s63 = vec4<f32>(0.0);
    var s70 = vec4<f32>(0.0); var s71 = vec4<f32>(0.0); var s72 = vec4<f32>(0.0); var s73 = vec4<f32>(0.0);
    let k4 = P.k / 4u;
    for (var p = 0u; p < k4; p++) {
        let k0 = p * 4u;
        {
            let b0 = oasis_ftz4(b[k0 * n4 + q0]);
            let b1 = oasis_ftz4(b[k0 * n4 + q1]);
            let b2 = oasis_ftz4(b[k0 * n4 + q2]);
            let b3 = oasis_ftz4(b[k0 * n4 + q3]);
            let a0 = oasis_ftz(a[o0 + k0]);
            s00 = oasis_ftz4(s00 + oasis_ftz4(a0 * b0));
            s01 = oasis_ftz4(s01 + oasis_ftz4(a0 * b1));
            s02 = oasis_ftz4(s02 + oasis_ftz4(a0 * b2));
            s03 = oasis_ftz4(s03 + oasis_ftz4(a0 * b3));
            let a1 = oasis_ftz(a[o1 + k0]);
            s10 = oasis_ftz4(s10 + oasis_ftz4(a1 * b0));
            s11 = oasis_ftz4(s11 + oasis_ftz4(a1 * b1));
            s12 = oasis_ftz4(s12 + oasis_ftz4(a1 * b2));
            s13 = oasis_ftz4(s13 + oasis_ftz4(a1 * b3));
            let a2 = oasis_ftz(a[o2 + k0]);
            s20 = oasis_ftz4(s20 + oasis_ftz4(a2 * b0));
            s21 = oasis_ftz4(s21 + oasis_ftz4(a2 * b1));
            s22 = oasis_ftz4(s22 + oasis_ftz4(a2 * b2));
            s23 = oasis_ftz4(s23 + oasis_ftz4(a2 * b3));
            let a3 = oasis_ftz(a[o3 + k0]);
            s30 = oasis_ftz4(s30 + oasis_ftz4(a3 * b0));
            s31 = oasis_ftz4(s31 + oasis_ftz4(a3 * b1));
            s32 = oasis_ftz4(s32 + oasis_ftz4(a3 * b2));
            s33 = oasis_ftz4(s33 + oasis_ftz4(a3 * b3));
            let a4 = oasis_ftz(a[o4 + k0]);
            s40 = oasis_ftz4(s40 + oasis_ftz4(a4 * b0));
            s41 = oasis_ftz4(s41 + oasis_ftz4(a4 * b1));
            s42 = oasis_ftz4(s42 + oasis_ftz4(a4 * b2));
            s43 = oasis_ftz4(s43 + oasis_ftz4(a4 * b3));
            let a5 = oasis_ftz(a[o5 + k0]);
            s50 = oasis_ftz4(s50 + oasis_ftz4(a5 * b0));
            s51 = oasis_ftz4(s51 + oasis_ftz4(a5 * b1));
            s52 = oasis_ftz4(s52 + oasis_ftz4(a5 * b2));
            s53 = oasis_ftz4(s53 + oasis_ftz4(a5 * b3));
            let a6 = oasis_ftz(a[o6 + k0]);
            s60 = oasis_ftz4(s60 + oasis_ftz4(a6 * b0));
            s61 = oasis_ftz4(s61 + oasis_ftz4(a6 * b1));
            s62 = oasis_ftz4(s62 + oasis_ftz4(a6 * b2));
            s63 = oasis_ftz4(s63 + oasis_ftz4(a6 * b3));
            let a7 = oasis_ftz(a[o7 + k0]);
            s70 = oasis_ftz4(s70 + oasis_ftz4(a7 * b0));
            s71 = oasis_ftz4(s71 + oasis_ftz4(a7 * b1));
            s72 = oasis_ftz4(s72 + oasis_ftz4(a7 * b2));
            s73 = oasis_ftz4(s73 + oasis_ftz4(a7 * b3));
        }
        {
            let b0 = oasis_ftz4(b[(k0 + 1u) * n4 + q0]);
            let b1 = oasis_ftz4(b[(k0 + 1u) * n4 + q1]);
            let b2 = oasis_ftz4(b[(k0 + 1u) * n4 + q2]);
            let b3 = oasis_ftz4(b[(k0 + 1u) * n4 + q3]);
            let a0 = oasis_ftz(a[o0 + (k0 + 1u)]);
            s00 = oasis_ftz4(s00 + oasis_ftz4(a0 * b0));
            s01 = oasis_ftz4(s01 + oasis_ftz4(a0 * b1));
            s02 = oasis_ftz4(s02 + oasis_ftz4(a0 * b2));
            s03 = oasis_ftz4(s03 + oasis_ftz4(a0 * b3));
            let a1 = oasis_ftz(a[o1 + (k0 + 1u)]);
            s10 = oasis_ftz4(s10 + oasis_ftz4(a1 * b0));
            s11 = oasis_ftz4(s11 + oasis_ftz4(a1 * b1));
            s12 = oasis_ftz4(s12 + oasis_ftz4(a1 * b2));
            s13 = oasis_ftz4(s13 + oasis_ftz4(a1 * b3));
            let a2 = oasis_ftz(a[o2 + (k0 + 1u)]);
            s20 = oasis_ftz4(s20 + oasis_ftz4(a2 * b0));
            s21 = oasis_ftz4(s21 + oasis_ftz4(a2 * b1));
            s22 = oasis_ftz4(s22 + oasis_ftz4(a2 * b2));
            s23 = oasis_ftz4(s23 + oasis_ftz4(a2 * b3));
            let a3 = oasis_ftz(a[o3 + (k0 + 1u)]);
            s30 = oasis_ftz4(s30 + oasis_ftz4(a3 * b0));
            s31 = oasis_ftz4(s31 + oasis_ftz4(a3 * b1));
            s32 = oasis_ftz4(s32 + oasis_ftz4(a3 * b2));
            s33 = oasis_ftz4(s33 + oasis_ftz4(a3 * b3));
            let a4 = oasis_ftz(a[o4 + (k0 + 1u)]);
            s40 = oasis_ftz4(s40 + oasis_ftz4(a4 * b0));
            s41 = oasis_ftz4(s41 + oasis_ftz4(a4 * b1));
            s42 = oasis_ftz4(s42 + oasis_ftz4(a4 * b2));
            s43 = oasis_ftz4(s43 + oasis_ftz4(a4 * b3));
            let a5 = oasis_ftz(a[o5 + (k0 + 1u)]);
            s50 = oasis_ftz4(s50 + oasis_ftz4(a5 * b0));
            s51 = oasis_ftz4(s51 + oasis_ftz4(a5 * b1));
            s52 = oasis_ftz4(s52 + oasis_ftz4(a5 * b2));
            s53 = oasis_ftz4(s53 + oasis_ftz4(a5 * b3));
            let a6 = oasis_ftz(a[o6 + (k0 + 1u)]);
            s60 = oasis_ftz4(s60 + oasis_ftz4(a6 * b0));
            s61 = oasis_ftz4(s61 + oasis_ftz4(a6 * b1));
            s62 = oasis_ftz4(s62 + oasis_ftz4(a6 * b2));
            s63 = oasis_ftz4(s63 + oasis_ftz4(a6 * b3));
            let a7 = oasis_ftz(a[o7 + (k0 + 1u)]);
            s70 = oasis_ftz4(s70 + oasis_ftz4(a7 * b0));
            s71 = oasis_ftz4(s71 + oasis_ftz4(a7 * b1));
            s72 = oasis_ftz4(s72 + oasis_ftz4(a7 * b2));
            s73 = oasis_ftz4(s73 + oasis_ftz4(a7 * b3));
        }
        {
            let b0 = oasis_ftz4(b[(k0 + 2u) * n4 + q0]);
            let b1 = oasis_ftz4(b[(k0 + 2u) * n4 + q1]);
            let b2 = oasis_ftz4(b[(k0 + 2u) * n4 + q2]);
            let b3 = oasis_ftz4(b[(k0 + 2u) * n4 + q3]);
            let a0 = oasis_ftz(a[o0 + (k0 + 2u)]);
            s00 = oasis_ftz4(s00 + oasis_ftz4(a0 * b0));
            s01 = oasis_ftz4(s01 + oasis_ftz4(a0 * b1));
            s02 = oasis_ftz4(s02 + oasis_ftz4(a0 * b2));
            s03 = oasis_ftz4(s03 + oasis_ftz4(a0 * b3));
            let a1 = oasis_ftz(a[o1 + (k0 + 2u)]);
            s10 = oasis_ftz4(s10 + oasis_ftz4(a1 * b0));
            s11 = oasis_ftz4(s11 + oasis_ftz4(a1 * b1));
            s12 = oasis_ftz4(s12 + oasis_ftz4(a1 * b2));
            s13 = oasis_ftz4(s13 + oasis_ftz4(a1 * b3));
            let a2 = oasis_ftz(a[o2 + (k0 + 2u)]);
            s20 = oasis_ftz4(s20 + oasis_ftz4(a2 * b0));
            s21 = oasis_ftz4(s21 + oasis_ftz4(a2 * b1));
            s22 = oasis_ftz4(s22 + oasis_ftz4(a2 * b2));
            s23 = oasis_ftz4(s23 + oasis_ftz4(a2 * b3));
            let a3 = oasis_ftz(a[o3 + (k0 + 2u)]);
            s30 = oasis_ftz4(s30 + oasis_ftz4(a3 * b0));
            s31 = oasis_ftz4(s31 + oasis_ftz4(a3 * b1));
            s32 = oasis_ftz4(s32 + oasis_ftz4(a3 * b2));
            s33 = oasis_ftz4(s33 + oasis_ftz4(a3 * b3));
            let a4 = oasis_ftz(a[o4 + (k0 + 2u)]);
            s40 = oasis_ftz4(s40 + oasis_ftz4(a4 * b0));
            s41 = oasis_ftz4(s41 + oasis_ftz4(a4 * b1));
            s42 = oasis_ftz4(s42 + oasis_ftz4(a4 * b2));
            s43 = oasis_ftz4(s43 + oasis_ftz4(a4 * b3));
            let a5 = oasis_ftz(a[o5 + (k0 + 2u)]);
            s50 = oasis_ftz4(s50 + oasis_ftz4(a5 * b0));
            s51 = oasis_ftz4(s51 + oasis_ftz4(a5 * b1));
            s52 = oasis_ftz4(s52 + oasis_ftz4(a5 * b2));
            s53 = oasis_ftz4(s53 + oasis_ftz4(a5 * b3));
            let a6 = oasis_ftz(a[o6 + (k0 + 2u)]);
            s60 = oasis_ftz4(s60 + oasis_ftz4(a6 * b0));
            s61 = oasis_ftz4(s61 + oasis_ftz4(a6 * b1));
            s62 = oasis_ftz4(s62 + oasis_ftz4(a6 * b2));
            s63 = oasis_ftz4(s63 + oasis_ftz4(a6 * b3));
            let a7 = oasis_ftz(a[o7 + (k0 + 2u)]);
            s70 = oasis_ftz4(s70 + oasis_ftz4(a7 * b0));
            s71 = oasis_ftz4(s71 + oasis_ftz4(a7 * b1));
            s72 = oasis_ftz4(s72 + oasis_ftz4(a7 * b2));
            s73 = oasis_ftz4(s73 + oasis_ftz4(a7 * b3));
        }
        {
            let b0 = oasis_ftz4(b[(k0 + 3u) * n4 + q0]);
            let b1 = oasis_ftz4(b[(k0 + 3u) * n4 + q1]);
            let b2 = oasis_ftz4(b[(k0 + 3u) * n4 + q2]);
            let b3 = oasis_ftz4(b[(k0 + 3u) * n4 + q3]);
            let a0 = oasis_ftz(a[o0 + (k0 + 3u)]);
            s00 = oasis_ftz4(s00 + oasis_ftz4(a0 * b0));
            s01 = oasis_ftz4(s01 + oasis_ftz4(a0 * b1));
            s02 = oasis_ftz4(s02 + oasis_ftz4(a0 * b2));
            s03 = oasis_ftz4(s03 + oasis_ftz4(a0 * b3));
            let a1 = oasis_ftz(a[o1 + (k0 + 3u)]);
            s10 = oasis_ftz4(s10 + oasis_ftz4(a1 * b0));
            s11 = oasis_ftz4(s11 + oasis_ftz4(a1 * b1));
            s12 = oasis_ftz4(s12 + oasis_ftz4(a1 * b2));
            s13 = oasis_ftz4(s13 + oasis_ftz4(a1 * b3));
            let a2 = oasis_ftz(a[o2 + (k0 + 3u)]);
            s20 = oasis_ftz4(s20 + oasis_ftz4(a2 * b0));
            s21 = oasis_ftz4(s21 + oasis_ftz4(a2 * b1));
            s22 = oasis_ftz4(s22 + oasis_ftz4(a2 * b2));
            s23 = oasis_ftz4(s23 + oasis_ftz4(a2 * b3));
            let a3 = oasis_ftz(a[o3 + (k0 + 3u)]);
            s30 = oasis_ftz4(s30 + oasis_ftz4(a3 * b0));
            s31 = oasis_ftz4(s31 + oasis_ftz4(a3 * b1));
            s32 = oasis_ftz4(s32 + oasis_ftz4(a3 * b2));
            s33 = oasis_ftz4(s33 + oasis_ftz4(a3 * b3));
            let a4 = oasis_ftz(a[o4 + (k0 + 3u)]);
            s40 = oasis_ftz4(s40 + oasis_ftz4(a4 * b0));
            s41 = oasis_ftz4(s41 + oasis_ftz4(a4 * b1));
            s42 = oasis_ftz4(s42 + oasis_ftz4(a4 * b2));
            s43 = oasis_ftz4(s43 + oasis_ftz4(a4 * b3));
            let a5 = oasis_ftz(a[o5 + (k0 + 3u)]);
            s50 = oasis_ftz4(s50 + oasis_ftz4(a5 * b0));
            s51 = oasis_ftz4(s51 + oasis_ftz4(a5 * b1));
            s52 = oasis_ftz4(s52 + oasis_ftz4(a5 * b2));
            s53 = oasis_ftz4(s53 + oasis_ftz4(a5 * b3));
            let a6 = oasis_ftz(a[o6 + (k0 + 3u)]);
            s60 = oasis_ftz4(s60 + oasis_ftz4(a6 * b0));
            s61 = oasis_ftz4(s61 + oasis_ftz4(a6 * b1));
            s62 = oasis_ftz4(s62 + oasis_ftz4(a6 * b2));
            s63 = oasis_ftz4(s63 + oasis_ftz4(a6 * b3));
            let a7 = oasis_ftz(a[o7 + (k0 + 3u)]);
            s70 = oasis_ftz4(s70 + oasis_ftz4(a7 * b0));
            s71 = oasis_ftz4(s71 + oasis_ftz4(a7 * b1));
            s72 = oasis_ftz4(s72 + oasis_ftz4(a7 * b2));
            s73 = oasis_ftz4(s73 + oasis_ftz4(a7 * b3));
        }
    }
    for (var kk = k4 * 4u; kk < P.k; kk++) {
        let b0 = oasis_ftz4(b[kk * n4 + q0]);
        let b1 = oasis_ftz4(b[kk * n4 + q1]);
        let b2 = oasis_ftz4(b[kk * n4 + q2]);
        let b3 = oasis_ftz4(b[kk * n4 + q3]);
        let a0 = oasis_ftz(a[o0 + kk]);
        s00 = oasis_ftz4(s00 + oasis_ftz4(a0 * b0));
        s01 = oasis_ftz4(s01 + oasis_ftz4(a0 * b1));
        s02 = oasis_ftz4(s02 + oasis_ftz4(a0 * b2));
        s03 = oasis_ftz4(s03 + oasis_ftz4(a0 * b3));
        let a1 = oasis_ftz(a[o1 + kk]);
        s10 = oasis_ftz4(s10 + oasis_ftz4(a1 * b0));
        s11 = oasis_ftz4(s11 + oasis_ftz4(a1 * b1));
        s12 = oasis_ftz4(s12 + oasis_ftz4(a1 * b2));
        s13 = oasis_ftz4(s13 + oasis_ftz4(a1 * b3));
        let a2 = oasis_ftz(a[o2 + kk]);
        s20 = oasis_ftz4(s20 + oasis_ftz4(a2 * b0));
        s21 = oasis_ftz4(s21 + oasis_ftz4(a2 * b1));
        s22 = oasis_ftz4(s22 + oasis_ftz4(a2 * b2));
        s23 = oasis_ftz4(s23 + oasis_ftz4(a2 * b3));
        let a3 = oasis_ftz(a[o3 + kk]);
        s30 = oasis_ftz4(s30 + oasis_ftz4(a3 * b0));
        s31 = oasis_ftz4(s31 + oasis_ftz4(a3 * b1));
        s32 = oasis_ftz4(s32 + oasis_ftz4(a3 * b2));
        s33 = oasis_ftz4(s33 + oasis_ftz4(a3 * b3));
        let a4 = oasis_ftz(a[o4 + kk]);
        s40 = oasis_ftz4(s40 + oasis_ftz4(a4 * b0));
        s41 = oasis_ftz4(s41 + oasis_ftz4(a4 * b1));
        s42 = oasis_ftz4(s42 + oasis_ftz4(a4 * b2));
        s43 = oasis_ftz4(s43 + oasis_ftz4(a4 * b3));
        let a5 = oasis_ftz(a[o5 + kk]);
        s50 = oasis_ftz4(s50 + oasis_ftz4(a5 * b0));
        s51 = oasis_ftz4(s51 + oasis_ftz4(a5 * b1));
        s52 = oasis_ftz4(s52 + oasis_ftz4(a5 * b2));
        s53 = oasis_ftz4(s53 + oasis_ftz4(a5 * b3));
        let a6 = oasis_ftz(a[o6 + kk]);
        s60 = oasis_ftz4(s60 + oasis_ftz4(a6 * b0));
        s61 = oasis_ftz4(s61 + oasis_ftz4(a6 * b1));
        s62 = oasis_ftz4(s62 + oasis_ftz4(a6 * b2));
        s63 = oasis_ftz4(s63 + oasis_ftz4(a6 * b3));
        let a7 = oasis_ftz(a[o7 + kk]);
        s70 = oasis_ftz4(s70 + oasis_ftz4(a7 * b0));
        s71 = oasis_ftz4(s71 + oasis_ftz4(a7 * b1));
        s72 = oasis_ftz4(s72 + oasis_ftz4(a7 * b2));
        s73 = oasis_ftz4(s73 + oasis_ftz4(a7 * b3));
    }
    if (row0 + 0u < P.m) {
        let w0 = (row0 + 0u) * n4;
        c[w0 + q0] = s00;
        if (q0 + 1u < n4) { c[w0 + q0 + 1u] = s01; }
        if (q0 + 2u < n4) { c[w0 + q0 + 2u] = s02; }
        if (q0 + 3u < n4) { c[w0 + q0 + 3u] = s03; }
    }
    if (row0 + 1u < P.m) {
        let w1 = (row0 + 1u) * n4;
        c[w1 + q0] = s10;
        if (q0 + 1u < n4) { c[w1 + q0 + 1u] = s11; }
        if (q0 + 2u < n4) { c[w1 + q0 + 2u] = s12; }
        if (q0 + 3u < n4) { c[w1 + q0 + 3u] = s13; }
    }
    if (row0 + 2u < P.m) {
        let w2 = (row0 + 2u) * n4;
        c[w2 + q0] = s20;
        if (q0 + 1u < n4) { c[w2 + q0 + 1u] = s21; }
        if (q0 + 2u < n4) { c[w2 + q0 + 2u] = s22; }
        if (q0 + 3u < n4) { c[w2 + q0 + 3u] = s23; }
    }
    if (row0 + 3u < P.m) {
        let w3 = (row0 + 3u) * n4;
        c[w3 + q0] = s30;
        if (q0 + 1u < n4) { c[w3 + q0 + 1u] = s31; }
        if (q0 + 2u < n4) { c[w3 + q0 + 2u] = s32; }
        if (q0 + 3u < n4) { c[w3 + q0 + 3u] = s33; }
    }
    if (row0 + 4u < P.m) {
        let w4 = (row0 + 4u) * n4;
        c[w4 + q0] = s40;
        if (q0 + 1u < n4) { c[w4 + q0 + 1u] = s41; }
        if (q0 + 2u < n4) { c[w4 + q0 + 2u] = s42; }
        if (q0 + 3u < n4) { c[w4 + q0 + 3u] = s43; }
    }
    if (row0 + 5u < P.m) {
        let w5 = (row0 + 5u) * n4;
        c[w5 + q0] = s50;
        if (q0 + 1u < n4) { c[w5 + q0 + 1u] = s51; }
        if (q0 + 2u < n4) { c[w5 + q0 + 2u] = s52; }
        if (q0 + 3u < n4) { c[w5 + q0 + 3u] = s53; }
    }
    if (row0 + 6u < P.m) {
        let w6 = (row0 + 6u) * n4;
        c[w6 + q0] = s60;
        if (q0 + 1u < n4) { c[w6 + q0 + 1u] = s61; }
        if (q0 + 2u < n4) { c[w6 + q0 + 2u] = s62; }
        if (q0 + 3u < n4) { c[w6 + q0 + 3u] = s63; }
    }
    if (row0 + 7u < P.m) {
        let w7 = (row0 + 7u) * n4;
        c[w7 + q0] = s70;
        if (q0 + 1u < n4) { c[w7 + q0 + 1u] = s71; }
        if (q0 + 2u < n4) { c[w7 + q0 + 2u] = s72; }
        if (q0 + 3u < n4) { c[w7 + q0 + 3u] = s73; }
    }
}
