//! Timestamps in Docker's formats; human durations come from berth-api.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// RFC 3339 with nanoseconds, UTC, as Docker writes `Created`/`StartedAt`.
pub fn rfc3339_nano(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub fn now() -> String {
    rfc3339_nano(Utc::now())
}

/// Docker's zero time, shown for never-started containers.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// `SOURCE_DATE_EPOCH` as the RFC 3339 time images record.
pub fn epoch_rfc3339(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub use berth_api::units::human_duration;

/// Docker's `until`/`since` values, as its daemon reads them in filters:
/// a Go duration before now (`10m`, `1h30m`), RFC 3339 with or without
/// seconds, fraction or zone (`2026-01-02`, `2026-01-02T15:04`,
/// `2026-01-02T15:04:05.5+01:00`; no zone means the daemon's local time),
/// or unix seconds with an optional fraction (`1700000000.5`).
pub fn parse_docker(value: &str) -> Result<DateTime<Utc>, String> {
    let local = *chrono::Local::now().offset();
    parse_docker_at(value, Utc::now(), local)
}

/// [`parse_docker`] against a given `now` and local offset.
pub fn parse_docker_at(
    value: &str,
    now: DateTime<Utc>,
    local: FixedOffset,
) -> Result<DateTime<Utc>, String> {
    if value.trim().is_empty() {
        return Err("failed to parse value as time or duration: value is empty".into());
    }
    if value != "0" {
        let (sign, body) = match value.strip_prefix('-') {
            Some(b) => (-1, b),
            None => (1, value.strip_prefix('+').unwrap_or(value)),
        };
        if let Some(ns) = berth_api::units::go_duration_ns(body) {
            return Ok(now - chrono::Duration::nanoseconds(sign * ns));
        }
    }
    let zoned = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    match calendar(value, zoned, local) {
        Some(t) => Ok(t),
        None if value.contains('-') => Err(format!(
            "parsing time \"{value}\": not a valid RFC 3339 time"
        )),
        None => unix_seconds(value)
            .map_err(|e| format!("failed to parse value as time or duration: {e}")),
    }
}

/// The calendar forms Docker accepts, in the shape Go's layouts demand:
/// a fraction needs full seconds, `T` takes hours, minutes and seconds by
/// its count of colons, and a zone is `Z` or `±hh:mm`.
fn calendar(value: &str, zoned: bool, local: FixedOffset) -> Option<DateTime<Utc>> {
    let (clock, zone) = if zoned {
        if let Some(v) = value.strip_suffix(['Z', 'z']) {
            (v, FixedOffset::east_opt(0)?)
        } else {
            let at = value.len().checked_sub(6)?;
            let (v, z) = (value.get(..at)?, value.get(at..)?);
            let sign = match z.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = z[1..].split_once(':')?;
            let secs = (two_digits(h)? * 3600 + two_digits(m)? * 60) as i32;
            (v, FixedOffset::east_opt(sign * secs)?)
        }
    } else {
        (value, local)
    };
    let (date, time) = match clock.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (clock, None),
    };
    let date = fixed_date(date)?;
    let naive = match time {
        None if !value.contains('.') => date.and_hms_opt(0, 0, 0)?,
        None => return None,
        Some(t) => {
            let (hms, frac) = match t.split_once('.') {
                Some((hms, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                    (hms, Some(f))
                }
                Some(_) => return None,
                None => (t, None),
            };
            let parts: Vec<&str> = hms.split(':').collect();
            if frac.is_some() && parts.len() != 3 {
                return None;
            }
            let hour = match parts[0].len() {
                1 | 2 => parts[0].parse::<u32>().ok()?,
                _ => return None,
            };
            let minute = parts.get(1).map_or(Some(0), |m| two_digits(m))?;
            let second = parts.get(2).map_or(Some(0), |s| two_digits(s))?;
            if parts.len() > 3 {
                return None;
            }
            let nanos = frac.map_or(0, |f| {
                let digits: String = f.chars().chain(std::iter::repeat('0')).take(9).collect();
                digits.parse().unwrap_or(0)
            });
            date.and_hms_nano_opt(hour, minute, second, nanos)?
        }
    };
    NaiveDateTime::and_local_timezone(&naive, zone)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn two_digits(s: &str) -> Option<u32> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn fixed_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// `seconds[.fraction]`, the fraction right-padded or cut to nanoseconds.
fn unix_seconds(value: &str) -> Result<DateTime<Utc>, String> {
    let (s, n) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = s
        .parse()
        .map_err(|_| format!("invalid seconds \"{s}\": invalid syntax"))?;
    if n.len() > 20 {
        return Err(format!(
            "invalid nanoseconds: length {} exceeds maximum 20",
            n.len()
        ));
    }
    if let Some((i, c)) = n.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(format!(
            "invalid nanoseconds: invalid character '{c}' at position {i}"
        ));
    }
    let nanos: String = n.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: u32 = nanos.parse().unwrap_or(0);
    Utc.timestamp_opt(secs, nanos)
        .single()
        .ok_or_else(|| format!("invalid seconds \"{s}\": value out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps() {
        let now = parse("2026-06-01T12:00:00Z").unwrap();
        let plus2 = FixedOffset::east_opt(7200).unwrap();
        let at = |v: &str| parse_docker_at(v, now, plus2).map(rfc3339_nano);
        let ok = |v: &str, want: &str| assert_eq!(at(v).as_deref(), Ok(want), "{v}");
        ok("10m", "2026-06-01T11:50:00.000000000Z");
        ok("1h30m", "2026-06-01T10:30:00.000000000Z");
        ok("-1h", "2026-06-01T13:00:00.000000000Z");
        ok("0", "1970-01-01T00:00:00.000000000Z");
        ok("1700000000", "2023-11-14T22:13:20.000000000Z");
        ok("1700000000.5", "2023-11-14T22:13:20.500000000Z");
        ok("1700000000.123456789123", "2023-11-14T22:13:20.123456789Z");
        ok("2026-01-02", "2026-01-01T22:00:00.000000000Z");
        ok("2026-01-02Z", "2026-01-02T00:00:00.000000000Z");
        ok("2026-01-02+01:00", "2026-01-01T23:00:00.000000000Z");
        ok("2026-01-02T15", "2026-01-02T13:00:00.000000000Z");
        ok("2026-01-02T15:04", "2026-01-02T13:04:00.000000000Z");
        ok("2026-01-02T15:04:05", "2026-01-02T13:04:05.000000000Z");
        ok("2026-01-02T15:04:05Z", "2026-01-02T15:04:05.000000000Z");
        ok("2026-01-02T15:04Z", "2026-01-02T15:04:00.000000000Z");
        ok("2026-01-02T15:04:05.25", "2026-01-02T13:04:05.250000000Z");
        ok(
            "2026-01-02T15:04:05.25-03:00",
            "2026-01-02T18:04:05.250000000Z",
        );
        ok(
            "2026-01-02T15:04:05+00:00",
            "2026-01-02T15:04:05.000000000Z",
        );
        for bad in [
            "",
            " ",
            "2026-13-01",
            "2026-01-02T15:04.5",
            "yesterday",
            "12.x",
            "1.-5",
        ] {
            assert!(at(bad).is_err(), "{bad}: {:?}", at(bad));
        }
        assert_eq!(
            at("yesterday").unwrap_err(),
            "failed to parse value as time or duration: invalid seconds \"yesterday\": invalid syntax"
        );
    }

    #[test]
    fn formats_nanos() {
        let t = parse("2026-11-27T00:00:00.5Z").unwrap();
        assert_eq!(rfc3339_nano(t), "2026-11-27T00:00:00.500000000Z");
    }
}
