//! Health checks: the effective HEALTHCHECK (image merged with the
//! container's settings) and the state machine Docker applies to probe
//! results. Pure; the scheduler that runs probes lives with exec.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Docker's defaults.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u32 = 3;
/// Between probes during the start period, while the container is still
/// starting.
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
/// How many probe results inspect keeps.
pub const LOG_ENTRIES: usize = 5;
/// Probe output kept per result.
pub const MAX_OUTPUT: usize = 4096;

/// The check to run, resolved from the image and the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// The argv of the probe (`CMD-SHELL` already wrapped in the shell).
    pub probe: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

impl HealthConfig {
    /// The wait before the next probe: the start interval while the start
    /// period lasts and the container is still starting, else the interval.
    pub fn next_wait(&self, since_start: Duration, status: HealthStatus) -> Duration {
        if since_start < self.start_period && status == HealthStatus::Starting {
            self.start_interval
        } else {
            self.interval
        }
    }
}

/// Docker's checks of a container's `Healthcheck` at create.
pub fn validate(check: Option<&Value>) -> Result<(), String> {
    let Some(check) = check.filter(|c| c.is_object()) else {
        return Ok(());
    };
    for key in ["Interval", "Timeout", "StartPeriod", "StartInterval"] {
        let v = check.get(key).and_then(Value::as_i64).unwrap_or(0);
        if v != 0 && v < 1_000_000 {
            return Err(format!("{key} in Healthcheck cannot be less than 1ms"));
        }
    }
    if check.get("Retries").and_then(Value::as_i64).unwrap_or(0) < 0 {
        return Err("Retries in Healthcheck cannot be negative".into());
    }
    Ok(())
}

fn duration(v: Option<&Value>) -> Option<Duration> {
    v.and_then(Value::as_i64)
        .filter(|n| *n > 0)
        .map(|n| Duration::from_nanos(n as u64))
}

/// Merges Docker's `Healthcheck` objects: the container's fields win where
/// set; `Test: ["NONE"]` disables. `shell` is the image's SHELL or `/bin/sh -c`.
pub fn resolve(
    image: Option<&Value>,
    container: Option<&Value>,
    shell: &[String],
) -> Option<HealthConfig> {
    let pick = |key: &str| {
        container
            .and_then(|c| c.get(key))
            .filter(|v| !berth_api::container::is_zero(v))
            .or_else(|| image.and_then(|i| i.get(key)))
    };
    let test: Vec<String> = pick("Test").and_then(|t| serde_json::from_value(t.clone()).ok())?;
    let probe = match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            let mut argv = if shell.is_empty() {
                vec!["/bin/sh".to_string(), "-c".to_string()]
            } else {
                shell.to_vec()
            };
            argv.push(rest.join(" "));
            argv
        }
        _ => return None,
    };
    Some(HealthConfig {
        probe,
        interval: duration(pick("Interval")).unwrap_or(DEFAULT_INTERVAL),
        timeout: duration(pick("Timeout")).unwrap_or(DEFAULT_TIMEOUT),
        start_period: duration(pick("StartPeriod")).unwrap_or(Duration::ZERO),
        start_interval: duration(pick("StartInterval")).unwrap_or(DEFAULT_START_INTERVAL),
        retries: pick("Retries")
            .and_then(Value::as_u64)
            .filter(|r| *r > 0)
            .map_or(DEFAULT_RETRIES, |r| r as u32),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One probe result as inspect shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// `State.Health` in inspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: VecDeque<ProbeResult>,
}

impl Health {
    pub fn new() -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: VecDeque::new(),
        }
    }

    /// Applies a probe result; `in_start_period` when the container started
    /// less than the start period ago (failures then do not count). Returns
    /// the new status when it changed.
    pub fn record(
        &mut self,
        result: ProbeResult,
        retries: u32,
        in_start_period: bool,
    ) -> Option<HealthStatus> {
        let before = self.status;
        if result.exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
        } else if !(in_start_period && self.status == HealthStatus::Starting) {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        if self.log.len() == LOG_ENTRIES {
            self.log.pop_front();
        }
        let mut result = result;
        if result.output.len() > MAX_OUTPUT {
            let mut cut = MAX_OUTPUT;
            while !result.output.is_char_boundary(cut) {
                cut -= 1;
            }
            result.output.truncate(cut);
        }
        self.log.push_back(result);
        (self.status != before).then_some(self.status)
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(code: i64) -> ProbeResult {
        ProbeResult {
            start: "s".into(),
            end: "e".into(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn resolves_image_and_container_settings() {
        let image = json!({"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 1_000_000_000i64, "Retries": 2});
        let c = resolve(Some(&image), None, &[]).unwrap();
        assert_eq!(c.probe, vec!["/bin/sh", "-c", "test -f /tmp/ok"]);
        assert_eq!(
            (c.interval, c.timeout, c.retries),
            (Duration::from_secs(1), DEFAULT_TIMEOUT, 2)
        );
        let ctr = json!({"Test": ["CMD", "true"], "Interval": 0, "Timeout": 2_000_000_000i64});
        let c = resolve(Some(&image), Some(&ctr), &[]).unwrap();
        assert_eq!(c.probe, vec!["true"]);
        assert_eq!(
            (c.interval, c.timeout),
            (Duration::from_secs(1), Duration::from_secs(2))
        );
        assert_eq!(
            resolve(Some(&image), Some(&json!({"Test": ["NONE"]})), &[]),
            None
        );
        assert_eq!(resolve(None, None, &[]), None);
    }

    #[test]
    fn starting_unhealthy_healthy() {
        let mut h = Health::new();
        assert_eq!(h.record(result(1), 3, false), None);
        assert_eq!(h.record(result(1), 3, false), None);
        assert_eq!(h.record(result(1), 3, false), Some(HealthStatus::Unhealthy));
        assert_eq!(h.failing_streak, 3);
        assert_eq!(h.record(result(0), 3, false), Some(HealthStatus::Healthy));
        assert_eq!(h.failing_streak, 0);
        for _ in 0..10 {
            h.record(result(0), 3, false);
        }
        assert_eq!(h.log.len(), LOG_ENTRIES);
    }

    #[test]
    fn docker_checks_and_start_interval() {
        let bad = |v: Value| validate(Some(&v)).unwrap_err();
        assert_eq!(
            bad(json!({"Interval": 5})),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            bad(json!({"Timeout": -1})),
            "Timeout in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            bad(json!({"StartInterval": 999_999})),
            "StartInterval in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            bad(json!({"Retries": -1})),
            "Retries in Healthcheck cannot be negative"
        );
        assert!(validate(Some(&json!({"Interval": 0, "Timeout": 1_000_000}))).is_ok());
        assert!(validate(None).is_ok());
        let c = resolve(
            None,
            Some(&json!({"Test": ["CMD", "true"], "StartPeriod": 60_000_000_000i64, "StartInterval": 1_000_000_000})),
            &[],
        )
        .expect("check");
        assert_eq!(
            c.next_wait(Duration::from_secs(1), HealthStatus::Starting),
            Duration::from_secs(1)
        );
        assert_eq!(
            c.next_wait(Duration::from_secs(1), HealthStatus::Healthy),
            DEFAULT_INTERVAL
        );
        assert_eq!(
            c.next_wait(Duration::from_secs(61), HealthStatus::Starting),
            DEFAULT_INTERVAL
        );
    }

    #[test]
    fn start_period_failures_do_not_count() {
        let mut h = Health::new();
        for _ in 0..5 {
            assert_eq!(h.record(result(1), 1, true), None);
        }
        assert_eq!(h.status, HealthStatus::Starting);
        assert_eq!(h.record(result(0), 1, true), Some(HealthStatus::Healthy));
        assert_eq!(h.record(result(1), 1, true), Some(HealthStatus::Unhealthy));
    }
}
