//! `docker commit`: a container's changes, as a layer tar written by
//! [`crate::diff::write_diff_tar`], on top of its image become a new image.
//!
//! The new config follows Docker's commit: the container's config with the
//! `--change` instructions applied, then merged with the parent image's config
//! (fields the container leaves empty are taken from the image; `Env`, `Labels`,
//! `ExposedPorts` and `Volumes` are unions in which the container wins). The
//! container's config is also kept as `container_config`, its id as `container`,
//! and a history entry records author, comment and the container's command. As in
//! Docker, a diff that is the empty tar adds no layer: the history entry is then
//! marked `empty_layer`. Otherwise the diff tar is kept as the layer's blob, so
//! `save` writes it as it is.

use crate::changes::apply_changes;
use crate::config::{ContainerConfig, Healthcheck, History, ImageConfig};
use crate::digest::Digest;
use crate::error::{Error, IoContext};
use crate::import::tag_reference;
use crate::layer::{chain_id, chain_ids, KeepTar};
use crate::store::{ImageInfo, ImageStore};
use crate::time::now_rfc3339;
use crate::txn::Txn;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;

/// What to commit.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The container's image (id or any name the store resolves).
    pub parent: String,
    /// A layer tar of the container's changes, as written by
    /// [`crate::diff::write_diff_tar`]; read, never moved or removed.
    pub diff: PathBuf,
    /// The container's `Config` (Docker's PascalCase JSON): the base of the new
    /// image's config, and its `container_config`.
    pub config: Value,
    /// Dockerfile instructions to apply, as `docker commit --change`.
    pub changes: Vec<String>,
    /// Author (empty: none).
    pub author: String,
    /// Commit message (empty: none).
    pub comment: String,
    /// Reference to tag the new image with.
    pub reference: Option<String>,
    /// The container's full id.
    pub container_id: String,
    /// The history entry's `created_by` (a build step); the container's
    /// command when `None`.
    pub created_by: Option<String>,
    /// The creation time (RFC 3339) to record instead of now
    /// (`SOURCE_DATE_EPOCH`).
    pub created: Option<String>,
    /// The history entry's comment (a build step's), apart from the
    /// image's `comment`.
    pub history_comment: Option<String>,
    /// A build step taken as it is from another image (`--cache-from`);
    /// `diff` is then not read.
    pub reuse: Option<ReusedStep>,
}

/// A step of another image reused on top of the parent: its history entry
/// and its layer, which the store already has on top of the parent's
/// layers (the other image is built on the same ones).
#[derive(Debug, Clone, PartialEq)]
pub struct ReusedStep {
    pub history: History,
    /// `None` for a step that made no layer.
    pub diff_id: Option<Digest>,
}

/// Length of the empty tar: two zero blocks.
const EMPTY_TAR_LEN: u64 = 1024;

/// True if the file is the empty tar, whose digest Docker treats as "no layer".
fn is_empty_tar(f: &mut std::fs::File) -> std::io::Result<bool> {
    if f.metadata()?.len() != EMPTY_TAR_LEN {
        return Ok(false);
    }
    let mut buf = Vec::with_capacity(EMPTY_TAR_LEN as usize);
    f.read_to_end(&mut buf)?;
    std::io::Seek::rewind(f)?;
    Ok(buf.iter().all(|b| *b == 0))
}

fn is_empty_list<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

/// Fills what the container's config (`user`) leaves empty from the image's
/// config, as Docker's commit does.
pub(crate) fn merge_config(user: &mut ContainerConfig, image: &ContainerConfig) {
    if user.user.as_deref().unwrap_or("").is_empty() {
        user.user.clone_from(&image.user);
    }
    match (&mut user.exposed_ports, &image.exposed_ports) {
        (Some(u), Some(i)) if !u.is_empty() => {
            for (k, v) in i {
                u.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        (u, i) => {
            if u.as_ref().is_none_or(|m| m.is_empty()) {
                u.clone_from(i);
            }
        }
    }
    if is_empty_list(&user.env) {
        user.env.clone_from(&image.env);
    } else if let (Some(u), Some(i)) = (&mut user.env, &image.env) {
        for e in i {
            if !u.iter().any(|x| env_key(x) == env_key(e)) {
                u.push(e.clone());
            }
        }
    }
    if let Some(i) = &image.labels {
        let u = user.labels.get_or_insert_with(Default::default);
        for (k, v) in i {
            u.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if is_empty_list(&user.entrypoint) {
        if is_empty_list(&user.cmd) {
            user.cmd.clone_from(&image.cmd);
            user.args_escaped = image.args_escaped;
        }
        if user.entrypoint.is_none() {
            user.entrypoint.clone_from(&image.entrypoint);
        }
    }
    if let Some(i) = &image.healthcheck {
        match &mut user.healthcheck {
            None => user.healthcheck = Some(i.clone()),
            Some(u) => merge_healthcheck(u, i),
        }
    }
    if user.working_dir.as_deref().unwrap_or("").is_empty() {
        user.working_dir.clone_from(&image.working_dir);
    }
    match (&mut user.volumes, &image.volumes) {
        (Some(u), Some(i)) if !u.is_empty() => {
            for (k, v) in i {
                u.insert(k.clone(), v.clone());
            }
        }
        (u, i) => {
            if u.as_ref().is_none_or(|m| m.is_empty()) {
                u.clone_from(i);
            }
        }
    }
    if user.stop_signal.as_deref().unwrap_or("").is_empty() {
        user.stop_signal.clone_from(&image.stop_signal);
    }
}

fn merge_healthcheck(u: &mut Healthcheck, i: &Healthcheck) {
    if is_empty_list(&u.test) {
        u.test.clone_from(&i.test);
    }
    for (uf, imf) in [
        (&mut u.interval, i.interval),
        (&mut u.timeout, i.timeout),
        (&mut u.start_period, i.start_period),
        (&mut u.start_interval, i.start_interval),
        (&mut u.retries, i.retries),
    ] {
        if uf.unwrap_or(0) == 0 {
            *uf = imf;
        }
    }
}

/// The config of an empty image on this host's platform.
fn scratch_config() -> ImageConfig {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    ImageConfig {
        architecture: arch.to_string(),
        os: "linux".to_string(),
        ..ImageConfig::default()
    }
}

impl ImageStore {
    /// Creates an image from a container's changes on top of its image; tags it
    /// if a reference is given. All-or-nothing.
    pub fn commit(&self, opts: &CommitOptions) -> Result<ImageInfo, Error> {
        let tags = match &opts.reference {
            Some(s) if !s.is_empty() => vec![tag_reference(s)?],
            _ => Vec::new(),
        };
        let container_config: ContainerConfig = match &opts.config {
            Value::Null => ContainerConfig::default(),
            v => serde_json::from_value(v.clone()).map_err(Error::Config)?,
        };
        let mut cfg = container_config.clone();
        apply_changes(&mut cfg, &opts.changes)?;

        let mut txn = Txn::new(self);
        // No parent: `FROM scratch` in a build.
        let (parent_id, parent) = if opts.parent.is_empty() {
            (None, scratch_config())
        } else {
            let id = self.resolve_id(&opts.parent)?;
            let parent = ImageConfig::parse(&self.content.read(&id)?).map_err(Error::Config)?;
            (Some(id), parent)
        };
        if let Some(image) = &parent.config {
            merge_config(&mut cfg, image);
        }

        let mut diff_ids: Vec<Digest> = parent.rootfs.diff_ids.clone();
        let non_empty = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        let history = match &opts.reuse {
            Some(r) => {
                if let Some(d) = &r.diff_id {
                    let chain = chain_id(chain_ids(&diff_ids).last(), d);
                    if !txn.has_layer(&chain) {
                        return Err(Error::Corrupt(format!(
                            "the reused layer {d} is not in the store on top of its parent"
                        )));
                    }
                    diff_ids.push(d.clone());
                }
                r.history.clone()
            }
            None => {
                let mut f = std::fs::File::open(&opts.diff)
                    .ctx(|| format!("open diff {}", opts.diff.display()))?;
                let empty =
                    is_empty_tar(&mut f).ctx(|| format!("read diff {}", opts.diff.display()))?;
                if !empty {
                    let below = chain_ids(&diff_ids).pop();
                    let diff_id = txn.layer(below.as_ref(), &mut f, None, KeepTar::Copy)?;
                    diff_ids.push(diff_id);
                }
                let created_by = opts
                    .created_by
                    .clone()
                    .or_else(|| container_config.cmd.as_ref().map(|c| c.join(" ")));
                History {
                    created: Some(opts.created.clone().unwrap_or_else(now_rfc3339)),
                    created_by: created_by.filter(|s| !s.is_empty()),
                    author: non_empty(&opts.author),
                    comment: opts
                        .history_comment
                        .clone()
                        .or_else(|| non_empty(&opts.comment)),
                    empty_layer: empty.then_some(true),
                    ..History::default()
                }
            }
        };
        let created = history.created.clone().unwrap_or_else(now_rfc3339);
        let mut config = parent;
        config.history.push(history);
        config.created = Some(created);
        config.author = non_empty(&opts.author);
        config.config = Some(cfg);
        config.rootfs.diff_ids = diff_ids;
        let extra = &mut config.extra;
        extra.remove("docker_version");
        match non_empty(&opts.comment) {
            Some(c) => extra.insert("comment".into(), Value::String(c)),
            None => extra.remove("comment"),
        };
        match non_empty(&opts.container_id) {
            Some(c) => extra.insert("container".into(), Value::String(c)),
            None => extra.remove("container"),
        };
        let cc = match &opts.config {
            Value::Object(_) => opts.config.clone(),
            _ => serde_json::to_value(&container_config).unwrap_or_default(),
        };
        extra.insert("container_config".into(), cc);

        let bytes = config.to_bytes();
        let id = txn.blob(&bytes, "config", None)?;
        txn.image(id, &config, parent_id, None, tags)?;
        let mut out = txn.commit()?;
        out.pop()
            .map(|(info, _)| info)
            .ok_or_else(|| Error::Corrupt("commit committed no image".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cc(v: Value) -> ContainerConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn merge_fills_empty_fields_and_unions_maps() {
        let image = cc(json!({
            "User": "app", "Env": ["PATH=/bin", "A=image"], "Cmd": ["sh"],
            "Labels": {"a": "image", "b": "image"}, "ExposedPorts": {"80/tcp": {}},
            "Volumes": {"/data": {}}, "WorkingDir": "/w", "StopSignal": "SIGQUIT",
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5, "Retries": 3}
        }));
        let mut user = cc(json!({
            "Env": ["A=user", "B=1"], "Labels": {"a": "user"}, "ExposedPorts": {"8080/tcp": {}},
            "Healthcheck": {"Interval": 7}, "Hostname": "abc"
        }));
        merge_config(&mut user, &image);
        assert_eq!(user.user.as_deref(), Some("app"));
        assert_eq!(user.env.unwrap(), vec!["A=user", "B=1", "PATH=/bin"]);
        let labels = user.labels.unwrap();
        assert_eq!(
            (labels["a"].as_str(), labels["b"].as_str()),
            ("user", "image")
        );
        let ports: Vec<_> = user.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, vec!["80/tcp", "8080/tcp"]);
        assert_eq!(user.cmd.unwrap(), vec!["sh"]);
        assert!(user.volumes.unwrap().contains_key("/data"));
        assert_eq!(user.working_dir.as_deref(), Some("/w"));
        assert_eq!(user.stop_signal.as_deref(), Some("SIGQUIT"));
        let hc = user.healthcheck.unwrap();
        assert_eq!(hc.test.unwrap(), vec!["CMD", "true"]);
        assert_eq!((hc.interval, hc.retries), (Some(7), Some(3)));
        assert_eq!(user.extra["Hostname"], "abc");
    }

    #[test]
    fn merge_keeps_the_containers_command() {
        let image = cc(json!({"Cmd": ["sh"], "Entrypoint": ["/init"]}));
        let mut user = cc(json!({"Cmd": ["echo", "hi"]}));
        merge_config(&mut user, &image);
        assert_eq!(user.cmd.unwrap(), vec!["echo", "hi"]);
        assert_eq!(user.entrypoint.unwrap(), vec!["/init"]);
        let mut user = cc(json!({"Entrypoint": ["/other"]}));
        merge_config(&mut user, &image);
        assert_eq!(user.cmd, None);
        assert_eq!(user.entrypoint.unwrap(), vec!["/other"]);
        let mut user = cc(json!({"Entrypoint": []}));
        merge_config(&mut user, &image);
        assert_eq!(user.cmd.unwrap(), vec!["sh"]);
        assert_eq!(user.entrypoint.unwrap(), Vec::<String>::new());
    }

    #[test]
    fn empty_tar_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, vec![0u8; 1024]).unwrap();
        assert!(is_empty_tar(&mut std::fs::File::open(&p).unwrap()).unwrap());
        let mut v = vec![0u8; 1024];
        v[10] = 1;
        std::fs::write(&p, v).unwrap();
        assert!(!is_empty_tar(&mut std::fs::File::open(&p).unwrap()).unwrap());
        std::fs::write(&p, vec![0u8; 2048]).unwrap();
        assert!(!is_empty_tar(&mut std::fs::File::open(&p).unwrap()).unwrap());
    }
}
