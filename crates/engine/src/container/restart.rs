//! Restart policies and Docker's back-off. Pure.

use std::time::Duration;

use berth_api::container::RestartPolicy as ApiPolicy;

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    /// Restart on a non-zero exit, at most this many times (None: no limit).
    OnFailure(Option<u32>),
}

/// The first delay; it doubles after each restart up to [`MAX_DELAY`].
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A container that ran at least this long restarts with the first delay again.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

impl RestartPolicy {
    pub fn parse(p: &ApiPolicy) -> Result<RestartPolicy, Error> {
        let retries = p.maximum_retry_count;
        match p.name.as_str() {
            "" | "no" => Ok(RestartPolicy::No),
            "always" | "unless-stopped" if retries != 0 => Err(Error::InvalidArgument(format!(
                "maximum retry count cannot be used with restart policy '{}'",
                p.name
            ))),
            "always" => Ok(RestartPolicy::Always),
            "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            "on-failure" if retries < 0 => Err(Error::InvalidArgument(
                "maximum retry count cannot be negative".into(),
            )),
            "on-failure" => Ok(RestartPolicy::OnFailure(
                (retries > 0).then_some(retries as u32),
            )),
            other => Err(Error::InvalidArgument(format!(
                "invalid restart policy '{other}'"
            ))),
        }
    }

    /// Whether a container that just exited restarts.
    pub fn restarts_after_exit(
        self,
        exit_code: i64,
        restart_count: i64,
        manually_stopped: bool,
    ) -> bool {
        if manually_stopped {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => {
                exit_code != 0 && max.is_none_or(|m| restart_count < i64::from(m))
            }
        }
    }

    /// Whether the daemon starts the container when it starts itself.
    pub fn starts_with_daemon(self, manually_stopped: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !manually_stopped,
            RestartPolicy::No | RestartPolicy::OnFailure(_) => false,
        }
    }
}

/// The delay before the next restart, given the last one and how long the
/// container ran.
pub fn next_delay(previous: Duration, ran_for: Duration) -> Duration {
    if ran_for >= RESET_AFTER || previous.is_zero() {
        FIRST_DELAY
    } else {
        (previous * 2).min(MAX_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, n: i64) -> RestartPolicy {
        RestartPolicy::parse(&ApiPolicy {
            name: name.into(),
            maximum_retry_count: n,
        })
        .unwrap()
    }

    #[test]
    fn parses() {
        assert_eq!(policy("", 0), RestartPolicy::No);
        assert_eq!(policy("on-failure", 3), RestartPolicy::OnFailure(Some(3)));
        assert_eq!(policy("on-failure", 0), RestartPolicy::OnFailure(None));
        assert!(RestartPolicy::parse(&ApiPolicy {
            name: "always".into(),
            maximum_retry_count: 2
        })
        .is_err());
        assert!(RestartPolicy::parse(&ApiPolicy {
            name: "sometimes".into(),
            maximum_retry_count: 0
        })
        .is_err());
    }

    #[test]
    fn on_failure_counts() {
        let p = policy("on-failure", 3);
        assert!(p.restarts_after_exit(1, 0, false));
        assert!(p.restarts_after_exit(1, 2, false));
        assert!(!p.restarts_after_exit(1, 3, false));
        assert!(!p.restarts_after_exit(0, 0, false));
        assert!(!policy("always", 0).restarts_after_exit(0, 9, true));
        assert!(policy("always", 0).restarts_after_exit(0, 9, false));
    }

    #[test]
    fn daemon_start() {
        assert!(policy("always", 0).starts_with_daemon(true));
        assert!(!policy("unless-stopped", 0).starts_with_daemon(true));
        assert!(policy("unless-stopped", 0).starts_with_daemon(false));
        assert!(!policy("on-failure", 0).starts_with_daemon(false));
    }

    #[test]
    fn backoff_doubles_and_resets() {
        assert_eq!(next_delay(Duration::ZERO, Duration::ZERO), FIRST_DELAY);
        assert_eq!(
            next_delay(FIRST_DELAY, Duration::from_secs(1)),
            Duration::from_millis(200)
        );
        assert_eq!(
            next_delay(Duration::from_secs(50), Duration::from_secs(1)),
            MAX_DELAY
        );
        assert_eq!(
            next_delay(Duration::from_secs(50), Duration::from_secs(11)),
            FIRST_DELAY
        );
    }
}
