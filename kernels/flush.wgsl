// flush.wgsl: the kernels' subnormal policy (explicit flush to zero). Prepended to kernels whose
// header says `// requires: flush` (mathlib requires it too). No bindings.
// Every float a kernel reads from a buffer and every result of + - * / it computes passes
// through oasis_ftz: a value of magnitude below 2^-125 (exponent field 0 or 1: subnormals, +-0
// and [2^-126, 2^-125)) becomes +0. Why 2^-125 and not the smallest normal 2^-126: WebGPU lets
// an engine flush subnormals, and IEEE 754 lets it detect tininess before rounding (SwiftShader
// in Chromium: an exact result just below 2^-126 is flushed to 0) or after (lavapipe, numpy: it
// rounds up to 2^-126 and is kept). For an exact result r with |r| < 2^-126 an engine returns
// +-0, a subnormal or +-2^-126, all below 2^-125, so all flush to +0 here; for |r| >= 2^-126 no
// engine is tiny and every one rounds r to the same normal number, which this rule keeps or
// flushes alike. The test is on the bits, so it does not depend on how the engine compares
// small numbers. Twin: oasis_lab.gpu.mathlib.ftz.
// Written as a signed compare with `<` (the masked bits are non-negative as i32): the unsigned
// `<=` form gave the same bits but cost the wide matmul 10% on lavapipe and 30% on SwiftShader.
fn oasis_ftz(x: f32) -> f32 {
    return select(x, 0.0, (bitcast<i32>(x) & 0x7f800000i) < 0x01000000i);
}

fn oasis_ftz4(x: vec4<f32>) -> vec4<f32> {
    return select(x, vec4<f32>(0.0), (bitcast<vec4<i32>>(x) & vec4<i32>(0x7f800000i)) < vec4<i32>(0x01000000i));
}
