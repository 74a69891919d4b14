//! `GET /containers/{id}/changes` (`docker diff`): what the container's
//! writable layer changed against its image. Whiteouts are deletions;
//! anything else in the upper directory is a modification when an image
//! layer has the path and an addition when none has. Read from the same
//! walk that `commit` turns into a layer, so the two always agree.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ContainerService;
use crate::Error;

/// Docker's change kinds, numbered as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub path: String,
    pub kind: u8,
}

/// Classifies the entry names of a layer tar (`etc/`, `tmp/.wh.x`, ...):
/// `in_image` says whether an image layer has an (absolute) path.
pub fn classify(names: &[String], in_image: &dyn Fn(&str) -> bool) -> Vec<Change> {
    let mut out = Vec::new();
    for name in names {
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
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The entry names of the layer tar the upper directory `upper` makes.
fn layer_names(upper: &Path) -> Result<Vec<String>, Error> {
    let (reader, mut writer) = std::io::pipe().map_err(Error::io("creating a pipe for", upper))?;
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
            names.push(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
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
            let names = layer_names(&upper)?;
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
        let names: Vec<String> = [
            "tmp/",
            "tmp/new",
            "etc/",
            "etc/.wh.motd",
            "etc/passwd",
            "var/cache/",
            "var/cache/.wh..wh..opq",
            "test",
        ]
        .iter()
        .map(|s| s.to_string())
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
    }
}
