//! RUN: an ordinary container on the same runtime and network as any
//! other (`--network` of the build or of the step), from the current
//! image with the stage's environment, user and working directory; its
//! output goes to the build's stream; on success its changes become the
//! step's layer, with the stage's config (not the RUN command) as the
//! image's config. Whether the container is removed afterwards is the
//! build's `rm`/`forcerm` policy ([`super::Intermediates`]).

use std::collections::BTreeMap;

use berth_api::container::{ContainerConfig, CreateRequest, HostConfig};

use crate::container::WaitCondition;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::container::logs::{LogOptions, StartAt};
use crate::{Engine, Error};

/// A RUN to execute.
pub(super) struct RunSpec<'a> {
    pub image: &'a str,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
    pub network: String,
    /// The config the committed image gets.
    pub config: &'a Value,
    pub created_by: String,
    /// The history entry's comment (the step's cache key).
    pub history_comment: String,
    /// `SOURCE_DATE_EPOCH`.
    pub epoch: Option<i64>,
    /// `RUN --mount`s.
    pub mounts: Vec<berth_api::container::Mount>,
    /// Paths (absolute in the image) the image lacked before the mounts
    /// needed them: left empty by the runtime, they do not go in the layer.
    pub stubs: Vec<String>,
    pub settings: &'a super::RunSettings,
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// The build stream's text of the stdcopy frames in `buf` (an incomplete
/// frame stays): stdout as it is, stderr in red as Docker's legacy builder
/// shows it (`ESC[91m` ... `ESC[0m`).
fn deframe(buf: &mut Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        if buf.len() < 8 {
            return out;
        }
        let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
        if buf.len() < 8 + len {
            return out;
        }
        let stderr = buf[0] == 2;
        if stderr {
            out.extend_from_slice(b"\x1b[91m");
        }
        out.extend_from_slice(&buf[8..8 + len]);
        if stderr {
            out.extend_from_slice(b"\x1b[0m");
        }
        buf.drain(..8 + len);
    }
}

/// Removes mount points the runtime made (deepest first) while they are
/// empty: what the RUN wrote elsewhere stays.
fn remove_stubs(upper: &std::path::Path, stubs: &[String]) {
    let mut paths: Vec<&String> = stubs.iter().collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for p in paths {
        let full = upper.join(p.trim_start_matches('/'));
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            continue;
        };
        if meta.is_dir() {
            let _ = std::fs::remove_dir(&full);
        } else if meta.is_file() && meta.len() == 0 {
            let _ = std::fs::remove_file(&full);
        }
    }
}

/// Marks a RUN step's container that its build removes.
pub const STEP_LABEL: &str = "berth.build.step";

/// Runs the step; the new image's id.
pub(super) async fn run(
    engine: &Engine,
    spec: RunSpec<'_>,
    tx: &mpsc::UnboundedSender<Value>,
) -> Result<String, Error> {
    let req = CreateRequest {
        config: ContainerConfig {
            image: spec.image.to_string(),
            cmd: Some(spec.argv.clone()),
            entrypoint: Some(Vec::new()),
            env: spec.env.clone(),
            user: spec.user.clone(),
            working_dir: spec.workdir.clone(),
            // A step container the build removes when it ends; a daemon
            // killed meanwhile removes it at its next start.
            labels: if spec.settings.intermediates.removes(true) {
                BTreeMap::from([(STEP_LABEL.to_string(), spec.settings.build_id.clone())])
            } else {
                BTreeMap::new()
            },
            ..ContainerConfig::default()
        },
        host_config: HostConfig {
            network_mode: spec.network.clone(),
            mounts: spec.mounts.clone(),
            extra_hosts: spec.settings.extra_hosts.clone(),
            resources: spec.settings.resources.clone(),
            shm_size: spec.settings.shm_size,
            ulimits: spec.settings.ulimits.clone(),
            ..HostConfig::default()
        },
        networking_config: None,
        unknown: Default::default(),
    };
    let (id, _) = engine.containers.create(req, None).await?;
    let _ = tx.send(json!({"stream": format!(" ---> Running in {}\n", short(&id))}));
    let result = run_created(engine, &id, &spec, tx).await;
    if spec.settings.intermediates.removes(result.is_ok()) {
        let _ = engine.containers.remove(&id, true, true).await;
        if result.is_ok() {
            let _ = tx.send(json!({
                "stream": format!(" ---> Removed intermediate container {}\n", short(&id))
            }));
        }
    } else if let Err(e) = engine.containers.stop(&id, Some(0), None).await {
        tracing::debug!(error = %e, "stopping a kept build container");
    }
    result
}

async fn run_created(
    engine: &Engine,
    id: &str,
    spec: &RunSpec<'_>,
    tx: &mpsc::UnboundedSender<Value>,
) -> Result<String, Error> {
    engine.containers.start(id).await?;
    // From the beginning of the log, so a step that already ended shows
    // everything; following ends when the container stops.
    let mut logs = engine.containers.log_stream(
        id,
        LogOptions {
            stdout: true,
            stderr: true,
            follow: true,
            ..LogOptions::default()
        },
        StartAt::Beginning,
    )?;
    let mut buf = Vec::new();
    while let Some(chunk) = logs.recv().await {
        buf.extend_from_slice(&chunk);
        // What else has arrived goes in the same message (up to 32 KiB),
        // as Docker's builder sends what one read gave.
        while buf.len() < 32 << 10 {
            match logs.try_recv() {
                Ok(more) => buf.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        let out = deframe(&mut buf);
        if !out.is_empty() {
            spec.settings.backlog.room().await;
            let _ = tx.send(json!({"stream": String::from_utf8_lossy(&out)}));
        }
    }
    let status = engine
        .containers
        .wait(id, WaitCondition::NotRunning)
        .await?
        .status_code;
    if status != 0 {
        return Err(Error::BuildFailed {
            message: format!(
                "The command '{}' returned a non-zero code: {status}",
                spec.argv.join(" ")
            ),
            code: status,
        });
    }
    let c = engine.containers.get(id)?;
    let upper = c.paths.upper();
    let diff = c.paths.dir().join("build-step.tar");
    let (d, epoch, stubs) = (diff.clone(), spec.epoch, spec.stubs.clone());
    tokio::task::spawn_blocking(move || -> Result<(), Error> {
        std::fs::create_dir_all(&upper).map_err(Error::io("creating", &upper))?;
        remove_stubs(&upper, &stubs);
        let mut f = std::fs::File::create(&d).map_err(Error::io("creating", &d))?;
        berth_image::diff::write_diff_tar_clamped(&upper, &mut f, epoch)?;
        Ok(())
    })
    .await
    .map_err(|e| Error::Internal(format!("diff task failed: {e}")))??;
    let info = engine
        .images
        .commit(berth_image::CommitOptions {
            parent: spec.image.to_string(),
            diff: diff.clone(),
            config: spec.config.clone(),
            created_by: Some(spec.created_by.clone()),
            created: spec.epoch.map(crate::time::epoch_rfc3339),
            history_comment: Some(spec.history_comment.clone()),
            ..berth_image::CommitOptions::default()
        })
        .await;
    let _ = std::fs::remove_file(&diff);
    Ok(info?.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let mut buf = vec![
            1, 0, 0, 0, 0, 0, 0, 2, b'h', b'i', 2, 0, 0, 0, 0, 0, 0, 3, b'e',
        ];
        assert_eq!(deframe(&mut buf), b"hi");
        assert_eq!(buf.len(), 9, "the partial frame waits");
        buf.extend_from_slice(b"rr");
        assert_eq!(deframe(&mut buf), b"\x1b[91merr\x1b[0m");
        assert!(buf.is_empty());
    }
}
