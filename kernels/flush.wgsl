// flush.wgsl: the kernels' subnormal policy (explicit flush to zero). Prepended to kernels whose
// header says `// requires: flush` (mathlib requires it too). No bindings.
// WebGPU lets an implementation flush subnormal floats (SwiftShader in Chromium does, on inputs
// and results; lavapipe and numpy keep them), so the bits of any value below 2^-126 would depend
// on the engine. Every float a kernel reads from a buffer and every result of + - * / it computes
// therefore passes through oasis_ftz: a value whose exponent field is zero (a subnormal or +-0)
// becomes +0, on every engine alike (the test is on the bits, so it does not depend on how the
// engine compares subnormals). Twin: oasis_lab.gpu.mathlib.ftz.
fn oasis_ftz(x: f32) -> f32 {
    return select(x, 0.0, (bitcast<u32>(x) & 0x7f800000u) == 0u);
}

fn oasis_ftz4(x: vec4<f32>) -> vec4<f32> {
    return select(x, vec4<f32>(0.0), (bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) == vec4<u32>(0u));
}
