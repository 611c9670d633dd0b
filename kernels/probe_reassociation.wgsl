// probe_reassociation.wgsl: y = ((x * x) * x) * 0.044715 with the constant as a literal (entry
// `literal`) and as a run-time uniform (entry `runtime`). Not used by any model: it measures
// whether the shader compiler applies inexact algebra (accuracy.literal_reassociation_probe).
// Bindings: 0 uniform Params {n, a (f32 bits of 0.044715)}, 1 x, 2 y. Workgroup 256.
struct Params { n: u32, a: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn literal(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= P.n) { return; }
    let v = x[i];
    y[i] = ((v * v) * v) * 0x1.6e4e26p-5f;
}

@compute @workgroup_size(256)
fn runtime(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= P.n) { return; }
    let v = x[i];
    y[i] = ((v * v) * v) * P.a;
}
