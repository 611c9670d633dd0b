// binary.wgsl: y = x + z elementwise (entry `add`) or y = x + bias broadcast over rows
// (entry `bias_add`); one element per invocation, one rounded add each.
// Bindings: 0 uniform Params {n, cols, stride}, 1 x, 2 z (same shape as x, or bias of `cols`),
// 3 y. Workgroup 256; 2-D dispatch (stride = 256 * workgroups in x) so n may exceed 65535*256.
// requires: flush
// Subnormals: both operands and the sum are flushed (oasis_ftz).
struct Params { n: u32, cols: u32, stride: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n) { return; }
    y[i] = oasis_ftz(oasis_ftz(x[i]) + oasis_ftz(z[i]));
}

@compute @workgroup_size(256)
fn bias_add(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * P.stride + gid.x;
    if (i >= P.n) { return; }
    y[i] = oasis_ftz(oasis_ftz(x[i]) + oasis_ftz(z[i % P.cols]));
}
