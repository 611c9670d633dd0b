// relu4.wgsl: y = max(x, 0) as a select, four elements per invocation (vec4), for sizes that
// are a multiple of 4; per element the operations of unary.wgsl's `relu`, so the same bits.
// Bindings: 0 uniform Params {n4 (vec4 count), cols (unused), stride}, 1 x, 2 y. Workgroup 256,
// 2-D dispatch.
// requires: flush
// Subnormals: the argument is flushed (oasis_ftz4), as in unary.wgsl.
struct Params { n4: u32, cols: u32, stride: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(256)
fn relu4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n4) { return; }
    let v = oasis_ftz4(x[i]);
    y[i] = select(vec4<f32>(0.0), v, v > vec4<f32>(0.0));
}
