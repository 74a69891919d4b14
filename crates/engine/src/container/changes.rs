//! `GET /containers/{id}/changes` (`docker diff`): what the container's
//! writable layer changed against its image. Whiteouts are deletions;
//! anything else in the upper directory is a modification when an image
//! layer has the path and an addition when none has. Read from the same
//! walk that `commit` turns into a layer, so the two always agree.

use std::path::{Path, PathBuf};

use super::ContainerService;
use crate::Error;

/// Docker's change kinds, numbered as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

pub use berth_api::container::Change;

/// Files berth bind-mounts over at start; where the image lacks them the
/// runtime leaves an empty file in the upper directory, which Docker keeps
/// in a layer of its own and never reports.
const MOUNT_STUBS: &[&str] = &["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

/// One entry of a layer tar: its name (`etc/`, `tmp/.wh.x`, ...) and
/// whether it is an empty regular file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub empty_file: bool,
}

/// Classifies the entries of a layer tar: `in_image` says whether an image
/// layer has an (absolute) path.
pub fn classify(entries: &[Entry], in_image: &dyn Fn(&str) -> bool) -> Vec<Change> {
    let mut out = Vec::new();
    let mut stub_dirs: Vec<String> = Vec::new();
    for entry in entries {
        let name = &entry.name;
        let rel = name.trim_start_matches("./").trim_end_matches('/');
        if rel.is_empty() {
            continue;
        }
        let (dir, base) = match rel.rsplit_once('/') {
            Some((d, b)) => (format!("/{d}"), b),
            None => (String::new(), rel),
        };
        if base == ".wh..wh..opq" {
            continue;
        }
        let (path, kind) = match base.strip_prefix(".wh.") {
            Some(gone) => (format!("{dir}/{gone}"), ChangeKind::Deleted),
            None => {
                let path = format!("/{rel}");
                if entry.empty_file && MOUNT_STUBS.contains(&path.as_str()) && !in_image(&path) {
                    stub_dirs.push(dir.clone());
                    continue;
                }
                let kind = if in_image(&path) {
                    ChangeKind::Modified
                } else {
                    ChangeKind::Added
                };
                (path, kind)
            }
        };
        out.push(Change {
            path,
            kind: kind as u8,
        });
    }
    // A directory copied up only to hold such stubs is no change either.
    let mut kept: Vec<Change> = out
        .iter()
        .filter(|c| {
            let only_stubs = stub_dirs.contains(&c.path)
                && c.kind == ChangeKind::Modified as u8
                && !out
                    .iter()
                    .any(|o| o.path.starts_with(&format!("{}/", c.path)));
            !only_stubs
        })
        .cloned()
        .collect();
    kept.sort_by(|a, b| a.path.cmp(&b.path));
    kept
}

/// The entries of the layer tar the upper directory `upper` makes.
fn layer_entries(upper: &Path) -> Result<Vec<Entry>, Error> {
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating a pipe for", upper)(e.into()))?;
    let (reader, mut writer) = (std::fs::File::from(reader), std::fs::File::from(writer));
    let dir = upper.to_path_buf();
    let walk = std::thread::spawn(move || {
        let r = berth_image::diff::write_diff_tar(&dir, &mut writer);
        drop(writer);
        r
    });
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(reader);
    let read = (|| -> std::io::Result<()> {
        for entry in archive.entries()? {
            let entry = entry?;
            let header = entry.header();
            let empty_file = header.entry_type().is_file() && header.size()? == 0;
            names.push(Entry {
                name: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                empty_file,
            });
        }
        Ok(())
    })();
    // Reading stops early only on a broken tar; drain so the walk ends.
    drop(archive);
    let walked = walk
        .join()
        .map_err(|_| Error::Internal("the layer walk panicked".into()))?;
    walked?;
    read.map_err(Error::io("reading the layer of", upper))?;
    Ok(names)
}

/// Whether `path` exists in one of `layers`, resolved inside each layer.
fn in_layers(layers: &[PathBuf], path: &str) -> bool {
    layers
        .iter()
        .any(|l| berth_image::fsops::stat_path(l, path).is_ok())
}

impl ContainerService {
    /// `GET /containers/{id}/changes`.
    pub async fn changes(&self, name_or_id: &str) -> Result<Vec<Change>, Error> {
        let c = self.get(name_or_id)?;
        let rec = c.record();
        let layers = self.inner.images.layer_dirs(&rec.image_id).await?;
        let upper = c.paths.upper();
        tokio::task::spawn_blocking(move || {
            if !upper.exists() {
                return Ok(Vec::new());
            }
            let names = layer_entries(&upper)?;
            Ok(classify(&names, &|p| in_layers(&layers, p)))
        })
        .await
        .map_err(|e| Error::Internal(format!("changes task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_layer_entries() {
        let names: Vec<Entry> = [
            "tmp/",
            "tmp/new",
            "etc/",
            "etc/.wh.motd",
            "etc/passwd",
            "etc/hosts",
            "var/cache/",
            "var/cache/.wh..wh..opq",
            "test",
        ]
        .iter()
        .map(|s| Entry {
            name: s.to_string(),
            empty_file: *s == "etc/hosts",
        })
        .collect();
        let image = ["/tmp", "/etc", "/etc/passwd", "/var/cache"];
        let got = classify(&names, &|p| image.contains(&p));
        let text: Vec<String> = got
            .iter()
            .map(|c| format!("{} {}", c.kind, c.path))
            .collect();
        assert_eq!(
            text,
            vec![
                "0 /etc",
                "2 /etc/motd",
                "0 /etc/passwd",
                "1 /test",
                "0 /tmp",
                "1 /tmp/new",
                "0 /var/cache"
            ]
        );
        // Only the runtime's mount stubs under /etc: no change at all.
        let stubs: Vec<Entry> = ["etc/", "etc/hosts", "etc/hostname", "etc/resolv.conf"]
            .iter()
            .map(|s| Entry {
                name: s.to_string(),
                empty_file: *s != "etc/",
            })
            .collect();
        assert!(classify(&stubs, &|p| p == "/etc").is_empty());
    }
}
