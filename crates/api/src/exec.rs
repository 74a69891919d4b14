//! Exec: `POST /containers/{id}/exec`, `POST /exec/{id}/start`,
//! `GET /exec/{id}/json`.

use serde::{Deserialize, Serialize};

use crate::container::null_as_default;

/// The body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecCreate {
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default)]
    pub tty: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cmd: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub working_dir: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user: String,
    #[serde(default)]
    pub privileged: bool,
    /// docker-py writes this key as `detachKeys` (Go's decoder ignores case).
    #[serde(default, alias = "detachKeys", deserialize_with = "null_as_default")]
    pub detach_keys: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u16; 2]>,
}

/// The answer of a create: the new object's id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdResponse {
    #[serde(rename = "Id")]
    pub id: String,
}

/// The body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecStart {
    #[serde(default)]
    pub detach: bool,
    /// Whether the stream is raw (true) or multiplexed: Docker decides by
    /// this field of the start request, not by the exec's own TTY.
    #[serde(default)]
    pub tty: bool,
}

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    pub running: bool,
    /// `null` until the process has ended.
    pub exit_code: Option<i64>,
    pub process_config: ProcessConfig,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    pub can_remove: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub detach_keys: String,
    pub pid: i64,
}

/// `ProcessConfig` of an exec (Docker's keys are lower-case here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfig {
    pub tty: bool,
    pub entrypoint: String,
    pub arguments: Vec<String>,
    pub privileged: bool,
    pub user: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_reads_clients_habits() {
        let c: ExecCreate = serde_json::from_value(json!({
            "AttachStdout": true, "Cmd": ["sh"], "Env": null, "User": null,
            "detachKeys": "ctrl-x", "ConsoleSize": [24, 80]
        }))
        .unwrap();
        assert!(c.attach_stdout && c.env.is_empty() && c.user.is_empty());
        assert_eq!(
            (c.detach_keys.as_str(), c.console_size),
            ("ctrl-x", Some([24, 80]))
        );
    }

    #[test]
    fn inspect_shape() {
        let i = ExecInspect {
            id: "e1".into(),
            exit_code: Some(3),
            process_config: ProcessConfig {
                entrypoint: "sh".into(),
                arguments: vec!["-c".into(), "exit 3".into()],
                ..Default::default()
            },
            container_id: "c1".into(),
            pid: 42,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&i).unwrap(),
            json!({
                "ID": "e1", "Running": false, "ExitCode": 3,
                "ProcessConfig": {"tty": false, "entrypoint": "sh", "arguments": ["-c", "exit 3"],
                                  "privileged": false, "user": ""},
                "OpenStdin": false, "OpenStderr": false, "OpenStdout": false, "CanRemove": false,
                "ContainerID": "c1", "DetachKeys": "", "Pid": 42
            })
        );
    }
}
