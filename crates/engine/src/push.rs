//! Pushing images: each layer is gzip-compressed once and the result kept
//! (`image/compressed/<diff-id>.tar.gz` with its digest), so a second push
//! compresses nothing; blobs the registry has (`HEAD`) are not sent; the
//! layers go three at a time, each mounted from another repository of the
//! registry known to hold it when there is one (`Mounted from ...`), else
//! streamed in one `PATCH`; the manifest (Docker schema 2) goes last, and its digest is reported as
//! Docker does (`<tag>: digest: sha256:... size: N` and an `aux` message).

use std::io::Write;
use std::path::{Path, PathBuf};

use berth_image::{Digest, Reference};
use berth_registry::client::{endpoint, Client, ClientError, Credentials, Remote, Uploaded};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::images::ImageService;
use crate::pull::message;
use crate::Error;

/// What a push asks for.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// The repository (`127.0.0.1:5000/app`).
    pub name: String,
    /// The tag; `latest` when empty.
    pub tag: String,
    pub credentials: Option<Credentials>,
    pub insecure: Vec<String>,
}

/// A layer as pushed: its compressed form.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Compressed {
    digest: String,
    size: u64,
    /// Repositories (`domain/repo`) known to hold it, for mounts.
    #[serde(default)]
    sources: Vec<String>,
}

fn registry_error(e: ClientError) -> Error {
    if e.is_unauthorized() {
        return Error::PullDenied(format!(
            "denied: requested access to the resource is denied: {e}"
        ));
    }
    Error::Registry(e.to_string())
}

/// The gzip form of the layer tar at `tar`, made once and kept in `cache`.
fn compressed(cache: &Path, diff: &Digest, tar: &Path) -> Result<(Compressed, PathBuf), Error> {
    let meta = cache.join(format!("{}.json", diff.hex()));
    let gz = cache.join(format!("{}.tar.gz", diff.hex()));
    if let (Ok(bytes), true) = (std::fs::read(&meta), gz.exists()) {
        if let Ok(c) = serde_json::from_slice::<Compressed>(&bytes) {
            return Ok((c, gz));
        }
    }
    std::fs::create_dir_all(cache).map_err(Error::io("creating", cache))?;
    let tmp = cache.join(format!("{}.partial", diff.hex()));
    let mut input = std::fs::File::open(tar).map_err(Error::io("opening", tar))?;
    let out = std::fs::File::create(&tmp).map_err(Error::io("creating", &tmp))?;
    let mut encoder =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(out), flate2::Compression::fast());
    std::io::copy(&mut input, &mut encoder).map_err(Error::io("compressing", tar))?;
    let mut writer = encoder.finish().map_err(Error::io("compressing", tar))?;
    writer.flush().map_err(Error::io("writing", &tmp))?;
    drop(writer);
    let mut file = std::fs::File::open(&tmp).map_err(Error::io("reading", &tmp))?;
    let (digest, size) = Digest::of_reader(&mut file).map_err(Error::io("hashing", &tmp))?;
    std::fs::rename(&tmp, &gz).map_err(Error::io("storing", &gz))?;
    let c = Compressed {
        digest: digest.to_string(),
        size,
        sources: Vec::new(),
    };
    let bytes = serde_json::to_vec(&c).map_err(|e| Error::Internal(e.to_string()))?;
    crate::container::write_atomic(&meta, &bytes)?;
    Ok((c, gz))
}

/// Keeps a pulled gzip layer blob as the layer's compressed form (best
/// effort: a push compresses again if this did not happen).
pub(crate) fn remember_compressed(
    cache: &Path,
    diff: &Digest,
    digest: &Digest,
    size: u64,
    blob: &Path,
    source: &str,
) {
    let meta = cache.join(format!("{}.json", diff.hex()));
    let gz = cache.join(format!("{}.tar.gz", diff.hex()));
    if meta.exists() || std::fs::create_dir_all(cache).is_err() {
        return;
    }
    if std::fs::rename(blob, &gz).is_err() {
        return;
    }
    let c = Compressed {
        digest: digest.to_string(),
        size,
        sources: vec![source.to_string()],
    };
    let written = serde_json::to_vec(&c)
        .map_err(|e| Error::Internal(e.to_string()))
        .and_then(|bytes| crate::container::write_atomic(&meta, &bytes));
    if written.is_err() {
        let _ = std::fs::remove_file(&gz);
    }
}

/// Removes compressed forms of layers whose tar left the content store.
pub(crate) fn prune_compressed(cache: &Path, content: &berth_image::content::ContentStore) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(hex) = name.split('.').next() else {
            continue;
        };
        let gone = Digest::from_hex(hex).is_ok_and(|d| !content.exists(&d));
        if gone {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Adds `source` (`domain/repo`) to the repositories known to hold the
/// compressed form of `diff` (best effort: only mounts depend on it).
fn remember_source(cache: &Path, diff: &Digest, source: &str) {
    let meta = cache.join(format!("{}.json", diff.hex()));
    let Ok(mut c) = std::fs::read(&meta)
        .map_err(|_| ())
        .and_then(|b| serde_json::from_slice::<Compressed>(&b).map_err(|_| ()))
    else {
        return;
    };
    if c.sources.iter().any(|s| s == source) {
        return;
    }
    c.sources.push(source.to_string());
    if let Ok(bytes) = serde_json::to_vec(&c) {
        let _ = crate::container::write_atomic(&meta, &bytes);
    }
}

/// A repository of `domain` other than `repo` known to hold the blob (pure).
fn mount_source<'a>(sources: &'a [String], domain: &str, repo: &str) -> Option<&'a str> {
    sources.iter().find_map(|s| {
        let (d, r) = s.split_once('/')?;
        (d == domain && r != repo).then_some(r)
    })
}

/// One push: where to and with what.
struct Target {
    client: Client,
    remote: Remote,
    domain: String,
    cache: PathBuf,
}

impl Target {
    /// Sends one layer unless the registry has it; its manifest descriptor.
    async fn layer(
        &self,
        store: &berth_image::ImageStore,
        diff: &Digest,
        tx: &mpsc::UnboundedSender<Value>,
    ) -> Result<Value, Error> {
        let short = diff.short();
        let tar = store.content().path(diff);
        let (cache, d) = (self.cache.clone(), diff.clone());
        let (c, gz) = tokio::task::spawn_blocking(move || compressed(&cache, &d, &tar))
            .await
            .map_err(|e| Error::Internal(format!("compress task failed: {e}")))??;
        let digest = Digest::parse(&c.digest).map_err(|e| Error::Internal(e.to_string()))?;
        let (client, remote) = (&self.client, &self.remote);
        if client
            .blob_exists(remote, &digest)
            .await
            .map_err(registry_error)?
        {
            let _ = tx.send(message("Layer already exists", Some(short)));
        } else {
            let _ = tx.send(message("Pushing", Some(short)));
            let from = mount_source(&c.sources, &self.domain, &remote.repo);
            let how = client
                .upload_blob(remote, &digest, c.size, &gz, from)
                .await
                .map_err(registry_error)?;
            let status = match (how, from) {
                (Uploaded::Mounted, Some(f)) => format!("Mounted from {f}"),
                _ => "Pushed".to_string(),
            };
            let _ = tx.send(message(&status, Some(short)));
        }
        let cache = self.cache.clone();
        let (d, source) = (diff.clone(), format!("{}/{}", self.domain, remote.repo));
        let _ = tokio::task::spawn_blocking(move || remember_source(&cache, &d, &source)).await;
        Ok(
            json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": c.size, "digest": c.digest}),
        )
    }
}

impl ImageService {
    /// `POST /images/{name}/push`: pushes one tag, or every local tag of
    /// the repository when none is given (`push --all-tags`), sending
    /// progress on `tx`.
    pub async fn push(
        &self,
        req: PushRequest,
        tx: mpsc::UnboundedSender<Value>,
    ) -> Result<(), Error> {
        let r = Reference::parse_normalized(&req.name)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let store = self.store().clone();
        let tags: Vec<String> = if !req.tag.is_empty() {
            vec![req.tag.clone()]
        } else if let Some(t) = r.tag() {
            vec![t.to_string()]
        } else {
            let name = r.name();
            let mut tags: Vec<String> = store
                .list()?
                .iter()
                .flat_map(|i| i.repo_tags.iter())
                .filter_map(|t| Reference::parse_normalized(t).ok())
                .filter(|t| t.name() == name)
                .filter_map(|t| t.tag().map(str::to_string))
                .collect();
            tags.sort();
            tags.dedup();
            if tags.is_empty() {
                return Err(Error::PullDenied(format!(
                    "An image does not exist locally with the tag: {}",
                    r.familiar_name()
                )));
            }
            tags
        };
        let target = Target {
            client: Client::new().map_err(|e| Error::Registry(e.to_string()))?,
            remote: Remote {
                endpoint: endpoint(r.domain(), &req.insecure),
                repo: r.path().to_string(),
                credentials: req.credentials.clone(),
            },
            domain: r.domain().to_string(),
            cache: store.root().join("compressed"),
        };
        let _ = tx.send(message(
            &format!("The push refers to repository [{}]", r.name()),
            None,
        ));
        for tag in tags {
            self.push_tag(&target, &r.name(), &tag, &tx).await?;
        }
        Ok(())
    }

    async fn push_tag(
        &self,
        target: &Target,
        name: &str,
        tag: &str,
        tx: &mpsc::UnboundedSender<Value>,
    ) -> Result<(), Error> {
        let store = self.store().clone();
        let r = Reference::parse_normalized(&format!("{name}:{tag}"))
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let info = store.resolve(&r.to_string()).map_err(|_| {
            Error::PullDenied(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            ))
        })?;
        let record = store.record(&info.id)?;
        let config = store.config_bytes(&info.id)?;
        for diff in record.diff_ids.iter().rev() {
            let _ = tx.send(message("Preparing", Some(diff.short())));
        }
        let mut sends = Vec::new();
        for diff in &record.diff_ids {
            sends.push(target.layer(&store, diff, tx));
        }
        let layers: Vec<Value> = futures_util::stream::iter(sends)
            .buffered(3)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let (client, remote) = (&target.client, &target.remote);
        let config_digest = Digest::of_bytes(&config);
        if !client
            .blob_exists(remote, &config_digest)
            .await
            .map_err(registry_error)?
        {
            client
                .upload_bytes(remote, &config_digest, config.clone())
                .await
                .map_err(registry_error)?;
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": config_digest.to_string()},
            "layers": layers,
        });
        let bytes =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
        let size = bytes.len();
        let digest = client
            .put_manifest(
                remote,
                tag,
                bytes,
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .await
            .map_err(registry_error)?;
        let _ = tx.send(message(
            &format!("{tag}: digest: {digest} size: {size}"),
            None,
        ));
        let _ = tx.send(
            json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}}),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_once() {
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("layer.tar");
        std::fs::write(&tar, vec![7u8; 4096]).unwrap();
        let diff = Digest::of_bytes(&[7u8; 4096]);
        let cache = dir.path().join("cache");
        let (first, gz) = compressed(&cache, &diff, &tar).unwrap();
        assert!(gz.exists());
        let bytes = std::fs::read(&gz).unwrap();
        assert_eq!(Digest::of_bytes(&bytes).to_string(), first.digest);
        assert_eq!(bytes.len() as u64, first.size);
        std::fs::remove_file(&tar).unwrap();
        let (again, _) = compressed(&cache, &diff, &tar).unwrap();
        assert_eq!(
            again.digest, first.digest,
            "the kept result is reused, the tar is not read again"
        );
    }
}
