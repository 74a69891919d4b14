//! The time the store records (`created`, `added`).

/// The current time as RFC 3339 with nanoseconds, UTC (`2024-01-02T03:04:05.123456789Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
