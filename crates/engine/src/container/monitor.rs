//! The daemon's side of the per-container monitor: writing the bundle,
//! starting `berth __monitor <bundle>`, and following its events.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::monitor::{MonitorConfig, MonitorEvent};
use berth_runtime::mounts::Overlay;
use berth_runtime::spec::{build_spec, SpecOptions};

use super::{options, Container, ContainerRecord, ContainerService, Status};
use crate::{ids, time, Error};

/// How the monitor handles stdio and the log.
struct MonitorIo {
    attach_socket: PathBuf,
    wait_for_attach: bool,
    log: super::log_driver::LogSettings,
}

fn prepare_bundle(
    c: &Container,
    rec: &ContainerRecord,
    opts: SpecOptions,
    overlay: Overlay,
    io: MonitorIo,
    extra_mounts: Vec<oci_spec::runtime::Mount>,
    etc: super::network_use::EtcFiles,
) -> Result<(), Error> {
    let p = &c.paths;
    for dir in [p.upper(), p.work(), p.bundle(), p.rootfs()] {
        std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
    }
    match std::fs::remove_file(p.exit_file()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("removing", p.exit_file())(e)),
    }
    let mut spec = build_spec(&opts).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    add_etc_files(&mut spec, p, &etc, opts.userns.is_some())?;
    // A shared bind needs a shared root in the container's namespace (runc
    // then keeps the root filesystem itself private); otherwise the
    // runtime's default, recursive slave.
    let shared = extra_mounts.iter().any(|m| {
        m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|o| o == "shared" || o == "rshared"))
    });
    if shared {
        if let Some(linux) = spec.linux_mut() {
            linux.set_rootfs_propagation(Some("rshared".into()));
        }
    }
    let mut all = spec.mounts().clone().unwrap_or_default();
    all.extend(extra_mounts);
    spec.set_mounts(Some(all));
    let spec_json = serde_json::to_vec_pretty(&spec)
        .map_err(|e| Error::Internal(format!("serialising spec: {e}")))?;
    crate::fsutil::write_atomic(&p.bundle().join("config.json"), &spec_json)?;
    let monitor = MonitorConfig {
        id: rec.id.clone(),
        overlay: Some(overlay),
        log_path: p.log(),
        exit_path: p.exit_file(),
        attach_socket: Some(io.attach_socket),
        open_stdin: rec.config.open_stdin,
        stdin_once: rec.config.stdin_once,
        wait_for_attach: io.wait_for_attach,
        console_size: console_size(&rec.host_config),
        log_disabled: !io.log.driver.readable(),
        log_max_size: io.log.max_size,
        log_max_files: io.log.max_files,
    };
    let monitor_json = serde_json::to_vec_pretty(&monitor)
        .map_err(|e| Error::Internal(format!("serialising monitor config: {e}")))?;
    crate::fsutil::write_atomic(&p.bundle().join("monitor.json"), &monitor_json)
}

/// `HostConfig.ConsoleSize` (`[height, width]`), when the client sent one.
fn console_size(hc: &berth_api::container::HostConfig) -> Option<(u16, u16)> {
    let size: [u16; 2] = serde_json::from_value(hc.other.get("ConsoleSize")?.clone()).ok()?;
    (size[0] > 0 && size[1] > 0).then_some((size[0], size[1]))
}

/// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`, written per
/// container and bind-mounted over the image's, as Docker does. In a
/// remapped container (`idmap`) the binds are idmapped, so its root owns
/// them as root owns them on the host.
fn add_etc_files(
    spec: &mut oci_spec::runtime::Spec,
    p: &crate::paths::ContainerPaths,
    etc: &super::network_use::EtcFiles,
    idmap: bool,
) -> Result<(), Error> {
    let files = [
        (
            p.hostname_file(),
            "/etc/hostname",
            format!("{}\n", etc.hostname),
        ),
        (p.hosts_file(), "/etc/hosts", etc.hosts.clone()),
        (p.resolv_file(), "/etc/resolv.conf", etc.resolv.clone()),
    ];
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (source, target, content) in files {
        std::fs::write(&source, content).map_err(Error::io("writing", &source))?;
        let mount = oci_spec::runtime::MountBuilder::default()
            .destination(target)
            .typ("bind")
            .source(&source)
            .options(
                ["rbind", "rprivate"]
                    .into_iter()
                    .chain(idmap.then_some(berth_runtime::remap::IDMAP_OPTION))
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
            .build()
            .map_err(|e| Error::Internal(format!("building the {target} mount: {e}")))?;
        mounts.push(mount);
    }
    spec.set_mounts(Some(mounts));
    Ok(())
}

/// Starts the container's monitor and waits until the user's process runs
/// (or failed to start).
pub(super) async fn start(
    svc: &ContainerService,
    c: &Arc<Container>,
    rec: &ContainerRecord,
    layers: Vec<PathBuf>,
) -> Result<(), Error> {
    let config = &svc.inner.config;
    let mut opts = options::spec_options(
        rec,
        c.paths.rootfs(),
        config,
        Some(config.paths.seccomp_cache()),
        &|name| svc.running_pid(name),
    )?;
    // Legacy links' variables come first; the container's own win.
    let link_env: Vec<String> = svc
        .link_targets(rec)?
        .iter()
        .flat_map(|(l, t)| super::links::link_env(&rec.name, &l.alias, t))
        .collect();
    if !link_env.is_empty() {
        opts.env = super::create::merge_env(&link_env, &opts.env);
    }
    let log = super::log_driver::settings(&rec.host_config.log_config)?;
    let io = MonitorIo {
        attach_socket: config.paths.attach_socket(&rec.id),
        wait_for_attach: *c.pending_attaches.borrow() > 0,
        log,
    };
    if let Some(dir) = io.attach_socket.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    }
    {
        let c = c.clone();
        let rec = rec.clone();
        let extra = svc
            .inner
            .volume_use
            .oci_mounts(&rec, opts.userns.is_some())?;
        let etc = svc.render_etc_files(&rec)?;
        let overlay = config.overlay(layers, c.paths.upper(), c.paths.work());
        tokio::task::spawn_blocking(move || {
            prepare_bundle(&c, &rec, opts, overlay, io, extra, etc)
        })
        .await
        .map_err(|e| Error::Internal(format!("bundle task failed: {e}")))??;
    }
    let mut monitor = svc
        .inner
        .runtime
        .spawn(super::runtime::MonitorKind::Container, &c.paths.bundle())?;
    c.spawned.send_modify(|g| *g += 1);
    let event = monitor.events.recv().await;
    match event {
        Some(Ok(MonitorEvent::Started { pid })) => {
            c.update(false, |r| {
                r.set_status(Status::Running);
                r.pid = i64::from(pid);
                r.exit_code = 0;
                r.error.clear();
                r.started_at = time::now();
                r.finished_at = time::ZERO.into();
            })?;
            let (svc, c) = (svc.clone(), c.clone());
            tokio::spawn(async move {
                let mut exited = None;
                while let Some(ev) = monitor.events.recv().await {
                    if let Ok(MonitorEvent::Exited {
                        exit_code,
                        finished_at,
                        oom_killed,
                    }) = ev
                    {
                        exited = Some((exit_code, finished_at, oom_killed));
                        break;
                    }
                }
                // Until the monitor is gone (the channel closes when it
                // was reaped).
                while monitor.events.recv().await.is_some() {}
                let (code, at, oom) = match exited {
                    Some(e) => e,
                    None => match read_exit_file(&c) {
                        Some(e) => e,
                        None => {
                            remove_orphaned_cgroup(&svc, &c).await;
                            (255, time::now(), false)
                        }
                    },
                };
                mark_died(&svc, &c, code, at, oom);
                svc.on_exit(&c).await;
            });
            Ok(())
        }
        Some(Ok(MonitorEvent::Failed { message, exit_code })) => {
            while monitor.events.recv().await.is_some() {}
            let message = format!(
                "failed to start container {}: {message}",
                ids::short(&rec.id)
            );
            // A start failure is not an exit: no restart policy applies
            // (the caller's `on_start_failed` handles `--rm`).
            mark_exited(c, exit_code, time::now(), message.clone(), false);
            Err(Error::StartFailed { message, exit_code })
        }
        other => {
            let _ = monitor.kill.send(());
            let detail = match other {
                Some(Err(e)) => format!("unreadable event: {e}"),
                _ => "it exited without starting the container; see the daemon log".into(),
            };
            let message = format!("container monitor failed: {detail}");
            mark_exited(c, 128, time::now(), message.clone(), false);
            Err(Error::Internal(message))
        }
    }
}

fn mark_exited(c: &Container, code: i32, finished_at: String, error: String, oom_killed: bool) {
    record_exit(c, code, finished_at, error, oom_killed, None);
}

/// A container's program exited: records it and publishes `die` before
/// anyone waiting for the exit goes on.
fn mark_died(
    svc: &ContainerService,
    c: &Container,
    code: i32,
    finished_at: String,
    oom_killed: bool,
) {
    record_exit(c, code, finished_at, String::new(), oom_killed, Some(svc));
}

fn record_exit(
    c: &Container,
    code: i32,
    finished_at: String,
    error: String,
    oom_killed: bool,
    announce: Option<&ContainerService>,
) {
    let result = c.update_announced(
        true,
        |r| {
            r.set_status(Status::Exited);
            r.oom_killed = oom_killed;
            r.pid = 0;
            r.exit_code = i64::from(code);
            r.finished_at = finished_at;
            r.error = error;
        },
        |rec| {
            if let Some(svc) = announce {
                svc.inner.events.publish(super::die_event(rec));
            }
        },
    );
    if let Err(e) = result {
        tracing::warn!(error = %e, "persisting container exit failed");
    }
}

fn read_exit_file(c: &Container) -> Option<(i32, String, bool)> {
    let bytes = std::fs::read(c.paths.exit_file()).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        MonitorEvent::Exited {
            exit_code,
            finished_at,
            oom_killed,
        } => Some((exit_code, finished_at, oom_killed)),
        MonitorEvent::Failed { exit_code, .. } => Some((exit_code, time::now(), false)),
        MonitorEvent::Started { .. } => None,
    }
}

/// The monitor died without reporting an exit (killed): the container's
/// processes die with it (they have it as parent-death signal), and what
/// the monitor would have removed, the container's cgroup, is removed here.
async fn remove_orphaned_cgroup(svc: &ContainerService, c: &Container) {
    let runtime = svc.inner.runtime.clone();
    let id = c.record().id;
    let removed = tokio::task::spawn_blocking(move || runtime.remove_leftovers(&id)).await;
    if let Ok(Err(e)) = removed {
        tracing::warn!(id = %c.record().id, error = %e, "removing the cgroup of a container whose monitor died failed");
    }
}

/// Follows a container that was running when an earlier daemon stopped: its
/// monitor still runs and will write the exit file.
pub(super) fn readopt(svc: ContainerService, c: Arc<Container>) {
    tokio::spawn(async move {
        loop {
            if let Some((code, at, oom)) = read_exit_file(&c) {
                mark_died(&svc, &c, code, at, oom);
                break;
            }
            if !svc.inner.runtime.alive(c.record().pid) {
                // Give a monitor that is just writing the file a moment.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let (code, at, oom) = match read_exit_file(&c) {
                    Some(e) => e,
                    None => {
                        remove_orphaned_cgroup(&svc, &c).await;
                        (255, time::now(), false)
                    }
                };
                mark_died(&svc, &c, code, at, oom);
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        svc.on_exit(&c).await;
    });
}

/// Sends `signal` to the container's init and waits until it has exited.
pub(super) async fn kill_and_wait(
    svc: &ContainerService,
    c: &Container,
    signal: i32,
) -> Result<(), Error> {
    let mut rx = c.subscribe();
    let pid = c.record().pid;
    if pid > 0 {
        let sig = nix::sys::signal::Signal::try_from(signal)
            .map_err(|e| Error::InvalidArgument(format!("invalid signal {signal}: {e}")))?;
        svc.inner.runtime.signal(pid, sig)?;
    }
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
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .map_err(|_| {
            Error::Internal(format!(
                "container {} did not exit after signal {signal}",
                c.record().id
            ))
        })
}
