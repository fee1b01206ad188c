//! Go's `time.Duration` text form: how upstream prints durations in messages and how
//! `metav1.Duration` fields of component configurations (`KubeletConfiguration`,
//! `KubeProxyConfiguration`, ...) are written (`10s`, `1m30s`, `500ms`, `1h0m0s`).

use std::time::Duration;

use crate::Error;

/// Renders a duration as Go's `time.Duration.String()` does (`0s`, `5ns`, `1.5ms`, `500ms`,
/// `1.5s`, `1m30s`, `15m0s`, `1h0m0s`), so messages match upstream's.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(kernel_core::duration::format(Duration::from_secs(300)), "5m0s");
/// assert_eq!(kernel_core::duration::format(Duration::from_millis(1500)), "1.5s");
/// ```
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let frac = |whole: u128, rest: u128, digits: usize| -> String {
        let mut s = whole.to_string();
        if rest != 0 {
            let r = format!("{rest:0digits$}");
            s.push('.');
            s.push_str(r.trim_end_matches('0'));
        }
        s
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", frac(nanos / 1_000, nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", frac(nanos / 1_000_000, nanos % 1_000_000, 6));
    }
    let secs = nanos / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&frac(s, nanos % 1_000_000_000, 9));
    out.push('s');
    out
}

/// Parses Go's `time.ParseDuration` syntax: a sequence of decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), like `300ms`,
/// `1.5h` or `2h45m`; `0` alone is zero. Negative durations are refused (no Kubernetes
/// configuration field takes one), as is an overflow.
///
/// ```
/// use std::time::Duration;
/// use kernel_core::duration::parse;
/// assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
/// assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
/// assert!(parse("10").is_err());
/// ```
pub fn parse(input: &str) -> Result<Duration, Error> {
    let invalid = |why: &str| Error::InvalidDuration {
        input: input.to_string(),
        reason: why.to_string(),
    };
    let mut rest = input.strip_prefix('+').unwrap_or(input);
    if rest.starts_with('-') {
        return Err(invalid("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid("invalid duration"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        rest = &rest[digits..];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(invalid("invalid duration"));
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(invalid("missing unit in duration")),
            _ => return Err(invalid("unknown unit in duration")),
        };
        rest = &rest[unit_len..];
        let overflow = || invalid("invalid duration (overflow)");
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| overflow())?
        };
        let mut value = whole.checked_mul(unit).ok_or_else(overflow)?;
        // The fraction's digits, each worth a tenth of the one before; digits beyond a
        // nanosecond's precision are dropped, as Go does.
        let mut scale = unit;
        for d in fraction.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            value += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(value).ok_or_else(overflow)?;
    }
    let secs =
        u64::try_from(total / 1_000_000_000).map_err(|_| invalid("invalid duration (overflow)"))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let ms = Duration::from_millis;
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_nanos(5)), "5ns");
        assert_eq!(format(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format(ms(300)), "300ms");
        assert_eq!(format(ms(1000)), "1s");
        assert_eq!(format(ms(1500)), "1.5s");
        assert_eq!(format(ms(90_000)), "1m30s");
        assert_eq!(format(Duration::from_secs(900)), "15m0s");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("+5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h0m0s").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("2h45m").unwrap(), Duration::from_secs(9900));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse("1µs").unwrap(), Duration::from_micros(1));
        assert_eq!(parse("7us").unwrap(), Duration::from_micros(7));
        assert_eq!(parse("3ns").unwrap(), Duration::from_nanos(3));
        for bad in ["", "10", "s", "1x", "-1s", "1..5s", "."] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn round_trips() {
        for d in [
            1,
            999,
            1_000,
            1_500_000,
            90_000_000_000u64,
            3_723_000_000_000,
        ] {
            let d = Duration::from_nanos(d);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }
}
