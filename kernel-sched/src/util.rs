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
        assert_eq!(div(100, 3), 33);
        assert_eq!(div(99, 100), 0);
    }
}
