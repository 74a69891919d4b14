//! `compose watch`: what changed under a rule's path since the last look
//! (pure diff of snapshots; scanning reads the disk), and syncing changed
//! files into a running container (`PUT /archive`) or removing deleted ones
//! (`rm` through exec).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_client::Client;

use crate::error::Error;

/// Files under a watched path: modification time, size and mode.
pub type Snapshot = BTreeMap<PathBuf, (i64, u64, u32)>;

/// What changed between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub changed: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }

    pub fn len(&self) -> usize {
        self.changed.len() + self.removed.len()
    }
}

/// The difference between two snapshots (pure).
pub fn diff(old: &Snapshot, new: &Snapshot) -> Changes {
    let mut c = Changes::default();
    for (p, meta) in new {
        if old.get(p) != Some(meta) {
            c.changed.push(p.clone());
        }
    }
    for p in old.keys() {
        if !new.contains_key(p) {
            c.removed.push(p.clone());
        }
    }
    c
}

/// The files under `root` (or `root` itself) not matched by `ignore`
/// (.dockerignore patterns relative to `root`).
pub fn scan(root: &Path, ignore: &[String]) -> Result<Snapshot, Error> {
    let matcher = berth_builder::ignore::Matcher::new(ignore)
        .map_err(|e| Error::Project(format!("invalid watch ignore pattern: {e}")))?;
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        if !rel.is_empty() && matcher.ignored(&rel) {
            continue;
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                for e in entries.flatten() {
                    stack.push(e.path());
                }
            }
        } else {
            out.insert(
                p,
                (
                    meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                    meta.len(),
                    meta.mode(),
                ),
            );
        }
    }
    Ok(out)
}

/// Where a host file goes in the container: `target` + its path under
/// `root`.
pub fn container_path(root: &Path, target: &str, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(Path::new(""));
    let base = target.trim_end_matches('/');
    if rel.as_os_str().is_empty() {
        base.to_string()
    } else {
        format!("{base}/{}", rel.to_string_lossy())
    }
}

/// Copies files (host path, container path) into a container.
pub async fn sync(client: &Client, id: &str, files: &[(PathBuf, String)]) -> Result<(), Error> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    for (host, inside) in files {
        let name = inside.trim_start_matches('/');
        b.append_path_with_name(host, name)
            .map_err(Error::io(format!("reading {}", host.display())))?;
    }
    let bytes = b
        .into_inner()
        .map_err(Error::io("making the sync archive"))?;
    client
        .archive_put(id, "/", berth_client::transport::full(bytes), false)
        .await?;
    Ok(())
}

/// Removes paths in a container.
pub async fn remove(client: &Client, id: &str, paths: &[String]) -> Result<(), Error> {
    let mut cmd = vec!["rm".to_string(), "-rf".to_string(), "--".to_string()];
    cmd.extend(paths.iter().cloned());
    let config = berth_api::exec::ExecCreate {
        cmd,
        ..Default::default()
    };
    let exec = client.exec_create(id, &config).await?;
    client.exec_start_detached(&exec).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_and_paths() {
        let a: Snapshot = [
            (PathBuf::from("/s/a"), (1, 1, 0o644)),
            (PathBuf::from("/s/b"), (1, 1, 0o644)),
        ]
        .into();
        let b: Snapshot = [
            (PathBuf::from("/s/a"), (2, 1, 0o644)),
            (PathBuf::from("/s/c"), (1, 1, 0o644)),
        ]
        .into();
        let d = diff(&a, &b);
        assert_eq!(
            d.changed,
            vec![PathBuf::from("/s/a"), PathBuf::from("/s/c")]
        );
        assert_eq!(d.removed, vec![PathBuf::from("/s/b")]);
        assert!(diff(&b, &b).is_empty());
        assert_eq!(
            container_path(Path::new("/s"), "/app/", Path::new("/s/x/y")),
            "/app/x/y"
        );
        assert_eq!(
            container_path(Path::new("/s/f"), "/app/f", Path::new("/s/f")),
            "/app/f"
        );
    }

    #[test]
    fn scan_honours_ignore_patterns() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("node_modules/x")).unwrap();
        std::fs::write(t.path().join("node_modules/x/f"), "x").unwrap();
        std::fs::write(t.path().join("keep.txt"), "k").unwrap();
        let s = scan(t.path(), &["node_modules".to_string()]).unwrap();
        let names: Vec<_> = s
            .keys()
            .map(|p| p.strip_prefix(t.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(names, vec![PathBuf::from("keep.txt")]);
    }
}
