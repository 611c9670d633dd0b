// unary.wgsl: y = f(x) elementwise; entries `relu` (select, +0 for x <= 0), `gelu` and `exp`
// (mathlib).
// requires: mathlib
// Bindings: 0 uniform Params {n, cols (unused), stride, gelu_a, gelu_c}, 1 x, 2 y. Workgroup 256,
// 2-D dispatch. The GELU constants come from the host (mathlib.GELU_A, GELU_C), never literals.
// Subnormals: the argument is flushed (oasis_ftz; in gelu and exp inside mathlib).
struct Params { n: u32, cols: u32, stride: u32, _pad: u32, gelu_a: f32, gelu_c: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn relu(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n) { return; }
    let v = oasis_ftz(x[i]);
    y[i] = select(0.0, v, v > 0.0);
}

@compute @workgroup_size(256)
fn gelu(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n) { return; }
    y[i] = oasis_gelu(x[i], P.gelu_a, P.gelu_c);
}

@compute @workgroup_size(256)
fn exp(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n) { return; }
    y[i] = oasis_exp(x[i]);
}
