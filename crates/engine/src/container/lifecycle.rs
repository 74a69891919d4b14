//! Stop, kill, restart, rename, prune, and restarts by policy.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::restart::{next_delay, RestartPolicy};
use super::{Container, ContainerService, Status};
use crate::{ids, time, Error};

/// Docker's default `stop` timeout.
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(s: &str) -> Result<Signal, Error> {
    let invalid = || Error::InvalidArgument(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| invalid());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| invalid())
}

/// Waits until the container is no longer running, at most `limit`.
pub(super) async fn exited_within(c: &Container, limit: Duration) -> bool {
    let mut rx = c.subscribe();
    let wait = async {
        loop {
            if !rx.borrow_and_update().status.is_running() {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

impl ContainerService {
    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the
    /// timeout. A stopped container answers NotModified (304).
    pub async fn stop(
        &self,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if rec.status == Status::Restarting {
            // Cancels the pending restart.
            c.update(false, |r| {
                r.manually_stopped = true;
                r.set_status(Status::Exited);
            })?;
            return Ok(());
        }
        if !rec.status.is_running() {
            return Err(Error::NotModified);
        }
        c.update(false, |r| r.manually_stopped = true)?;
        self.thaw_if_paused(&c).await?;
        let signal = match signal
            .filter(|s| !s.is_empty())
            .or(rec.config.stop_signal.as_deref())
        {
            Some(s) => parse_signal(s)?,
            None => Signal::SIGTERM,
        };
        let timeout = timeout
            .or(rec.config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        self.publish_kill(&rec, signal);
        self.inner.runtime.signal(rec.pid, signal)?;
        // A negative timeout waits forever, as Docker.
        let limit = if timeout < 0 {
            Duration::from_secs(u64::MAX / 4)
        } else {
            Duration::from_secs(timeout as u64)
        };
        if !exited_within(&c, limit).await {
            self.publish_kill(&rec, Signal::SIGKILL);
            self.inner.runtime.signal(c.record().pid, Signal::SIGKILL)?;
            if !exited_within(&c, Duration::from_secs(30)).await {
                return Err(Error::Internal(format!(
                    "container {} did not exit after SIGKILL",
                    rec.id
                )));
            }
        }
        self.publish("stop", &rec);
        Ok(())
    }

    pub(super) fn publish_kill(&self, rec: &super::ContainerRecord, signal: Signal) {
        self.inner
            .events
            .publish(super::event("kill", rec).with("signal", (signal as i32).to_string()));
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, name_or_id: &str, signal: Option<&str>) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let rec = c.record();
        let signal = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None => Signal::SIGKILL,
        };
        if !rec.status.is_running() {
            return Err(Error::Conflict {
                message: format!("Container {} is not running", rec.id),
            });
        }
        self.publish_kill(&rec, signal);
        self.inner.runtime.signal(rec.pid, signal)?;
        // As Docker, SIGKILL returns once the process is gone, so an
        // inspect right after shows it exited (a frozen one dies when thawed).
        if signal == Signal::SIGKILL && rec.status != super::Status::Paused {
            let waited = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.wait(&rec.id, super::WaitCondition::NotRunning),
            )
            .await;
            if waited.is_err() {
                return Err(Error::Internal(format!(
                    "container {} did not exit within 10 seconds of SIGKILL",
                    rec.id
                )));
            }
        }
        Ok(())
    }

    /// `POST /containers/{id}/restart`: stop (if running) then start.
    pub async fn restart(
        &self,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), Error> {
        match self.stop(name_or_id, timeout, signal).await {
            Ok(()) | Err(Error::NotModified) => {}
            Err(e) => return Err(e),
        }
        self.start(name_or_id).await?;
        let c = self.get(name_or_id)?;
        self.publish("restart", &c.record());
        Ok(())
    }

    /// `POST /containers/{id}/rename`.
    pub fn rename(&self, name_or_id: &str, new_name: &str) -> Result<(), Error> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name).to_string();
        if new_name.is_empty() {
            return Err(Error::InvalidArgument(
                "Neither old nor new names may be empty".into(),
            ));
        }
        if !ids::valid_name(&new_name) {
            return Err(Error::InvalidArgument(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let c = self.get(name_or_id)?;
        let rec = c.record();
        if rec.name == new_name {
            return Err(Error::InvalidArgument(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        {
            let mut t = self.table_mut();
            if let Some(other) = t.names.get(&new_name) {
                return Err(Error::Conflict {
                    message: format!(
                        "Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                    ),
                });
            }
            t.names.remove(&rec.name);
            t.names.insert(new_name.clone(), rec.id.clone());
        }
        if let Err(e) = c.update(false, |r| r.name = new_name.clone()) {
            let mut t = self.table_mut();
            t.names.remove(&new_name);
            t.names.insert(rec.name.clone(), rec.id.clone());
            return Err(e);
        }
        let renamed = c.record();
        self.inner
            .network_use
            .networks
            .rename(&renamed.id, &renamed.name);
        self.inner
            .events
            .publish(super::event("rename", &renamed).with("oldName", format!("/{}", rec.name)));
        Ok(())
    }

    /// `POST /containers/prune`: removes every stopped container matching
    /// the filters (`label`, `label!`, `until`); returns ids and bytes freed.
    pub async fn prune(
        &self,
        filters: &std::collections::HashMap<String, Vec<String>>,
    ) -> Result<(Vec<String>, u64), Error> {
        let args = crate::filters::Args::from(filters);
        args.validate(&["label", "label!", "until"])?;
        let until = args.until()?;
        let candidates: Vec<super::ContainerRecord> = self
            .table()
            .by_id
            .values()
            .map(|c| c.record())
            .filter(|r| matches!(r.status, Status::Created | Status::Exited | Status::Dead))
            .filter(|r| until.is_none_or(|u| time::parse(&r.created).is_some_and(|t| t < u)))
            .filter(|r| args.labels_select(&r.config.labels))
            .collect();
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for r in candidates {
            let upper = self.inner.config.paths.container(&r.id).upper();
            let size = tokio::task::spawn_blocking(move || crate::fsutil::dir_size(&upper))
                .await
                .unwrap_or(0);
            match self.remove(&r.id, false, false).await {
                Ok(()) => {
                    reclaimed += size;
                    deleted.push(r.id);
                }
                Err(e) => {
                    tracing::warn!(id = %r.id, error = %e, "prune: removing container failed")
                }
            }
        }
        Ok((deleted, reclaimed))
    }
}

/// After an exit: restarts the container after the policy's back-off.
pub(super) fn restart_by_policy(svc: &ContainerService, c: &Arc<Container>) {
    let rec = c.record();
    let policy = RestartPolicy::parse(&rec.host_config.restart_policy).unwrap_or(RestartPolicy::No);
    if !policy.restarts_after_exit(rec.exit_code, rec.restart_count, rec.manually_stopped) {
        return;
    }
    let ran_for = match (time::parse(&rec.started_at), time::parse(&rec.finished_at)) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let delay = next_delay(Duration::from_millis(rec.restart_delay_ms), ran_for);
    let marked = c.update(false, |r| {
        r.set_status(Status::Restarting);
        r.restart_delay_ms = delay.as_millis() as u64;
    });
    if let Err(e) = marked {
        tracing::warn!(id = %rec.id, error = %e, "recording the restart failed");
        return;
    }
    let (svc, c) = (svc.clone(), c.clone());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let now = c.record();
        if now.status != Status::Restarting || c.subscribe().borrow().removed {
            return;
        }
        if let Err(e) = c.update(false, |r| r.restart_count += 1) {
            tracing::warn!(id = %now.id, error = %e, "recording the restart failed");
        }
        if let Err(e) = svc.start_boxed(now.id.clone()).await {
            tracing::warn!(id = %now.id, error = %e, "restarting container failed");
            let _ = c.update(false, |r| {
                r.set_status(Status::Exited);
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("HUP").unwrap(), Signal::SIGHUP);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
