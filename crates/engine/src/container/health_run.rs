//! Running health checks: one task per running container with a
//! HEALTHCHECK, probing through exec at the configured interval.

use std::sync::Arc;
use std::time::Instant;

use berth_runtime::frame::{self, Kind};
use tokio::io::AsyncReadExt;

use super::health::{self, Health, HealthConfig, HealthStatus, ProbeResult};
use super::{Container, ContainerService};
use crate::{time, Error};
use berth_api::exec::ExecCreate;

impl ContainerService {
    /// The container's effective health check, from its image and config.
    async fn health_config(&self, c: &Container) -> Option<HealthConfig> {
        let rec = c.record();
        let image = self.inner.images.config_json(&rec.image_id).await.ok();
        let image_check = image
            .as_ref()
            .and_then(|i| i.get("config"))
            .and_then(|c| c.get("Healthcheck"))
            .cloned();
        let shell = rec.config.shell.clone().unwrap_or_default();
        health::resolve(
            image_check.as_ref(),
            rec.config.healthcheck.as_ref(),
            &shell,
        )
    }

    /// Starts probing a container that just started, when it has a check.
    pub(super) async fn start_health(&self, c: &Arc<Container>) {
        let Some(config) = self.health_config(c).await else {
            let _ = c.update(false, |r| r.health = None);
            return;
        };
        let _ = c.update(false, |r| r.health = Some(Health::new()));
        let started = Instant::now();
        let exits = c.subscribe().borrow().exits;
        let (svc, c) = (self.clone(), c.clone());
        tokio::spawn(async move {
            let mut state = c.subscribe();
            loop {
                let status = c
                    .record()
                    .health
                    .map_or(HealthStatus::Starting, |h| h.status);
                let wait = config.next_wait(started.elapsed(), status);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = state.wait_for(|s| s.exits != exits || s.removed) => return,
                }
                if !c.record().status.is_running() || c.subscribe().borrow().exits != exits {
                    return;
                }
                let result = svc.probe(&c, &config).await;
                let in_start_period = started.elapsed() < config.start_period;
                let mut changed = None;
                let _ = c.update(false, |r| {
                    let h = r.health.get_or_insert_with(Health::new);
                    changed = h.record(result, config.retries, in_start_period);
                });
                if let Some(status) = changed {
                    let rec = c.record();
                    svc.inner.events.publish(super::event(
                        &format!("health_status: {}", status.as_str()),
                        &rec,
                    ));
                }
            }
        });
    }

    /// Runs one probe through exec; a probe that outlives the timeout is
    /// killed and fails with exit code -1, as Docker reports it.
    async fn probe(&self, c: &Container, config: &HealthConfig) -> ProbeResult {
        let start = time::now();
        let id = c.record().id;
        let create = ExecCreate {
            attach_stdout: true,
            attach_stderr: true,
            cmd: config.probe.clone(),
            ..Default::default()
        };
        let outcome: Result<(i64, String), Error> = async {
            let exec_id = self.exec_create(&id, create)?;
            let started = self.exec_start(&exec_id, false).await;
            let result = match started {
                Ok(s) => match s.conn {
                    Some(conn) => match tokio::time::timeout(config.timeout, collect(conn)).await {
                        Ok((code, output)) => Ok((code.unwrap_or(-1), output)),
                        Err(_) => {
                            if let Some(pid) = self.exec_pid(&exec_id) {
                                let _ = self
                                    .inner
                                    .runtime
                                    .signal(pid, nix::sys::signal::Signal::SIGKILL);
                            }
                            Ok((
                                -1,
                                format!("Health check exceeded timeout ({:?})", config.timeout),
                            ))
                        }
                    },
                    None => Ok((-1, String::new())),
                },
                Err(Error::StartFailed { message, exit_code }) => {
                    Ok((i64::from(exit_code), message))
                }
                Err(e) => Err(e),
            };
            self.forget_exec(&exec_id);
            result
        }
        .await;
        let (exit_code, output) = outcome.unwrap_or_else(|e| (-1, e.to_string()));
        ProbeResult {
            start,
            end: time::now(),
            exit_code,
            output,
        }
    }
}

/// Reads an exec's output frames until its exit frame: (exit code, output).
async fn collect(mut conn: tokio::net::UnixStream) -> (Option<i64>, String) {
    let mut output = Vec::new();
    let mut header = [0u8; frame::HEADER_LEN];
    loop {
        if conn.read_exact(&mut header).await.is_err() {
            return (None, String::from_utf8_lossy(&output).into_owned());
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut payload = vec![0u8; len];
        if conn.read_exact(&mut payload).await.is_err() {
            return (None, String::from_utf8_lossy(&output).into_owned());
        }
        if header[0] == Kind::Exit as u8 {
            let code = serde_json::from_slice::<berth_runtime::monitor::MonitorEvent>(&payload)
                .ok()
                .and_then(|e| match e {
                    berth_runtime::monitor::MonitorEvent::Exited { exit_code, .. }
                    | berth_runtime::monitor::MonitorEvent::Failed { exit_code, .. } => {
                        Some(i64::from(exit_code))
                    }
                    berth_runtime::monitor::MonitorEvent::Started { .. } => None,
                });
            return (code, String::from_utf8_lossy(&output).into_owned());
        }
        if output.len() < health::MAX_OUTPUT {
            output.extend_from_slice(&payload);
        }
    }
}
