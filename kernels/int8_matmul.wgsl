// int8_matmul.wgsl: int8 x int8 -> int32 matrix product, optionally requantized to int8 (exact).
// a is packed 4 int8 per u32 along k (row-major m x k4), b is packed transposed (n x k4);
// lanes are sign-extended with extractBits. Integer sums are exact in any order: this is the
// portable deterministic mode.
// Requantization (requant = 1): acc += bias[j]; y = clamp((acc * mult + 2^(shift-1)) >> shift,
// lo, 127) computed with 16-bit limbs (WGSL has no 64-bit integers): acc = ah 2^16 + al,
// acc * mult = ph 2^16 + pl, ph = ah mult + (al mult >> 16); for shift >= 17 the result is
// (ph + 2^(shift-17)) >> (shift-16), exactly the 64-bit formula. Needs mult < 2^15, |acc| < 2^31.
// Bindings: 0 uniform Params {m, n, k4, requant, mult, shift, lo}, 1 a, 2 b, 3 bias (i32; a dummy
// when requant = 0), 4 out (i32). Workgroup 8 x 8 (x = column, y = row).
struct Params { m: u32, n: u32, k4: u32, requant: u32, mult: u32, shift: u32, lo: i32, _p0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<i32>;
@group(0) @binding(4) var<storage, read_write> o: array<i32>;

fn dot4(x: u32, y: u32) -> i32 {
    let xi = bitcast<i32>(x);
    let yi = bitcast<i32>(y);
    return extractBits(xi, 0u, 8u) * extractBits(yi, 0u, 8u)
         + extractBits(xi, 8u, 8u) * extractBits(yi, 8u, 8u)
         + extractBits(xi, 16u, 8u) * extractBits(yi, 16u, 8u)
         + extractBits(xi, 24u, 8u) * extractBits(yi, 24u, 8u);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let row = gid.y;
    if (row >= P.m || col >= P.n) { return; }
    var acc = 0i;
    for (var w = 0u; w < P.k4; w++) { acc = acc + dot4(a[row * P.k4 + w], b[col * P.k4 + w]); }
    if (P.requant == 0u) {
        o[row * P.n + col] = acc;
        return;
    }
    acc = acc + bias[col];
    let al = bitcast<u32>(acc) & 0xFFFFu;
    let ah = acc >> 16u;
    let lo = al * P.mult;
    let ph = ah * i32(P.mult) + i32(lo >> 16u);
    let s1 = P.shift - 16u;
    let y = (ph + (1i << (s1 - 1u))) >> s1;
    o[row * P.n + col] = clamp(y, P.lo, 127);
}
