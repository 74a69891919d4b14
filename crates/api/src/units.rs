//! Docker's human units, shared by the server's `Status` texts and the
//! CLI's columns, and its size syntax, shared by flags, log options and
//! compose files.

/// Docker's `units.HumanDuration`: "Less than a second", "3 seconds",
/// "About a minute", "5 minutes", "About an hour", "2 hours", "3 days",
/// "2 weeks", "4 months", "2 years".
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    let hours = minutes / 60;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

/// Docker's `RAMInBytes`: `512`, `64k`, `32 m`, `1.5g`, `2tb`, `1KiB`
/// (binary units k/m/g/t/p, then optional `i` and `b`); `None` for anything
/// else, negative sizes and exponents included.
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let t = lower.strip_suffix('b').unwrap_or(&lower);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1i64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        'p' => (&t[..t.len() - 1], 1 << 50),
        _ => (t, 1),
    };
    let num = num.strip_suffix(' ').unwrap_or(num);
    let digits = !num.is_empty()
        && num.starts_with(|c: char| c.is_ascii_digit())
        && num.chars().all(|c| c.is_ascii_digit() || c == '.');
    let n: f64 = num.parse().ok().filter(|_| digits)?;
    Some((n * mult as f64) as i64)
}

/// Go's `time.ParseDuration` (`1s`, `500ms`, `1m30s`, `1.5h`, `0`) as
/// nanoseconds; `None` when the text is not a duration.
pub fn go_duration_ns(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * nanos;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ram_in_bytes() {
        use super::ram_in_bytes as r;
        assert_eq!(r("512"), Some(512));
        assert_eq!(r("64kb"), Some(65536));
        assert_eq!(r("32M"), Some(32 << 20));
        assert_eq!(r("1.5g"), Some(3 << 29));
        assert_eq!(r("2t"), Some(2 << 40));
        assert_eq!(r("1p"), Some(1 << 50));
        assert_eq!(r("32 m"), Some(32 << 20));
        assert_eq!(r("1KiB"), Some(1024));
        for bad in ["", "m", "12x", "lots", "-1", "-5m", "1e3", ".5m"] {
            assert_eq!(r(bad), None, "{bad}");
        }
    }

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3700), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(100 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }
}
