// attention.wgsl: causal scaled dot-product attention; one (query row i, head h) per invocation.
// requires: mathlib
// For keys j = 0..i (masked keys are never read):
//   s_j = (sum_{d=0..dh-1} q[i,hd] k[j,hd]) * scale     (scale = 1/sqrt(dh) rounded on the host)
//   m = max_j s_j; l = sum_{j=0..i} exp(s_j - m); out[i,h] = sum_{j=0..i} (exp(s_j - m) / l) v[j,h]
// Scores are recomputed in each of the three passes (same operations, same bits) instead of being
// stored, so any sequence length fits. The output row is accumulated in place: one invocation
// owns it, so there is no race and no atomic.
// Bindings: 0 uniform Params {t, d, heads, scale}, 1 q, 2 k, 3 v (t x d), 4 out. Workgroup 64 x 1.
// Subnormals: inputs and every + - * / result are flushed (oasis_ftz).
struct Params { t: u32, d: u32, heads: u32, scale: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;

fn score(qo: u32, ko: u32, dh: u32) -> f32 {
    var acc = 0.0;
    for (var d = 0u; d < dh; d++) {
        acc = oasis_ftz(acc + oasis_ftz(oasis_ftz(q[qo + d]) * oasis_ftz(k[ko + d])));
    }
    return oasis_ftz(acc * oasis_ftz(P.scale));
}

@compute @workgroup_size(64, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let h = gid.y;
    if (i >= P.t || h >= P.heads) { return; }
    let dh = P.d / P.heads;
    let qo = i * P.d + h * dh;
    var m = score(qo, h * dh, dh);
    for (var j = 1u; j <= i; j++) { m = max(m, score(qo, j * P.d + h * dh, dh)); }
    var l = 0.0;
    for (var j = 0u; j <= i; j++) { l = oasis_ftz(l + oasis_exp(oasis_ftz(score(qo, j * P.d + h * dh, dh) - m))); }
    for (var d = 0u; d < dh; d++) { o[qo + d] = 0.0; }
    for (var j = 0u; j <= i; j++) {
        let p = oasis_ftz(oasis_exp(oasis_ftz(score(qo, j * P.d + h * dh, dh) - m)) / l);
        let vo = j * P.d + h * dh;
        for (var d = 0u; d < dh; d++) { o[qo + d] = oasis_ftz(o[qo + d] + oasis_ftz(p * oasis_ftz(v[vo + d]))); }
    }
}
