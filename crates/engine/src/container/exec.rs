//! `exec`: a process started in a running container by `berth __exec`
//! (which joins the container's namespaces and cgroup), attached through its
//! own socket like a container's monitor.

use berth_api::exec::{ExecCreate, ExecInspect, ProcessConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_runtime::exec_monitor::{ExecConfig, EXEC_FILE};
use berth_runtime::monitor::MonitorEvent;

use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

use super::{create, options, ContainerService};
use crate::{ids, monitor_io, Error};

#[derive(Debug, Clone, Default)]
struct ExecState {
    running: bool,
    pid: i64,
    exit_code: Option<i64>,
}

pub struct ExecEntry {
    pub id: String,
    pub container_id: String,
    pub create: ExecCreate,
    state: Mutex<ExecState>,
    done: watch::Sender<bool>,
}

impl ExecEntry {
    fn state(&self) -> ExecState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, f: impl FnOnce(&mut ExecState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// Execs by id: the container service's exec bookkeeping.
#[derive(Default)]
pub struct ExecTable {
    by_id: Mutex<HashMap<String, Arc<ExecEntry>>>,
}

impl ExecTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ExecEntry>>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, exec_id: &str) -> Result<Arc<ExecEntry>, Error> {
        self.lock()
            .get(exec_id)
            .cloned()
            .ok_or_else(|| Error::NoSuchExec(exec_id.to_string()))
    }

    /// A new exec of `container_id`; its id.
    fn add(&self, container_id: String, create: ExecCreate) -> String {
        let id = ids::new_id();
        let entry = Arc::new(ExecEntry {
            id: id.clone(),
            container_id,
            create,
            state: Mutex::new(ExecState::default()),
            done: watch::channel(false).0,
        });
        self.lock().insert(id.clone(), entry);
        id
    }

    /// The ids of a container's execs.
    fn of(&self, container_id: &str) -> Vec<String> {
        self.lock()
            .values()
            .filter(|e| e.container_id == container_id)
            .map(|e| e.id.clone())
            .collect()
    }

    fn remove(&self, exec_id: &str) {
        self.lock().remove(exec_id);
    }

    /// Drops every exec of a container.
    fn remove_of(&self, container_id: &str) {
        self.lock().retain(|_, e| e.container_id != container_id);
    }
}

/// A started exec: its attach connection when not detached.
pub struct ExecStarted {
    pub entry: Arc<ExecEntry>,
    pub conn: Option<UnixStream>,
}

impl ContainerService {
    fn exec(&self, exec_id: &str) -> Result<Arc<ExecEntry>, Error> {
        self.inner.execs.get(exec_id)
    }

    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, name_or_id: &str, create: ExecCreate) -> Result<String, Error> {
        let rec = self.get(name_or_id)?.record();
        if !rec.status.is_running() {
            return Err(Error::Conflict {
                message: format!("Container {} is not running", rec.id),
            });
        }
        if rec.status == super::Status::Paused {
            return Err(Error::Conflict {
                message: format!(
                    "Container {} is paused, unpause the container before exec",
                    rec.id
                ),
            });
        }
        if create.cmd.is_empty() || create.cmd[0].is_empty() {
            return Err(Error::InvalidArgument("No exec command specified".into()));
        }
        Ok(self.inner.execs.add(rec.id, create))
    }

    /// The ids of a container's execs, for inspect.
    pub fn exec_ids(&self, container_id: &str) -> Vec<String> {
        self.inner.execs.of(container_id)
    }

    /// Drops one exec (health probes leave none behind).
    pub(super) fn forget_exec(&self, exec_id: &str) {
        self.inner.execs.remove(exec_id);
    }

    /// Drops the execs of a removed container.
    pub(super) fn forget_execs(&self, container_id: &str) {
        self.inner.execs.remove_of(container_id);
    }

    /// `POST /exec/{id}/start`: runs the process; unless detached, returns
    /// a connection to its socket made before the program runs.
    pub async fn exec_start(&self, exec_id: &str, detach: bool) -> Result<ExecStarted, Error> {
        let entry = self.exec(exec_id)?;
        {
            let st = entry.state();
            if st.running || st.exit_code.is_some() {
                return Err(Error::Conflict {
                    message: format!("Exec {exec_id} has already been started"),
                });
            }
        }
        let c = self.get(&entry.container_id)?;
        let rec = c.record();
        if !rec.status.is_running() {
            return Err(Error::Conflict {
                message: format!("Container {} is not running", rec.id),
            });
        }
        let ex = &entry.create;
        let mut probe = rec.clone();
        probe.path = ex.cmd[0].clone();
        probe.args = ex.cmd[1..].to_vec();
        probe.config.env = create::merge_env(&rec.config.env, &ex.env);
        if !ex.working_dir.is_empty() {
            probe.config.working_dir = ex.working_dir.clone();
        }
        if !ex.user.is_empty() {
            probe.config.user = ex.user.clone();
        }
        probe.config.tty = ex.tty;
        let config = &self.inner.config;
        let opts = options::spec_options(&probe, unused_rootfs(), config, None, &|n| {
            self.running_pid(n)
        })?;
        let spec = berth_runtime::spec::build_spec(&opts)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let mut process = spec
            .process()
            .clone()
            .ok_or_else(|| Error::Internal("the spec has no process".into()))?;
        if ex.privileged {
            process.set_capabilities(None);
        }
        let dir = config.paths.exec_dir(&entry.id);
        let socket = dir.join("s.sock");
        let exec_config = ExecConfig {
            pid: rec.pid as i32,
            process,
            // Resolved as for the container's own process, also when empty
            // (root, with its groups from the container's `/etc/group`).
            user: Some(probe.config.user.clone()),
            group_names: berth_runtime::spec::group_names(&spec),
            attach_socket: Some(socket.clone()),
            open_stdin: ex.attach_stdin,
            wait_for_attach: !detach,
            console_size: ex
                .console_size
                .map(|[h, w]| (h, w))
                .filter(|(h, w)| *h > 0 && *w > 0),
            cgroup_parent: config.cgroups().map(str::to_string),
            exit_path: Some(dir.join("exit.json")),
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
            seccomp_cache: Some(config.paths.seccomp_cache()),
        };
        let json = serde_json::to_vec_pretty(&exec_config)
            .map_err(|e| Error::Internal(format!("serialising exec.json: {e}")))?;
        std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
        crate::fsutil::write_atomic(&dir.join(EXEC_FILE), &json)?;
        let mut monitor = self
            .inner
            .runtime
            .spawn(super::runtime::MonitorKind::Exec, &dir)?;
        let (tx, mut events) = mpsc::channel::<MonitorEvent>(4);
        let follower = {
            let entry = entry.clone();
            tokio::spawn(async move {
                let mut exit = None;
                // Ends when the exec monitor has been reaped.
                while let Some(ev) = monitor.events.recv().await {
                    let Ok(ev) = ev else {
                        continue;
                    };
                    match &ev {
                        MonitorEvent::Started { pid } => {
                            let pid = i64::from(*pid);
                            entry.set(|s| {
                                s.running = true;
                                s.pid = pid;
                            });
                        }
                        MonitorEvent::Exited { exit_code, .. }
                        | MonitorEvent::Failed { exit_code, .. } => {
                            exit = Some(i64::from(*exit_code));
                        }
                    }
                    let _ = tx.send(ev).await;
                }
                entry.set(|s| {
                    s.running = false;
                    s.exit_code = Some(exit.unwrap_or(126));
                });
                entry.done.send_replace(true);
                let _ = std::fs::remove_dir_all(&dir);
            })
        };
        drop(follower);
        // Connect first (the program waits for its first client), then the
        // first report says whether it runs: a failure is answered as such,
        // never as an empty stream.
        let mut first: Option<MonitorEvent> = None;
        let conn = if detach {
            None
        } else {
            tokio::select! {
                conn = monitor_io::connect(&socket, Duration::from_secs(10)) => Some(conn?),
                ev = events.recv() => {
                    if let Some(MonitorEvent::Failed { message, exit_code }) = ev {
                        return Err(Error::StartFailed { message: format!("exec failed: {message}"), exit_code });
                    }
                    first = ev;
                    Some(monitor_io::connect(&socket, Duration::from_secs(10)).await?)
                }
            }
        };
        let first = match first {
            Some(ev) => Some(ev),
            None => events.recv().await,
        };
        match first {
            Some(MonitorEvent::Failed { message, exit_code }) => {
                return Err(Error::StartFailed {
                    message: format!("exec failed: {message}"),
                    exit_code,
                })
            }
            None => {
                return Err(Error::Internal(
                    "the exec monitor ended without a report".into(),
                ))
            }
            _ => {}
        }
        Ok(ExecStarted { entry, conn })
    }

    /// Waits until an exec has ended; its exit code.
    pub async fn exec_wait(&self, exec_id: &str) -> Result<i64, Error> {
        let entry = self.exec(exec_id)?;
        let mut rx = entry.done.subscribe();
        let _ = rx.wait_for(|d| *d).await;
        Ok(entry.state().exit_code.unwrap_or(-1))
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspect, Error> {
        let e = self.exec(exec_id)?;
        let st = e.state();
        let ex = &e.create;
        Ok(ExecInspect {
            id: e.id.clone(),
            running: st.running,
            exit_code: st.exit_code,
            process_config: ProcessConfig {
                tty: ex.tty,
                entrypoint: ex.cmd.first().cloned().unwrap_or_default(),
                arguments: ex.cmd.iter().skip(1).cloned().collect(),
                privileged: ex.privileged,
                user: ex.user.clone(),
            },
            open_stdin: ex.attach_stdin,
            open_stderr: ex.attach_stderr,
            open_stdout: ex.attach_stdout,
            can_remove: false,
            container_id: e.container_id.clone(),
            detach_keys: ex.detach_keys.clone(),
            pid: st.pid,
        })
    }

    /// `POST /exec/{id}/resize`.
    pub async fn exec_resize(&self, exec_id: &str, rows: u16, cols: u16) -> Result<(), Error> {
        let e = self.exec(exec_id)?;
        if !e.state().running {
            return Err(Error::Conflict {
                message: format!("Exec {exec_id} is not running"),
            });
        }
        monitor_io::resize(
            &self.inner.config.paths.exec_dir(exec_id).join("s.sock"),
            rows,
            cols,
        )
        .await
    }

    /// Records the exit reported on the attach socket (the final frame can
    /// arrive before the exec monitor's own report), so an inspect right
    /// after the stream ends sees the code.
    pub fn exec_record_exit(&self, exec_id: &str, event_json: &[u8]) {
        let Ok(entry) = self.exec(exec_id) else {
            return;
        };
        let code = match serde_json::from_slice::<MonitorEvent>(event_json) {
            Ok(MonitorEvent::Exited { exit_code, .. } | MonitorEvent::Failed { exit_code, .. }) => {
                i64::from(exit_code)
            }
            _ => return,
        };
        entry.set(|s| {
            s.running = false;
            s.exit_code = Some(code);
        });
    }

    /// Records a start failure's exit code (126/127 as runc reports them).
    pub fn exec_record_failure(&self, exec_id: &str, exit_code: i32) {
        if let Ok(entry) = self.exec(exec_id) {
            entry.set(|s| {
                s.running = false;
                s.exit_code = Some(i64::from(exit_code));
            });
        }
    }

    /// The exec's pid while it runs (for a health check's timeout).
    pub(crate) fn exec_pid(&self, exec_id: &str) -> Option<i64> {
        self.exec(exec_id)
            .ok()
            .map(|e| e.state().pid)
            .filter(|p| *p > 0)
    }
}

/// Unused path for the rootfs field when only the process is wanted.
pub(crate) fn unused_rootfs() -> PathBuf {
    PathBuf::from("/")
}
