//! `--sig-proxy`: signals this process receives while attached to a
//! container without a terminal go on to the container (`POST
//! /containers/{id}/kill?signal=...`), as the docker CLI's `run`, `start -a`
//! and `attach` do. With a terminal the keys reach the container through it
//! instead, so nothing is proxied.

use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

/// The signals passed on: every one a user sends to stop or poke a program
/// (SIGCHLD, SIGPIPE, SIGURG and SIGWINCH are this process's own business).
const PROXIED: [(&str, i32); 8] = [
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGTERM", libc::SIGTERM),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGUSR2", libc::SIGUSR2),
    ("SIGALRM", libc::SIGALRM),
    ("SIGCONT", libc::SIGCONT),
];

/// Starts passing signals to container `id` until the returned task is
/// aborted (when the session ends). Installing the handlers replaces the
/// default action (ending this process) for these signals meanwhile.
pub fn forward(client: &berth_client::Client, id: &str) -> JoinHandle<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    for (name, number) in PROXIED {
        let Ok(mut stream) = signal(SignalKind::from_raw(number)) else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(name).is_err() {
                    break;
                }
            }
        });
    }
    let (client, id) = (client.clone(), id.to_string());
    tokio::spawn(async move {
        while let Some(name) = rx.recv().await {
            if let Err(e) = client.container_kill(&id, name).await {
                eprintln!("berth: passing {name} to the container: {e}");
            }
        }
    })
}

/// Stops passing signals when dropped.
pub struct Guard(Option<JoinHandle<()>>);

impl Guard {
    /// Proxies when `enabled` (the flag, and no terminal).
    pub fn start(enabled: bool, client: &berth_client::Client, id: &str) -> Guard {
        Guard(enabled.then(|| forward(client, id)))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}
