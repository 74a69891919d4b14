//! Logging drivers: which ones a container may ask for, their options
//! checked as Docker checks them, and what the monitor is told. Pure.
//!
//! `json-file` (the default) and `local` both write berth's log file
//! (`local`'s on-disk format is berth's own, as it is Docker's); `none`
//! keeps nothing, so `logs` cannot read it. Docker's other built-in
//! drivers are refused as not supported yet; any other name is Docker's
//! "no log driver named" error.

use berth_api::container::LogConfig;

use crate::Error;

/// The driver a container's `HostConfig.LogConfig.Type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDriver {
    JsonFile,
    Local,
    None,
}

/// The default driver's name, recorded when a request names none.
pub const DEFAULT_DRIVER: &str = "json-file";

/// Docker's built-in drivers berth does not implement.
const NOT_YET: &[&str] = &[
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// What the monitor does with a container's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub driver: LogDriver,
    /// Rotate before a file grows past this many bytes; `None`: never.
    pub max_size: Option<u64>,
    /// Files kept by rotation, the live one included.
    pub max_files: u32,
}

impl LogDriver {
    /// `""` is the default driver.
    pub fn parse(name: &str) -> Result<LogDriver, Error> {
        match name {
            "" | "json-file" => Ok(LogDriver::JsonFile),
            "local" => Ok(LogDriver::Local),
            "none" => Ok(LogDriver::None),
            other if NOT_YET.contains(&other) => Err(Error::InvalidArgument(format!(
                "berth does not support the {other} log driver yet"
            ))),
            other => Err(Error::InvalidArgument(format!(
                "logger: no log driver named '{other}' is registered"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::Local => "local",
            LogDriver::None => "none",
        }
    }

    /// Whether `logs` (and attach's log replay) can read what it kept.
    pub fn readable(self) -> bool {
        !matches!(self, LogDriver::None)
    }
}

/// Docker's error for reading a container whose driver keeps nothing.
pub const NOT_READABLE: &str = "configured logging driver does not support reading";

/// Checks the driver and its options as Docker does and gives the
/// monitor's settings.
pub fn settings(log: &LogConfig) -> Result<LogSettings, Error> {
    let driver = LogDriver::parse(&log.kind)?;
    let bad =
        |k: &str, v: &str| Error::InvalidArgument(format!("invalid value for log option {k}: {v}"));
    let (mut max_size, mut max_files, mut compress) = match driver {
        LogDriver::None => {
            return Ok(LogSettings {
                driver,
                max_size: None,
                max_files: 1,
            })
        }
        LogDriver::JsonFile => (None, 1u32, false),
        // Docker's defaults for `local`; its compression is part of its own
        // file format, which berth does not share.
        LogDriver::Local => (Some(20u64 << 20), 5u32, false),
    };
    for (k, v) in &log.config {
        match k.as_str() {
            "max-size" => {
                // Docker: -1 (or absent) means unlimited.
                max_size = if v.trim() == "-1" {
                    None
                } else {
                    Some(
                        berth_api::units::ram_in_bytes(v)
                            .filter(|b| *b > 0)
                            .map(|b| b as u64)
                            .ok_or_else(|| bad(k, v))?,
                    )
                };
            }
            "max-file" => {
                let n: i64 = v.trim().parse().map_err(|_| bad(k, v))?;
                if n < 1 {
                    return Err(Error::InvalidArgument(
                        "max-file cannot be less than 1".into(),
                    ));
                }
                max_files = u32::try_from(n).map_err(|_| bad(k, v))?;
            }
            "compress" => {
                compress = parse_bool(v).ok_or_else(|| bad(k, v))?;
            }
            "labels" | "labels-regex" | "env" | "env-regex" | "tag"
                if driver == LogDriver::JsonFile =>
            {
                return Err(Error::InvalidArgument(format!(
                    "berth does not support the log option '{k}' yet"
                )))
            }
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown log opt '{other}' for {} log driver",
                    driver.name()
                )))
            }
        }
    }
    if compress && driver == LogDriver::JsonFile {
        if max_files < 2 || max_size.is_none() {
            return Err(Error::InvalidArgument(
                "compress cannot be true when max-file is less than 2 or max-size is not set"
                    .into(),
            ));
        }
        return Err(Error::InvalidArgument(
            "berth does not support compressed json-file logs yet".into(),
        ));
    }
    // Without a size limit nothing rotates, whatever max-file says.
    if max_size.is_none() {
        max_files = 1;
    }
    Ok(LogSettings {
        driver,
        max_size,
        max_files,
    })
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: &str, pairs: &[(&str, &str)]) -> LogConfig {
        LogConfig {
            kind: kind.into(),
            config: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn err(kind: &str, pairs: &[(&str, &str)]) -> String {
        settings(&cfg(kind, pairs)).unwrap_err().to_string()
    }

    #[test]
    fn drivers() {
        let s = |k: &str, p: &[(&str, &str)]| settings(&cfg(k, p)).unwrap();
        assert_eq!(
            s("", &[]),
            LogSettings {
                driver: LogDriver::JsonFile,
                max_size: None,
                max_files: 1
            }
        );
        assert_eq!(
            s("json-file", &[("max-size", "10k"), ("max-file", "3")]),
            LogSettings {
                driver: LogDriver::JsonFile,
                max_size: Some(10240),
                max_files: 3
            }
        );
        // Docker takes max-file alone; nothing rotates without a size.
        assert_eq!(s("json-file", &[("max-file", "100")]).max_files, 1);
        assert_eq!(
            s("local", &[]),
            LogSettings {
                driver: LogDriver::Local,
                max_size: Some(20 << 20),
                max_files: 5
            }
        );
        assert_eq!(s("none", &[]).driver, LogDriver::None);
        assert!(!LogDriver::None.readable());
        assert_eq!(s("json-file", &[("compress", "false")]).max_files, 1);
    }

    /// A driver, its options, and Docker's error for them.
    type ErrorCase = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );

    #[test]
    fn errors_in_dockers_words() {
        let cases: &[ErrorCase] = &[
            (
                "asdf",
                &[],
                "logger: no log driver named 'asdf' is registered",
            ),
            (
                "syslog",
                &[],
                "berth does not support the syslog log driver yet",
            ),
            (
                "json-file",
                &[("max-file", "0")],
                "max-file cannot be less than 1",
            ),
            (
                "json-file",
                &[("max-size", "lots")],
                "invalid value for log option max-size: lots",
            ),
            (
                "json-file",
                &[("foo", "1")],
                "unknown log opt 'foo' for json-file log driver",
            ),
            (
                "local",
                &[("tag", "x")],
                "unknown log opt 'tag' for local log driver",
            ),
            (
                "json-file",
                &[("compress", "true")],
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
        ];
        for (kind, opts, message) in cases {
            assert_eq!(err(kind, opts), *message, "{kind} {opts:?}");
        }
    }
}
