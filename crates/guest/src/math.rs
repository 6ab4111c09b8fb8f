//! Elementary functions built only from `+ - * /` and exact bit manipulation.
//!
//! IEEE 754 makes those operations exact-rounded on every platform, while `f64::exp` and
//! `f64::ln` come from whatever libm the target links (the host's on native builds, Rust's
//! own on wasm) and may differ in the last bit. Results that must be byte-identical between
//! a native run and both wasm engines therefore use these versions. They are accurate to a
//! couple of units in the last place, which is plenty for statistics.

const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
const LN2: f64 = std::f64::consts::LN_2;
const LOG2_E: f64 = std::f64::consts::LOG2_E;
const SQRT2: f64 = std::f64::consts::SQRT_2;

/// 1/n! for n = 0..=14. Written as constant divisions, which Rust evaluates with IEEE
/// rounding at compile time; a table rather than a loop of divisions keeps the polynomial
/// cheap whatever the optimiser of a given compiler does.
const INV_FACTORIAL: [f64; 15] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
    1.0 / 87_178_291_200.0,
];

/// 1/k for odd k = 3..=23: the coefficients of the atanh series after its leading term.
const INV_ODD: [f64; 11] = [
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
    1.0 / 21.0,
    1.0 / 23.0,
];

/// 2^k for any k where the result is representable, built from the exponent bits. Scaling
/// in steps keeps subnormal and near-overflow results right.
fn scale(mut y: f64, mut k: i64) -> f64 {
    while k > 1023 {
        y *= f64::from_bits(0x7fe0_0000_0000_0000); // 2^1023
        k -= 1023;
    }
    while k < -1022 {
        y *= f64::from_bits(0x0010_0000_0000_0000); // 2^-1022
        k += 1022;
    }
    y * f64::from_bits(((k + 1023) as u64) << 52)
}

/// e^x.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.782_712_893_384 {
        return f64::INFINITY;
    }
    if x < -745.133_219_101_941_1 {
        return 0.0;
    }
    // x = k ln2 + r with |r| <= ln2 / 2; ln2 is split so k*LN2_HI is exact.
    let t = x * LOG2_E;
    let k = if t >= 0.0 {
        (t + 0.5) as i64
    } else {
        (t - 0.5) as i64
    };
    let kf = k as f64;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    // Taylor series of e^r to degree 14: the next term is below 2^-60 for |r| <= 0.35.
    let mut p = INV_FACTORIAL[14];
    for c in INV_FACTORIAL[1..14].iter().rev() {
        p = p * r + c;
    }
    let er = p * r + 1.0;
    scale(er, k)
}

/// Natural logarithm; `ln(0) = -inf`, negative or NaN input gives NaN.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let mut bits = x.to_bits();
    let mut e: i64 = 0;
    if bits >> 52 == 0 {
        // Subnormal: normalise first so the exponent field is meaningful.
        bits = (x * f64::from_bits(0x4350_0000_0000_0000)).to_bits(); // * 2^54
        e -= 54;
    }
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT2 {
        m /= 2.0;
        e += 1;
    }
    // ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: the odd series converges fast.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut sum = 0.0;
    for c in INV_ODD.iter().rev() {
        sum = sum * s2 + c;
    }
    let ln_m = 2.0 * s * (sum * s2 + 1.0);
    e as f64 * LN2 + ln_m
}

/// The logistic function 1 / (1 + e^-x), evaluated so that neither branch overflows.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + exp(-x))
    } else {
        let e = exp(x);
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn ln2_split_is_fdlibms() {
        // The high part has trailing zero bits so that k * LN2_HI is exact for |k| < 2^11.
        assert_eq!(LN2_HI.to_bits(), 0x3fe6_2e42_fee0_0000);
        assert_eq!(LN2_LO.to_bits(), 0x3dea_39ef_3579_3c76);
    }

    #[test]
    fn exp_matches_libm_within_a_few_ulps() {
        let mut x = -700.0;
        while x < 700.0 {
            let (ours, libm) = (exp(x), x.exp());
            assert!(ulps(ours, libm) <= 2, "exp({}) = {} vs {}", x, ours, libm);
            x += 0.137;
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        let tiny = exp(-740.0);
        assert!(tiny > 0.0 && tiny < 1e-320);
    }

    #[test]
    fn ln_matches_libm_within_a_few_ulps() {
        let mut x = 1e-300;
        while x < 1e300 {
            let (ours, libm) = (ln(x), x.ln());
            assert!(ulps(ours, libm) <= 2, "ln({}) = {} vs {}", x, ours, libm);
            x *= 1.37;
        }
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(-1.0).is_nan());
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!((ln(5e-324) - (5e-324f64).ln()).abs() < 1e-12);
    }

    #[test]
    fn sigmoid_is_symmetric_and_bounded() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(3.0) + sigmoid(-3.0) - 1.0).abs() < 1e-15);
        assert_eq!(sigmoid(800.0), 1.0);
        assert_eq!(sigmoid(-800.0), 0.0);
    }
}
