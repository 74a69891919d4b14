//! `attach`: an API client's stream joined to the container monitor's
//! socket. An attach made before `start` is counted, so the monitor holds
//! the program until it has connected.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{Container, ContainerService};
use crate::container::logs::{LogOptions, StartAt};
use crate::monitor_io::{self, BridgeEnd, BridgeOptions};
use crate::Error;

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub logs: bool,
    pub stream: bool,
    pub detach_keys: Option<String>,
}

/// Counts an attach waiting for the next start.
struct Pending(Arc<Container>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0
            .pending_attaches
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// An attach that has been accepted; [`AttachTicket::run`] does the work.
pub struct AttachTicket {
    svc: ContainerService,
    c: Arc<Container>,
    generation: u64,
    pending: Option<Pending>,
    opts: AttachOptions,
    keys: Vec<u8>,
}

impl ContainerService {
    /// Checks the request and, for a container that does not run yet,
    /// registers the attach so the next start waits for it.
    pub fn prepare_attach(
        &self,
        name_or_id: &str,
        opts: AttachOptions,
    ) -> Result<AttachTicket, Error> {
        let c = self.get(name_or_id)?;
        let keys = match opts.detach_keys.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => monitor_io::parse_detach_keys(k).map_err(Error::InvalidArgument)?,
            None => monitor_io::DEFAULT_DETACH_KEYS.to_vec(),
        };
        let generation = *c.spawned.borrow();
        let pending = if opts.stream && !c.record().status.is_running() {
            c.pending_attaches.send_modify(|n| *n += 1);
            Some(Pending(c.clone()))
        } else {
            None
        };
        Ok(AttachTicket {
            svc: self.clone(),
            c,
            generation,
            pending,
            opts,
            keys,
        })
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, name_or_id: &str, rows: u16, cols: u16) -> Result<(), Error> {
        let rec = self.get(name_or_id)?.record();
        if !rec.status.is_running() {
            return Err(Error::Conflict {
                message: format!("Container {} is not running", rec.id),
            });
        }
        monitor_io::resize(&self.inner.config.paths.attach_socket(&rec.id), rows, cols).await
    }

    pub(crate) fn attach_socket_of(&self, id: &str) -> std::path::PathBuf {
        self.inner.config.paths.attach_socket(id)
    }
}

impl AttachTicket {
    pub fn tty(&self) -> bool {
        self.c.record().config.tty
    }

    /// Streams until the process ends, the client detaches or goes away.
    pub async fn run<C>(mut self, mut client: C) -> BridgeEnd
    where
        C: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let rec = self.c.record();
        let tty = rec.config.tty;
        if self.opts.logs {
            let log_opts = LogOptions {
                stdout: self.opts.stdout,
                stderr: self.opts.stderr,
                ..Default::default()
            };
            if let Ok(mut rx) = self.svc.log_stream(&rec.id, log_opts, StartAt::Beginning) {
                while let Some(chunk) = rx.recv().await {
                    if client.write_all(&chunk).await.is_err() {
                        return BridgeEnd::Closed;
                    }
                }
            }
        }
        if !self.opts.stream {
            let _ = client.shutdown().await;
            return BridgeEnd::Closed;
        }
        if self.pending.is_some() {
            // Wait for the next monitor (or the container's removal).
            let mut spawned = self.c.spawned.subscribe();
            let mut state = self.c.subscribe();
            let generation = self.generation;
            tokio::select! {
                r = spawned.wait_for(|g| *g > generation) => if r.is_err() { return BridgeEnd::Closed },
                _ = state.wait_for(|s| s.removed) => return BridgeEnd::Closed,
            }
        }
        let socket = self.svc.attach_socket_of(&rec.id);
        let monitor = match monitor_io::connect(&socket, Duration::from_secs(10)).await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "attach could not reach the monitor");
                let _ = client.shutdown().await;
                return BridgeEnd::Closed;
            }
        };
        drop(self.pending.take());
        let opts = BridgeOptions {
            tty,
            stdin: self.opts.stdin && rec.config.open_stdin,
            stdout: self.opts.stdout,
            stderr: self.opts.stderr,
            detach_keys: self.keys.clone(),
            report_failure: false,
        };
        let end = monitor_io::bridge(client, monitor, opts).await;
        if end == BridgeEnd::Detached {
            self.svc.publish("detach", &rec);
        }
        end
    }
}
