// mathlib.wgsl: transcendentals from + - * / floor bitcast only (no built-in exp/tanh, no fma).
// Prepended to kernels whose header says `// requires: mathlib`. No bindings.
// requires: flush
// Subnormal policy (flush.wgsl): the argument and every + - * / result are flushed (oasis_ftz).
// Mirrored step by step in oasis_lab/gpu/mathlib.py (bitwise twin); constants are exact
// hex-float literals so no compiler rounds a decimal differently.
// Shader compilers may apply "inexact" algebra to SPIR-V float ops (naga emits no NoContraction):
// Mesa's NIR was measured to rewrite (a * b) * constant, changing the rounding. So no expression
// here multiplies a product by a literal: such constants arrive as run-time arguments instead
// (oasis_gelu), and 2^k is applied as two run-time factors (a final doubling y + y of
// y = p * 2^127 was rewritten so that 2^127 * 2 overflowed to inf before multiplying p).

// exp(x): k = floor(x log2e + 1/2); r = (x - k ln2_hi) - k ln2_lo; p = Horner(1/i!, i = 7..0);
// y = (p 2^(k>>1)) 2^(k-(k>>1)), powers of two built by bitcast. 0 when k < -125 (the result
// would be under the flush threshold 2^-125 anyway: never subnormal), inf on overflow.
// Accuracy: <= 1.5 ulp against float64 (1.19 measured above the flush).
fn oasis_exp(x: f32) -> f32 {
    let xc = min(max(oasis_ftz(x), -90.0), 90.0);
    let k = floor(oasis_ftz(oasis_ftz(xc * 0x1.715476p+0f) + 0.5));
    let r = oasis_ftz(oasis_ftz(xc - oasis_ftz(k * 0x1.62e4p-1f)) - oasis_ftz(k * 0x1.7f7d1cp-20f));
    var p = 0x1.a01a02p-13f;
    p = oasis_ftz(oasis_ftz(p * r) + 0x1.6c16c2p-10f);
    p = oasis_ftz(oasis_ftz(p * r) + 0x1.111112p-7f);
    p = oasis_ftz(oasis_ftz(p * r) + 0x1.555556p-5f);
    p = oasis_ftz(oasis_ftz(p * r) + 0x1.555556p-3f);
    p = oasis_ftz(oasis_ftz(p * r) + 0.5);
    p = oasis_ftz(oasis_ftz(p * r) + 1.0);
    p = oasis_ftz(oasis_ftz(p * r) + 1.0);
    // 2^k as two run-time factors 2^(k>>1) 2^(k - (k>>1)), both normal for |k| <= 130, so no
    // branch and no literal: each multiply is exact, or rounds once to +inf on overflow.
    let n = i32(k);
    let n1 = n >> 1u;
    let y = oasis_ftz(oasis_ftz(p * bitcast<f32>(u32(n1 + 127) << 23u)) * bitcast<f32>(u32(n - n1 + 127) << 23u));
    return select(y, 0.0, n < -125);
}

// GELU, tanh approximation in sigmoid form: x sigmoid(t), t = c (x + a x^3), with a = 0.044715
// and c = 2 sqrt(2/pi) passed at run time (as literals the compiler reassociates
// ((x * x) * x) * a). With e = exp(-|t|): x / (1 + e) for t >= 0, (x e) / (1 + e) for t < 0, so
// the divisor stays in [1, 2] and exp never overflows.
fn oasis_gelu(x0: f32, a: f32, c: f32) -> f32 {
    let x = oasis_ftz(x0);
    var t = oasis_ftz(oasis_ftz(oasis_ftz(x * x) * x) * a);
    t = oasis_ftz(oasis_ftz(x + t) * c);
    let e = oasis_exp(-abs(t));
    return oasis_ftz(select(oasis_ftz(x * e), x, t >= 0.0) / oasis_ftz(1.0 + e));
}

// PCG output permutation hash (Jarzynski and Olano 2020), wrapping u32 arithmetic.
fn oasis_pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Uniform float in [0, 1) for stream `seed` at position `index`; both steps exact.
fn oasis_uniform01(seed: u32, index: u32) -> f32 {
    let h = oasis_pcg(index + oasis_pcg(seed));
    return f32(h >> 8u) * 0x1p-24f;
}
