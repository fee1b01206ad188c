//! Small internal helpers for hot paths.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: a fast hasher for the scheduler's own string-keyed maps (keys are node names and
/// pod UIDs chosen by the API server, not attacker-controlled hash-flooding input).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A `HashMap` with [`Fnv`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// `a / b` for non-negative `a` and positive `b`, exactly as integer division, computed with
/// one floating-point division (much cheaper than a 64-bit `idiv` on common CPUs).
#[inline(always)]
pub(crate) fn div(a: i64, b: i64) -> i64 {
    const LIMIT: i64 = 1 << 52;
    if a < 0 || b <= 0 || a >= LIMIT || b >= LIMIT {
        return a / b;
    }
    let mut q = (a as f64 / b as f64) as i64;
    if q * b > a {
        q -= 1;
    } else if (q + 1) * b <= a {
        q += 1;
    }
    q
}

/// `a / b` for `0 <= a`, `0 < b < 2^46` when the quotient is at most a few hundred (scores):
/// a single floating-point division is then exact. Falls back to [`div`] otherwise.
#[inline(always)]
pub(crate) fn div_score(a: i64, b: i64) -> i64 {
    // Error of the rounded quotient is below q·2^-53 < 2^-44 for q < 512, while a non-integer
    // quotient is at least 1/b > 2^-46 away from the next integer... so keep b < 2^43 to have
    // margin, and q < 512.
    if a >= 0 && b > 0 && b < (1 << 43) && a < b.saturating_mul(512) {
        return (a as f64 / b as f64) as i64;
    }
    div(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_matches_integer_division() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = (x % (1 << 50)) as i64;
            let b = ((x >> 11) % (1 << 40)) as i64 + 1;
            assert_eq!(div(a, b), a / b, "{a}/{b}");
            let small = (x % 10_000) as i64 + 1;
            assert_eq!(div(a, small), a / small);
            assert_eq!(div(small * 100, b), small * 100 / b);
        }
        assert_eq!(div(i64::MAX, 3), i64::MAX / 3);
        let mut y: u64 = 12345;
        for _ in 0..500_000 {
            y ^= y << 13;
            y ^= y >> 7;
            y ^= y << 17;
            let b = (y % (1 << 43)) as i64 + 1;
            let a = ((y >> 7) as i64 % (b.saturating_mul(101))).abs();
            assert_eq!(div_score(a, b), a / b, "{a}/{b}");
            let b2 = (y % 1000) as i64 + 1;
            let a2 = (y >> 20) as i64 % (b2 * 100 + 1);
            assert_eq!(div_score(a2, b2), a2 / b2);
        }
        assert_eq!(div(100, 3), 33);
        assert_eq!(div(99, 100), 0);
    }
}
