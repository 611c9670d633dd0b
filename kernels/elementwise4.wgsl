// elementwise4.wgsl: the cheap elementwise ops of binary.wgsl and unary.wgsl four elements per
// invocation (vec4 loads and stores), for sizes that are a multiple of 4: `add4` (y = x + z)
// and `bias_add4` (bias length a multiple of 4 too); relu4.wgsl is the unary one. Per element
// the same operations as the scalar entries, so the same bits (lanes are independent).
// Bindings: 0 uniform Params {n4 (vec4 count), cols4 (bias vec4 count), stride}, 1 x,
// 2 z or bias, 3 y. Workgroup 256; 2-D dispatch (stride = 256 * workgroups in x).
// requires: flush
// Subnormals: both operands and the sum are flushed (oasis_ftz4), as in binary.wgsl.
struct Params { n4: u32, cols4: u32, stride: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> z: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(256)
fn add4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n4) { return; }
    y[i] = oasis_ftz4(oasis_ftz4(x[i]) + oasis_ftz4(z[i]));
}

@compute @workgroup_size(256)
fn bias_add4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n4) { return; }
    y[i] = oasis_ftz4(oasis_ftz4(x[i]) + oasis_ftz4(z[i % P.cols4]));
}
