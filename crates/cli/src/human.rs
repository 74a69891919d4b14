//! Human-readable sizes and times as the docker CLI prints them.

/// `units.HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant
/// digits: `4.26MB`, `987B`, `1.5GB`.
pub fn size(bytes: i64) -> String {
    size_with(bytes, 3)
}

/// `units.HumanSize`: as [`size`] with 4 significant digits (`system df`).
pub fn size4(bytes: i64) -> String {
    size_with(bytes, 4)
}

fn size_with(bytes: i64, digits: i32) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", significant(value, digits), UNITS[unit])
}

/// `units.BytesSize`: binary units with 4 significant digits: `7.844MiB`.
pub fn bytes_size(bytes: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{}{}", significant(value, 4), UNITS[unit])
}

/// Go's `%.*g` with trailing zeros removed.
fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// "5 seconds ago" from a unix time.
pub fn ago(unix: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    format!("{} ago", duration(now - unix))
}

pub use berth_api::units::human_duration as duration;

/// Go's `time.Time.String()` of a unix time in UTC: `2026-11-27 00:18:57 +0000 UTC`.
pub fn go_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(987), "987B");
        assert_eq!(size(4_261_000), "4.26MB");
        assert_eq!(size(1_500_000_000), "1.5GB");
        assert_eq!(size(12_345), "12.3kB");
        assert_eq!(size(100_000), "100kB");
    }

    #[test]
    fn binary_sizes() {
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(bytes_size(8_225_000.0), "7.844MiB");
        assert_eq!(bytes_size(33_554_432.0), "32MiB");
    }

    #[test]
    fn go_times() {
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
    }
}
