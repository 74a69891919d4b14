//! API version numbers: what the server advertises and accepts, and parsing of
//! the `/v1.NN/` path prefix.

use std::fmt;

/// An Engine API version `1.NN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    /// The version the server advertises.
    pub const CURRENT: ApiVersion = ApiVersion {
        major: 1,
        minor: 50,
    };
    /// The oldest version the server accepts.
    pub const MIN: ApiVersion = ApiVersion {
        major: 1,
        minor: 24,
    };

    /// Parses `1.41`; `None` for anything else.
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.split_once('.')?;
        if major.is_empty() || minor.is_empty() || minor.len() > 3 {
            return None;
        }
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    /// Splits a request path into its version prefix and the rest:
    /// `/v1.41/containers/json` -> `(Some("1.41"), "/containers/json")`.
    pub fn split_path(path: &str) -> (Option<&str>, &str) {
        if let Some(rest) = path.strip_prefix("/v") {
            let end = rest.find('/').unwrap_or(rest.len());
            let candidate = &rest[..end];
            if !candidate.is_empty() && candidate.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let tail = &rest[end..];
                return (Some(candidate), if tail.is_empty() { "/" } else { tail });
            }
        }
        (None, path)
    }

    pub fn is_supported(self) -> bool {
        self >= Self::MIN && self <= Self::CURRENT
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let v = ApiVersion::parse("1.41").unwrap();
        assert_eq!(
            v,
            ApiVersion {
                major: 1,
                minor: 41
            }
        );
        assert!(v.is_supported());
        assert!(!ApiVersion::parse("1.12").unwrap().is_supported());
        assert!(!ApiVersion::parse("1.51").unwrap().is_supported());
        assert!(ApiVersion::parse("1.9") < ApiVersion::parse("1.10"));
        assert_eq!(ApiVersion::parse("abc"), None);
        assert_eq!(ApiVersion::parse("1."), None);
    }

    #[test]
    fn splits_paths() {
        assert_eq!(
            ApiVersion::split_path("/v1.41/containers/json"),
            (Some("1.41"), "/containers/json")
        );
        assert_eq!(ApiVersion::split_path("/_ping"), (None, "/_ping"));
        assert_eq!(ApiVersion::split_path("/v1.50"), (Some("1.50"), "/"));
        assert_eq!(ApiVersion::split_path("/volumes"), (None, "/volumes"));
    }
}
