//! Timestamps in Docker's formats; human durations come from berth-api.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 with nanoseconds, UTC, as Docker writes `Created`/`StartedAt`.
pub fn rfc3339_nano(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub fn now() -> String {
    rfc3339_nano(Utc::now())
}

/// Docker's zero time, shown for never-started containers.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub use berth_api::units::human_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_nanos() {
        let t = parse("2026-11-27T00:00:00.5Z").unwrap();
        assert_eq!(rfc3339_nano(t), "2026-11-27T00:00:00.500000000Z");
    }
}
