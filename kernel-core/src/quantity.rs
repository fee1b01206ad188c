//! Resource quantities (`k8s.io/apimachinery/pkg/api/resource.Quantity`): one exact parser,
//! upstream's rounding, arithmetic, and canonical formatting.
//!
//! A [`Quantity`] is `mantissa × 10^exponent` with an `i128` mantissa: every value a Kubernetes
//! object can carry is exact (no `f64`), including amounts above 2^53. The suffix family it was
//! written in ([`Format`]: binary SI `Ki`…`Ei`, decimal SI `n`…`E`, or a decimal exponent
//! `e3`) is remembered for formatting, as upstream does.
//!
//! ```
//! use kernel_core::quantity::Quantity;
//!
//! let q: Quantity = "1.5Gi".parse().unwrap();
//! assert_eq!(q.value(), 1_610_612_736);
//! assert_eq!(q.to_string(), "1536Mi"); // upstream's canonical form
//! assert_eq!("250m".parse::<Quantity>().unwrap().milli_value(), 250);
//! assert_eq!("250m".parse::<Quantity>().unwrap().value(), 1); // rounded up, as Value()
//!
//! // Exact above 2^53: f64 would turn ...993 into ...992.
//! let big: Quantity = "9007199254740993".parse().unwrap();
//! assert_eq!(big.value(), 9_007_199_254_740_993);
//! assert!(big > "9007199254740992".parse().unwrap());
//!
//! let sum = q + "512Mi".parse().unwrap();
//! assert_eq!(sum.to_string(), "2Gi");
//! ```
//!
//! Where upstream's behaviour is an accident of its implementation, this type chooses the
//! sensible neighbour and says so: `Value()`/`MilliValue()` saturate at the `i64` bounds
//! (upstream wraps for huge decimal values); a decimal-SI value beyond `E` prints with an
//! exponent (`1e21`, upstream prints a bare mantissa); mantissas keep 36 significant digits
//! (upstream is arbitrary-precision; more digits are rounded away from zero).

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use crate::error::QuantityError;
use crate::Error;

/// 10^-9 (the finest scale a quantity keeps).
pub const NANO: i32 = -9;
/// 10^-6.
pub const MICRO: i32 = -6;
/// 10^-3.
pub const MILLI: i32 = -3;
/// 10^3.
pub const KILO: i32 = 3;
/// 10^6.
pub const MEGA: i32 = 6;
/// 10^9.
pub const GIGA: i32 = 9;
/// 10^12.
pub const TERA: i32 = 12;
/// 10^15.
pub const PETA: i32 = 15;
/// 10^18.
pub const EXA: i32 = 18;

/// Significant digits kept when parsing.
const MAX_DIGITS: u32 = 36;
/// 10^38 is the largest power of ten an `i128` holds.
const MAX_POW10: i64 = 38;

/// How a quantity is written (upstream `resource.Format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// `12e6`.
    DecimalExponent,
    /// `12Mi` (12 × 2^20).
    BinarySI,
    /// `12M` (12 × 10^6); also plain numbers and `m`.
    #[default]
    DecimalSI,
}

/// An exact resource amount, as upstream `resource.Quantity`.
///
/// Equality and ordering compare values (`1` == `1000m`), not spellings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quantity {
    mantissa: i128,
    exp10: i32,
    format: Format,
}

fn pow10(n: i64) -> i128 {
    debug_assert!((0..=MAX_POW10).contains(&n));
    10i128.pow(n as u32)
}

/// `m × 10^n`, or `None` on overflow.
fn scale_up(m: i128, n: i64) -> Option<i128> {
    if m == 0 {
        return Some(0);
    }
    if n > MAX_POW10 {
        return None;
    }
    m.checked_mul(pow10(n))
}

/// `m / 10^n`, rounded away from zero.
fn div_away(m: i128, n: i64) -> i128 {
    if m == 0 || n == 0 {
        return m;
    }
    if n > MAX_POW10 {
        return m.signum();
    }
    let d = pow10(n);
    let q = m / d;
    if m % d != 0 {
        q + m.signum()
    } else {
        q
    }
}

/// `m / 10^n`, truncated toward zero.
fn div_trunc(m: i128, n: i64) -> i128 {
    if n > MAX_POW10 {
        0
    } else {
        m / pow10(n)
    }
}

/// Upstream's suffix table: `(base, exponent, format)`.
fn interpret_suffix(s: &str) -> Option<(u32, i64, Format)> {
    use Format::*;
    Some(match s {
        "" => (10, 0, DecimalSI),
        "n" => (10, -9, DecimalSI),
        "u" => (10, -6, DecimalSI),
        "m" => (10, -3, DecimalSI),
        "k" => (10, 3, DecimalSI),
        "M" => (10, 6, DecimalSI),
        "G" => (10, 9, DecimalSI),
        "T" => (10, 12, DecimalSI),
        "P" => (10, 15, DecimalSI),
        "E" => (10, 18, DecimalSI),
        "Ki" => (2, 10, BinarySI),
        "Mi" => (2, 20, BinarySI),
        "Gi" => (2, 30, BinarySI),
        "Ti" => (2, 40, BinarySI),
        "Pi" => (2, 50, BinarySI),
        "Ei" => (2, 60, BinarySI),
        _ if s.len() > 1 && s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().ok()?;
            (10, i64::from(e), DecimalExponent)
        }
        _ => return None,
    })
}

impl Quantity {
    /// `value` in base units (upstream `NewQuantity`).
    pub const fn new(value: i64, format: Format) -> Quantity {
        Quantity {
            mantissa: value as i128,
            exp10: 0,
            format,
        }
    }

    /// `value` thousandths (upstream `NewMilliQuantity`).
    pub const fn new_milli(value: i64, format: Format) -> Quantity {
        Quantity {
            mantissa: value as i128,
            exp10: MILLI,
            format,
        }
    }

    /// `value × 10^scale`, decimal SI (upstream `NewScaledQuantity`).
    pub const fn new_scaled(value: i64, scale: i32) -> Quantity {
        Quantity {
            mantissa: value as i128,
            exp10: scale,
            format: Format::DecimalSI,
        }
    }

    /// Parses a quantity string exactly as upstream `resource.ParseQuantity`: an optional sign,
    /// digits with an optional fraction, then a suffix (`Ki`…`Ei`, `n`…`E`, or `e<int>`).
    /// Leading or trailing whitespace is an error here; [`Quantity::from_wire`] trims it, as
    /// upstream's JSON decoding does.
    ///
    /// As upstream: a lone sign, a lone `.` or a suffix without digits (`"m"`, `"Gi"`) is zero;
    /// amounts finer than `1n` round up (away from zero) to `1n`; binary-SI amounts are capped
    /// at 2^63 − 1.
    pub fn parse(s: &str) -> Result<Quantity, Error> {
        let bad = |reason| Error::InvalidQuantity {
            input: s.to_string(),
            reason,
        };
        let zero = Quantity::default();
        if s.is_empty() {
            return Err(bad(QuantityError::FormatWrong));
        }
        let b = s.as_bytes();
        let mut pos = 0;
        let mut negative = false;
        match b[0] {
            b'-' => {
                negative = true;
                pos = 1;
            }
            b'+' => pos = 1,
            _ => {}
        }
        while pos < b.len() && b[pos] == b'0' {
            pos += 1;
        }
        if pos >= b.len() {
            return Ok(zero);
        }
        let num_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let num = &b[num_start..pos];
        let mut denom: &[u8] = &[];
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            let start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            denom = &b[start..pos];
        }
        let suffix_start = pos;
        while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
            pos += 1;
        }
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos < b.len() {
            return Err(bad(QuantityError::FormatWrong));
        }
        let (base, exponent, mut format) =
            interpret_suffix(&s[suffix_start..]).ok_or_else(|| bad(QuantityError::Suffix))?;

        // The digits, exactly up to MAX_DIGITS significant ones.
        let mut m: i128 = 0;
        let mut exp: i64 = 0;
        let mut sig = 0;
        let mut dropped_nonzero = false;
        for (i, &c) in num.iter().chain(denom).enumerate() {
            let d = i128::from(c - b'0');
            let fractional = i >= num.len();
            if sig < MAX_DIGITS {
                m = m * 10 + d;
                if m != 0 {
                    sig += 1;
                }
                if fractional {
                    exp -= 1;
                }
            } else {
                dropped_nonzero |= d != 0;
                if !fractional {
                    exp += 1;
                }
            }
        }
        if dropped_nonzero {
            m += 1;
        }
        if base == 10 {
            exp += exponent;
        } else {
            let factor = 1i128 << exponent;
            loop {
                match m.checked_mul(factor) {
                    Some(v) => {
                        m = v;
                        break;
                    }
                    None => {
                        m = div_away(m, 1);
                        exp += 1;
                    }
                }
            }
        }
        if negative {
            m = -m;
        }
        // Round anything finer than 1n up to 1n.
        if m != 0 && exp < i64::from(NANO) {
            m = div_away(m, i64::from(NANO) - exp);
            exp = i64::from(NANO);
        }
        let exp10 = i32::try_from(exp).map_err(|_| bad(QuantityError::Numeric))?;
        let mut q = Quantity {
            mantissa: m,
            exp10,
            format,
        };
        if format == Format::BinarySI {
            let max = Quantity::new(i64::MAX, Format::BinarySI);
            if q.abs() > max {
                q = Quantity {
                    mantissa: i128::from(i64::MAX) * m.signum(),
                    exp10: 0,
                    format,
                };
            } else if !q.is_zero() && q.abs() < Quantity::new(1, Format::BinarySI) {
                format = Format::DecimalSI;
                q.format = format;
            }
        }
        Ok(q)
    }

    /// Parses the wire type (what `k8s-openapi` objects carry), trimming surrounding
    /// whitespace as upstream's JSON decoding does.
    pub fn from_wire(q: &WireQuantity) -> Result<Quantity, Error> {
        Quantity::parse(q.0.trim())
    }

    /// The wire type, in canonical form.
    pub fn to_wire(&self) -> WireQuantity {
        WireQuantity(self.to_string())
    }

    /// The suffix family used when formatting.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The same value formatted in `format`.
    pub fn with_format(self, format: Format) -> Quantity {
        Quantity { format, ..self }
    }

    /// `(mantissa, exponent)`: the value is `mantissa × 10^exponent` (not normalized).
    pub fn parts(&self) -> (i128, i32) {
        (self.mantissa, self.exp10)
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// -1, 0 or 1.
    pub fn sign(&self) -> i32 {
        self.mantissa.signum() as i32
    }

    fn abs(&self) -> Quantity {
        Quantity {
            mantissa: self.mantissa.abs(),
            ..*self
        }
    }

    /// The value in base units, rounded up away from zero (upstream `Value()`); saturates at
    /// the `i64` bounds.
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// The value in thousandths, rounded up away from zero (upstream `MilliValue()`);
    /// saturates at the `i64` bounds.
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(MILLI)
    }

    /// The value in units of `10^scale`, rounded up away from zero (upstream
    /// `ScaledValue`); saturates at the `i64` bounds.
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let m = self.mantissa;
        if m == 0 {
            return 0;
        }
        let shift = i64::from(self.exp10) - i64::from(scale);
        let v = if shift >= 0 {
            match scale_up(m, shift) {
                Some(v) => v,
                None => return if m < 0 { i64::MIN } else { i64::MAX },
            }
        } else {
            div_away(m, -shift)
        };
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Compares with a plain integer (upstream `CmpInt64`).
    pub fn cmp_i64(&self, v: i64) -> Ordering {
        self.cmp(&Quantity::new(v, Format::DecimalSI))
    }

    /// `a + b` on `(mantissa, exponent)` pairs: exact when the aligned sum fits, otherwise at
    /// a coarser exponent (dropping digits beyond ~38 significant ones).
    fn add_parts(a: (i128, i32), b: (i128, i32)) -> (i128, i32) {
        if a.0 == 0 {
            return b;
        }
        if b.0 == 0 {
            return a;
        }
        let e = a.1.min(b.1);
        let x = scale_up(a.0, i64::from(a.1) - i64::from(e));
        let y = scale_up(b.0, i64::from(b.1) - i64::from(e));
        if let (Some(x), Some(y)) = (x, y) {
            if let Some(s) = x.checked_add(y).filter(|s| *s != i128::MIN) {
                return (s, e);
            }
        }
        let mut e = i64::from(a.1.max(b.1));
        loop {
            let x = div_trunc(a.0, e - i64::from(a.1));
            let y = div_trunc(b.0, e - i64::from(b.1));
            if let Some(s) = x.checked_add(y).filter(|s| *s != i128::MIN) {
                return (s, e.min(i64::from(i32::MAX)) as i32);
            }
            e += 1;
        }
    }

    /// Upstream `CanonicalizeBytes`: number and suffix.
    fn canonical(&self) -> (String, String) {
        if self.mantissa == 0 {
            return ("0".into(), String::new());
        }
        let mut format = self.format;
        if format == Format::BinarySI {
            if self.cmp_i64(-1024) == Ordering::Greater && self.cmp_i64(1024) == Ordering::Less {
                format = Format::DecimalSI;
            } else if let Some(mut v) = self.exact_integer() {
                let mut e = 0;
                while e < 6 && v % 1024 == 0 {
                    v /= 1024;
                    e += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][e];
                return (v.to_string(), suffix.into());
            } else {
                // Not an integer: don't lose precision, show as decimal SI.
                format = Format::DecimalSI;
            }
        }
        let (mut m, mut e) = (self.mantissa, i64::from(self.exp10));
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        let down = e.rem_euclid(3);
        match m.checked_mul(pow10(down)) {
            Some(v) => {
                m = v;
                e -= down;
            }
            None => return (m.to_string(), format!("e{e}")),
        }
        let suffix = match (format, e) {
            (_, 0) => "",
            (Format::DecimalSI, -9) => "n",
            (Format::DecimalSI, -6) => "u",
            (Format::DecimalSI, -3) => "m",
            (Format::DecimalSI, 3) => "k",
            (Format::DecimalSI, 6) => "M",
            (Format::DecimalSI, 9) => "G",
            (Format::DecimalSI, 12) => "T",
            (Format::DecimalSI, 15) => "P",
            (Format::DecimalSI, 18) => "E",
            _ => return (m.to_string(), format!("e{e}")),
        };
        (m.to_string(), suffix.into())
    }

    /// The value as an integer, if it is one and fits an `i128`.
    fn exact_integer(&self) -> Option<i128> {
        let e = i64::from(self.exp10);
        if e >= 0 {
            scale_up(self.mantissa, e)
        } else if -e > MAX_POW10 {
            None
        } else {
            let d = pow10(-e);
            (self.mantissa % d == 0).then(|| self.mantissa / d)
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Quantity) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Exact comparison of values (upstream `Cmp`).
impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        let (a, b) = (self.mantissa, other.mantissa);
        match a.signum().cmp(&b.signum()) {
            Ordering::Equal if a == 0 => return Ordering::Equal,
            Ordering::Equal => {}
            unequal => return unequal,
        }
        let (ea, eb) = (i64::from(self.exp10), i64::from(other.exp10));
        // Bring the operand with the larger exponent down to the other's; if that overflows,
        // its magnitude is the larger one.
        let magnitude = match ea.cmp(&eb) {
            Ordering::Equal => a.abs().cmp(&b.abs()),
            Ordering::Greater => match scale_up(a.abs(), ea - eb) {
                Some(x) => x.cmp(&b.abs()),
                None => Ordering::Greater,
            },
            Ordering::Less => match scale_up(b.abs(), eb - ea) {
                Some(y) => a.abs().cmp(&y),
                None => Ordering::Less,
            },
        };
        if a < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

/// Upstream `Add`: exact; the result keeps `self`'s format unless `self` is zero.
impl Add for Quantity {
    type Output = Quantity;

    fn add(self, rhs: Quantity) -> Quantity {
        let (mantissa, exp10) =
            Quantity::add_parts((self.mantissa, self.exp10), (rhs.mantissa, rhs.exp10));
        Quantity {
            mantissa,
            exp10,
            format: if self.is_zero() {
                rhs.format
            } else {
                self.format
            },
        }
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = *self + rhs;
    }
}

/// Upstream `Sub`.
impl Sub for Quantity {
    type Output = Quantity;

    fn sub(self, rhs: Quantity) -> Quantity {
        self + (-rhs)
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Quantity) {
        *self = *self - rhs;
    }
}

impl Neg for Quantity {
    type Output = Quantity;

    fn neg(self) -> Quantity {
        Quantity {
            mantissa: -self.mantissa,
            ..self
        }
    }
}

/// Upstream `String()`: the canonical form (`1500m`, `1536Mi`, `12e6`, `1k`).
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (number, suffix) = self.canonical();
        f.write_str(&number)?;
        f.write_str(&suffix)
    }
}

impl FromStr for Quantity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Quantity, Error> {
        Quantity::parse(s)
    }
}

impl TryFrom<&WireQuantity> for Quantity {
    type Error = Error;

    fn try_from(q: &WireQuantity) -> Result<Quantity, Error> {
        Quantity::from_wire(q)
    }
}

impl From<Quantity> for WireQuantity {
    fn from(q: Quantity) -> WireQuantity {
        q.to_wire()
    }
}

impl From<&Quantity> for WireQuantity {
    fn from(q: &Quantity) -> WireQuantity {
        q.to_wire()
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Quantity, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity string or number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v.trim()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::new(v, Format::DecimalSI))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn value_and_milli_value_round_up_like_upstream() {
        // (input, Value(), MilliValue())
        let cases: &[(&str, i64, i64)] = &[
            ("0", 0, 0),
            ("1", 1, 1000),
            ("250m", 1, 250),
            ("1500m", 2, 1500),
            ("0.5", 1, 500),
            ("2.25", 3, 2250),
            (".5", 1, 500),
            ("5.", 5, 5000),
            ("100k", 100_000, 100_000_000),
            ("1M", 1_000_000, 1_000_000_000),
            ("1G", 1_000_000_000, 1_000_000_000_000),
            ("1Ki", 1024, 1_024_000),
            ("128Mi", 128 << 20, (128 << 20) * 1000),
            ("1.5Gi", 1536 << 20, (1536i64 << 20) * 1000),
            ("2Ti", 2 << 40, (2i64 << 40) * 1000),
            ("1e3", 1000, 1_000_000),
            ("1E3", 1000, 1_000_000),
            ("1e+3", 1000, 1_000_000),
            ("5e-3", 1, 5),
            ("12e-1", 2, 1200),
            ("100n", 1, 1),
            ("1u", 1, 1),
            ("-250m", -1, -250),
            ("-1.5", -2, -1500),
            ("+2", 2, 2000),
            ("0.1m", 1, 1),
            ("007", 7, 7000),
        ];
        for (s, v, m) in cases {
            let x = q(s);
            assert_eq!(x.value(), *v, "value of {s}");
            assert_eq!(x.milli_value(), *m, "milli of {s}");
        }
        assert_eq!(q("1.5Gi").scaled_value(MEGA), 1611);
        assert_eq!(q("1").scaled_value(NANO), 1_000_000_000);
    }

    #[test]
    fn bad_inputs_are_rejected_with_upstream_reasons() {
        use QuantityError::*;
        // Upstream TestQuantityParseErrors plus a few of our own.
        let cases: &[(&str, QuantityError)] = &[
            ("", FormatWrong),
            ("1.1.M", FormatWrong),
            ("1+1.0M", FormatWrong),
            ("0.1mi", Suffix),
            ("0.1am", FormatWrong),
            ("aoeu", FormatWrong),
            (".5i", Suffix),
            ("1i", Suffix),
            ("-3.01i", Suffix),
            ("-3.01e-", Suffix),
            (" 1", FormatWrong),
            ("1 ", FormatWrong),
            ("1x", FormatWrong),
            ("1e", Suffix),
            ("1ee3", Suffix),
            ("1 Gi", FormatWrong),
            ("1K", Suffix),
            ("1e99999999999", Suffix),
        ];
        for (s, reason) in cases {
            match Quantity::parse(s) {
                Err(Error::InvalidQuantity { input, reason: r }) => {
                    assert_eq!(input, *s);
                    assert_eq!(r, *reason, "{s:?}");
                }
                other => panic!("{s:?}: {other:?}"),
            }
        }
        // An exponent that leaves the i32 range once the digits are accounted for.
        let s = format!("1{}e2147483647", "0".repeat(40));
        assert!(matches!(
            Quantity::parse(&s),
            Err(Error::InvalidQuantity {
                reason: Numeric,
                ..
            })
        ));
    }

    #[test]
    fn degenerate_inputs_parse_as_zero_like_upstream() {
        for s in [
            "0", "-0", "+0", "000", "-", "+", ".", "m", "Gi", "0.0", "0Ki",
        ] {
            let x = q(s);
            assert!(x.is_zero(), "{s}");
            assert_eq!(x.to_string(), "0", "{s}");
        }
        assert_eq!(q("0Ki").format(), Format::BinarySI);
    }

    #[test]
    fn canonical_formatting_like_upstream_string() {
        // (input, String()) — upstream TestQuantityString / TestQuantityParseEmit.
        let cases: &[(&str, &str)] = &[
            ("1.5", "1500m"),
            ("1.5Gi", "1536Mi"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1025Mi", "1025Mi"),
            ("1.1Ki", "1126400m"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("1024", "1024"),
            ("1000", "1k"),
            ("1000000", "1M"),
            ("100m", "100m"),
            ("0.1", "100m"),
            ("0.0001", "100u"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("1.0000000001", "1000000001n"),
            ("12e6", "12e6"),
            ("1e3", "1e3"),
            ("1e1", "10"),
            ("1.5e3", "1500"),
            ("1e-3", "1e-3"),
            ("10E", "10E"),
            ("1000E", "1e21"),
            ("-1.5Gi", "-1536Mi"),
            ("-100m", "-100m"),
            ("8Ei", "9223372036854775807"),
            ("2048", "2048"),
            ("2Ki", "2Ki"),
            ("500Mi", "500Mi"),
            ("9007199254740993", "9007199254740993"),
        ];
        for (s, want) in cases {
            assert_eq!(q(s).to_string(), *want, "{s}");
            // Canonical strings parse back to the same value.
            assert_eq!(q(want), q(s), "{s} round trip");
        }
        assert_eq!(Quantity::new(1536, Format::BinarySI).to_string(), "1536");
        assert_eq!(Quantity::new(2048, Format::BinarySI).to_string(), "2Ki");
        assert_eq!(
            Quantity::new_milli(1500, Format::DecimalSI).to_string(),
            "1500m"
        );
        assert_eq!(Quantity::new_scaled(5, GIGA).to_string(), "5G");
        assert_eq!(Quantity::new(3, Format::DecimalExponent).to_string(), "3");
    }

    #[test]
    fn exact_above_2_pow_53() {
        let a = q("9007199254740993");
        let b = q("9007199254740992");
        assert_eq!(a.value(), 9_007_199_254_740_993);
        assert_eq!(a.milli_value(), 9_007_199_254_740_993_000);
        assert_eq!(q("9007199254740993k").milli_value(), i64::MAX);
        assert!(a > b);
        assert_ne!(a, b);
        assert_eq!((a - b).value(), 1);
        assert_eq!(q("9007199254740993m").value(), 9_007_199_254_741);
        assert_eq!(q("9007199254740993m").milli_value(), 9_007_199_254_740_993);
        // Beyond i64: compared exactly, still.
        let huge = q("123456789012345678901234567890");
        assert!(huge > q("123456789012345678901234567889"));
        assert!(huge < q("123456789012345678901234567891"));
        assert_eq!(huge.to_string(), "123456789012345678901234567890");
        assert_eq!(q("1Ei").value(), 1 << 60);
        assert_eq!(q("7.99Ei").value(), 9_211_842_821_808_707_339);
    }

    #[test]
    fn saturation_and_caps() {
        assert_eq!(q("9E").milli_value(), i64::MAX);
        assert_eq!(q("-9E").milli_value(), i64::MIN);
        assert_eq!(q("10E").value(), i64::MAX);
        assert_eq!(q("1e400").value(), i64::MAX);
        assert_eq!(q("-1e400").value(), i64::MIN);
        assert_eq!(q("1e-400").value(), 1);
        assert_eq!(q("-1e-400").value(), -1);
        // Binary SI is capped at 2^63-1 when parsed (decimal SI is not).
        assert_eq!(q("8Ei").value(), i64::MAX);
        assert_eq!(q("8Ei"), Quantity::new(i64::MAX, Format::BinarySI));
        assert_eq!(q("-8Ei").value(), -i64::MAX);
        assert!(q("10E") > q("8Ei"));
        // More than 36 significant digits: rounded away from zero, magnitude kept.
        let long = format!("1{}1", "0".repeat(40));
        assert!(q(&long) > q(&format!("1{}", "0".repeat(41))));
    }

    #[test]
    fn comparisons_across_formats_and_scales() {
        assert_eq!(q("1"), q("1000m"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1k"), q("1e3"));
        assert!(q("999m") < q("1"));
        assert!(q("-1") < q("-999m"));
        assert!(q("-1") < q("0"));
        assert!(q("1n") > q("0"));
        assert!(q("1e300") > q("1"));
        assert!(q("1e-300") < q("1"));
        assert!(q("-1e300") < q("-1"));
        assert_eq!(q("1.5Gi").cmp_i64(1_610_612_736), Ordering::Equal);
        let mut v = [q("2"), q("1500m"), q("-1"), q("1Ki"), q("0")];
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["-1", "0", "1500m", "2", "1Ki"]);
    }

    #[test]
    fn arithmetic() {
        assert_eq!((q("100m") + q("200m")).to_string(), "300m");
        assert_eq!((q("1") + q("500m")).to_string(), "1500m");
        assert_eq!((q("1Gi") + q("1Gi")).to_string(), "2Gi");
        assert_eq!((q("1Gi") - q("512Mi")).to_string(), "512Mi");
        assert_eq!((q("1") - q("1")).to_string(), "0");
        assert_eq!((q("1") - q("2")).to_string(), "-1");
        // A zero receiver takes the other operand's format, as upstream Add.
        assert_eq!((Quantity::default() + q("1Gi")).format(), Format::BinarySI);
        assert_eq!((q("1Gi") + q("1k")).format(), Format::BinarySI);
        let mut acc = Quantity::default();
        for _ in 0..3 {
            acc += q("0.1");
        }
        assert_eq!(acc, q("300m"));
        acc -= q("300m");
        assert!(acc.is_zero());
        assert_eq!(-q("5"), q("-5"));
        // Far-apart exponents: the tiny addend is below the kept precision.
        assert_eq!(q("1e300") + q("1"), q("1e300"));
        assert_eq!(
            (q("9007199254740993") + q("1")).value(),
            9_007_199_254_740_994
        );
        // Sums past i64 stay exact.
        let s = q("9E") + q("9E");
        assert_eq!(s.to_string(), "18E");
        assert_eq!(s.value(), i64::MAX);
    }

    #[test]
    fn wire_and_serde_conversions() {
        let w = WireQuantity(" 1.5Gi ".into());
        let x = Quantity::try_from(&w).unwrap();
        assert_eq!(x.value(), 1_610_612_736);
        assert_eq!(WireQuantity::from(x), WireQuantity("1536Mi".into()));
        assert!(Quantity::try_from(&WireQuantity("bogus".into())).is_err());
        let j = serde_json::to_string(&q("1500m")).unwrap();
        assert_eq!(j, "\"1500m\"");
        let back: Quantity = serde_json::from_str("\"1.5\"").unwrap();
        assert_eq!(back, q("1500m"));
        let n: Quantity = serde_json::from_str("3").unwrap();
        assert_eq!(n, q("3"));
        let f: Quantity = serde_json::from_str("0.5").unwrap();
        assert_eq!(f, q("500m"));
        assert!(serde_json::from_str::<Quantity>("\"1x\"").is_err());
    }
}
