//! Where a user's Berth lives: the daemon's runtime directory (its socket,
//! pid and log) and its storage, as both the CLI and `berth daemon` find
//! them. Root uses the system places (`/run/berth`, `/var/lib/berth`); an
//! ordinary user gets per-user ones, as rootless Docker and Podman do:
//! `$XDG_RUNTIME_DIR/berth` (or `/run/user/<uid>/berth`, or a private
//! `berth-run-<uid>` under the temporary directory when neither exists)
//! and `$XDG_DATA_HOME/berth` (`~/.local/share/berth`). `BERTH_EXEC_ROOT`
//! and `BERTH_ROOT` override either. Pure: the environment and the file
//! system come in as functions.

use std::path::{Path, PathBuf};

/// The system runtime directory.
pub const SYSTEM_EXEC_ROOT: &str = "/run/berth";
/// The system storage root.
pub const SYSTEM_ROOT: &str = "/var/lib/berth";

/// What the resolver looks at.
pub struct Inputs<'a> {
    /// The effective uid.
    pub uid: u32,
    /// An environment variable, `None` when unset or empty.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Whether a directory exists and belongs to this user.
    pub own_dir: &'a dyn Fn(&Path) -> bool,
}

/// A user's Berth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locations {
    /// Runtime state: the socket, the daemon's log, containers' runtime
    /// files.
    pub exec_root: PathBuf,
    /// Persistent state: images, containers, volumes, networks.
    pub root: PathBuf,
    /// Whether these are an ordinary user's (a rootless daemon's).
    pub rootless: bool,
}

impl Locations {
    /// The default socket.
    pub fn socket(&self) -> PathBuf {
        self.exec_root.join("berth.sock")
    }

    /// The locations for `inputs`.
    pub fn resolve(inputs: &Inputs<'_>) -> Locations {
        let env = |k: &str| (inputs.env)(k).filter(|v| !v.is_empty());
        let rootless = inputs.uid != 0;
        let exec_root = env("BERTH_EXEC_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                if !rootless {
                    return PathBuf::from(SYSTEM_EXEC_ROOT);
                }
                let run_user = PathBuf::from(format!("/run/user/{}", inputs.uid));
                let runtime = env("XDG_RUNTIME_DIR")
                    .map(PathBuf::from)
                    .or_else(|| (inputs.own_dir)(&run_user).then_some(run_user));
                match runtime {
                    Some(dir) => dir.join("berth"),
                    None => {
                        let tmp = env("TMPDIR").unwrap_or_else(|| "/tmp".into());
                        Path::new(&tmp).join(format!("berth-run-{}", inputs.uid))
                    }
                }
            });
        let root = env("BERTH_ROOT").map(PathBuf::from).unwrap_or_else(|| {
            if !rootless {
                return PathBuf::from(SYSTEM_ROOT);
            }
            let data = env("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".local").join("share")));
            match data {
                Some(d) => d.join("berth"),
                // No home at all: keep the storage beside the runtime files.
                None => exec_root.join("storage"),
            }
        });
        Locations {
            exec_root,
            root,
            rootless,
        }
    }

    /// The locations of the calling process, from its real environment.
    pub fn current() -> Locations {
        let own_dir = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == current_uid())
        };
        Locations::resolve(&Inputs {
            uid: current_uid(),
            env: &|k| std::env::var(k).ok(),
            own_dir: &own_dir,
        })
    }
}

fn current_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Where the CLI sends requests when no `-H` or `BERTH_HOST` is given:
/// `DOCKER_HOST` (as the docker CLI reads it), else the default socket.
/// Returns the host string and whether it is the default (then a daemon
/// may be started there).
pub fn default_host(env: &dyn Fn(&str) -> Option<String>, locations: &Locations) -> (String, bool) {
    match env("DOCKER_HOST").filter(|h| !h.is_empty()) {
        Some(h) => (h, false),
        None => (format!("unix://{}", locations.socket().display()), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(uid: u32, vars: &[(&str, &str)], own: &[&str]) -> Locations {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let own: Vec<PathBuf> = own.iter().map(PathBuf::from).collect();
        Locations::resolve(&Inputs {
            uid,
            env: &|k| vars.get(k).cloned(),
            own_dir: &|p| own.iter().any(|o| o == p),
        })
    }

    fn pair(l: &Locations) -> (String, String, bool) {
        (
            l.exec_root.display().to_string(),
            l.root.display().to_string(),
            l.rootless,
        )
    }

    #[test]
    fn root_uses_the_system_places() {
        let l = resolve(
            0,
            &[("XDG_RUNTIME_DIR", "/run/user/0"), ("HOME", "/root")],
            &[],
        );
        assert_eq!(
            pair(&l),
            ("/run/berth".into(), "/var/lib/berth".into(), false)
        );
        assert_eq!(l.socket(), PathBuf::from("/run/berth/berth.sock"));
    }

    #[test]
    fn an_ordinary_user_gets_per_user_places() {
        let home = [("HOME", "/home/ann")];
        // XDG variables first.
        let l = resolve(
            1000,
            &[
                ("XDG_RUNTIME_DIR", "/run/user/1000"),
                ("XDG_DATA_HOME", "/data/ann"),
                home[0],
            ],
            &[],
        );
        assert_eq!(
            pair(&l),
            (
                "/run/user/1000/berth".into(),
                "/data/ann/berth".into(),
                true
            )
        );
        // No XDG_RUNTIME_DIR: /run/user/<uid> when it is the user's.
        let l = resolve(1000, &home, &["/run/user/1000"]);
        assert_eq!(
            pair(&l),
            (
                "/run/user/1000/berth".into(),
                "/home/ann/.local/share/berth".into(),
                true
            )
        );
        // Neither: a private directory under TMPDIR (or /tmp).
        let l = resolve(1000, &home, &[]);
        assert_eq!(l.exec_root, PathBuf::from("/tmp/berth-run-1000"));
        let l = resolve(1000, &[("TMPDIR", "/var/tmp"), home[0]], &[]);
        assert_eq!(l.exec_root, PathBuf::from("/var/tmp/berth-run-1000"));
        // No home at all: storage beside the runtime files.
        let l = resolve(1000, &[("XDG_RUNTIME_DIR", "/run/user/1000")], &[]);
        assert_eq!(l.root, PathBuf::from("/run/user/1000/berth/storage"));
        // Empty variables count as unset.
        let l = resolve(1000, &[("XDG_RUNTIME_DIR", ""), home[0]], &[]);
        assert_eq!(l.exec_root, PathBuf::from("/tmp/berth-run-1000"));
    }

    #[test]
    fn berth_variables_win() {
        let vars = [
            ("BERTH_EXEC_ROOT", "/srv/run"),
            ("BERTH_ROOT", "/srv/lib"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("HOME", "/home/ann"),
        ];
        for uid in [0, 1000] {
            let l = resolve(uid, &vars, &[]);
            assert_eq!(
                (l.exec_root.to_str(), l.root.to_str()),
                (Some("/srv/run"), Some("/srv/lib"))
            );
        }
    }

    #[test]
    fn docker_host_comes_before_the_default_socket() {
        let l = resolve(0, &[], &[]);
        assert_eq!(
            default_host(&|_| None, &l),
            ("unix:///run/berth/berth.sock".into(), true)
        );
        let docker = |k: &str| (k == "DOCKER_HOST").then(|| "unix:///run/docker.sock".to_string());
        assert_eq!(
            default_host(&docker, &l),
            ("unix:///run/docker.sock".into(), false)
        );
    }
}
