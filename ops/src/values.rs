//! The grammar of flag values both binaries read: durations, sizes and log levels. The
//! webhook turns annotations into proxy flags with these, so a value it accepts is one the
//! proxy accepts. Each error names the value and what would have been right.

use std::time::Duration;

/// `250ms`, `2s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 500ms, 2s, 5m, 1h)"))?;
    let mult = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    let secs = n * mult;
    if !secs.is_finite() || !(0.0..=365.0 * 86400.0).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `4096`, `512k`, `8M`.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 65536, 512k, 8M)"))?;
    n.checked_mul(mult)
        .filter(|b| *b >= 4096)
        .ok_or_else(|| format!("{s:?}: a cache needs at least 4k"))
}

/// A share as a percentage, `10%` or `10`, from 0 to 100; returned as a fraction (0.1).
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n: f64 = t
        .strip_suffix('%')
        .unwrap_or(t)
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage (e.g. 10%)"))?;
    if !n.is_finite() || !(0.0..=100.0).contains(&n) {
        return Err(format!("{s:?}: a percentage is between 0% and 100%"));
    }
    Ok(n / 100.0)
}

/// A rate per second, `2` or `2/s`, from 0 to 1000.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n: f64 = t
        .strip_suffix("/s")
        .unwrap_or(t)
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a rate per second (e.g. 2/s)"))?;
    if !n.is_finite() || !(0.0..=1000.0).contains(&n) {
        return Err(format!("{s:?}: a rate is between 0/s and 1000/s"));
    }
    Ok(n)
}

pub fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not one of off, error, warn, info, debug, trace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_rates() {
        assert_eq!(parse_percent("10%"), Ok(0.1));
        assert_eq!(parse_percent("25"), Ok(0.25));
        assert_eq!(parse_percent("0%"), Ok(0.0));
        assert!(parse_percent("101%").is_err());
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("ten").unwrap_err().contains("ten"));
        assert_eq!(parse_rate("2/s"), Ok(2.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("1001").is_err());
        assert!(parse_rate("x/s").is_err());
    }
}
