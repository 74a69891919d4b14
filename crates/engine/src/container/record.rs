//! The persisted container record and its state machine.

use serde::{Deserialize, Serialize};

use berth_api::container::{ContainerConfig, HostConfig};

/// Where a container is in its life. Transitions are checked with the
/// `can_*` methods, never with loose booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    /// Frozen by `pause`; its processes still exist.
    Paused,
    /// Exited and waiting out the restart policy's back-off.
    Restarting,
    Exited,
    Removing,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }
    pub fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited | Status::Restarting)
    }
    /// Whether `rm` without force may proceed.
    pub fn can_remove(self) -> bool {
        matches!(self, Status::Created | Status::Exited | Status::Dead)
    }
    /// Whether the container's processes exist (running or paused).
    pub fn is_running(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// The one state machine: whether a container in this state may move
    /// to `to`. Every change goes through [`ContainerRecord::set_status`].
    pub fn may_become(self, to: Status) -> bool {
        use Status::*;
        match (self, to) {
            (a, b) if a == b => true,
            // Anything but a container being removed may be removed; a
            // failure anywhere leaves it dead.
            (Removing, Dead) | (_, Dead) => true,
            (Removing, _) => false,
            (_, Removing) => true,
            // Start and restart.
            (Created | Exited | Restarting, Running) => true,
            (Running, Paused) | (Paused, Running) => true,
            // The process ended (a paused one can be killed).
            (Running | Paused, Exited) => true,
            // A restart is waited for, or cancelled (`stop`, daemon start).
            (Exited, Restarting) | (Restarting, Exited) => true,
            _ => false,
        }
    }
}

impl ContainerRecord {
    /// Moves the container to `to` when the state machine allows it
    /// ([`Status::may_become`]); otherwise it stays as it is, and the
    /// refusal is logged (the rest of the change still applies).
    pub fn set_status(&mut self, to: Status) -> bool {
        if self.status.may_become(to) {
            self.status = to;
            true
        } else {
            tracing::warn!(id = %self.id, from = self.status.as_str(), to = to.as_str(), "refused a status change");
            false
        }
    }
}

/// Everything the engine knows about a container, stored as
/// `containers/<id>/container.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image_name: String,
    /// `sha256:<hex>` of the image config.
    pub image_id: String,
    /// The effective config: the image's defaults merged with the request.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub path: String,
    pub args: Vec<String>,
    pub status: Status,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    pub restart_count: i64,
    /// Set by `stop`, cleared by `start`: a stopped container is not
    /// restarted by its policy (and `unless-stopped` stays down).
    #[serde(default)]
    pub manually_stopped: bool,
    /// Paused by `commit` (not by the user): a daemon killed before the
    /// commit unpaused it thaws it when it starts again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused_for_commit: bool,
    /// The kernel's OOM killer ended the last run.
    #[serde(default)]
    pub oom_killed: bool,
    /// Volumes, binds and tmpfs mounts, resolved at create.
    #[serde(default)]
    pub mounts: Vec<super::mounts::MountPoint>,
    /// Health check state, when the container has a check.
    #[serde(default)]
    pub health: Option<super::health::Health>,
    /// The restart policy's current back-off, in milliseconds.
    #[serde(default)]
    pub restart_delay_ms: u64,
    /// The networks it is connected to (bridge and user networks).
    #[serde(default)]
    pub endpoints: Vec<crate::networks::Endpoint>,
    /// Published ports while it runs.
    #[serde(default)]
    pub ports: Vec<crate::networks::Published>,
    /// Its network namespace while it runs (Docker's `SandboxKey`).
    #[serde(default)]
    pub sandbox_key: String,
}

impl ContainerRecord {
    pub fn command_line(&self) -> String {
        std::iter::once(self.path.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What waiters and followers observe, published on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub status: Status,
    pub exit_code: i64,
    /// How many times the container has exited (or failed to start) so far.
    pub exits: u64,
    pub removed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        assert!(Status::Created.can_start());
        assert!(Status::Exited.can_start());
        assert!(!Status::Running.can_start());
        assert!(!Status::Running.can_remove());
        assert!(!Status::Removing.can_start());
        assert_eq!(
            serde_json::to_string(&Status::Exited).unwrap(),
            "\"exited\""
        );
    }

    /// The whole state machine, row by row: `from` and the states it may
    /// move to, in `ALL`'s order.
    #[test]
    fn status_moves() {
        use Status::*;
        const ALL: [Status; 7] = [Created, Running, Paused, Restarting, Exited, Removing, Dead];
        let golden = [
            (Created, "created running removing dead"),
            (Running, "running paused exited removing dead"),
            (Paused, "running paused exited removing dead"),
            (Restarting, "running restarting exited removing dead"),
            (Exited, "running restarting exited removing dead"),
            (Removing, "removing dead"),
            (Dead, "removing dead"),
        ];
        for (from, allowed) in golden {
            let got: Vec<&str> = ALL
                .iter()
                .filter(|to| from.may_become(**to))
                .map(|to| to.as_str())
                .collect();
            assert_eq!(got.join(" "), allowed, "from {}", from.as_str());
        }
    }
}
