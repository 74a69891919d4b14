//! Pushing images: each layer is gzip-compressed once and the result kept
//! (`image/compressed/<diff-id>.tar.gz` with its digest), so a second push
//! compresses nothing; blobs the registry has (`HEAD`) are not sent; the
//! layers go three at a time, each mounted from another repository of the
//! registry known to hold it when there is one (`Mounted from ...`), else
//! streamed in one `PATCH`; the manifest (Docker schema 2) goes last, and its digest is reported as
//! Docker does (`<tag>: digest: sha256:... size: N` and an `aux` message).

use std::io::Write;
use std::path::PathBuf;

use std::sync::Arc;

use berth_image::compressed::Entry;
use berth_image::{Digest, ImageStore, Reference};
use berth_registry::client::{endpoint, Client, ClientError, Credentials, Remote, Uploaded};
use futures_util::StreamExt;
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

fn registry_error(e: ClientError) -> Error {
    if e.is_unauthorized() {
        return Error::PullDenied(format!(
            "denied: requested access to the resource is denied: {e}"
        ));
    }
    Error::Registry(e.to_string())
}

/// The gzip form of a layer: the one pulled or made by an earlier push,
/// else made now from the layer tar and kept.
fn compressed(store: &ImageStore, diff: &Digest) -> Result<(Entry, PathBuf), Error> {
    let cache = store.compressed();
    if let Some(found) = cache.get(diff) {
        return Ok(found);
    }
    let tar = store.content().path(diff);
    let dest = cache.blob_path(diff);
    let dir = dest.parent().unwrap_or(store.root());
    std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io("creating a file in", dir))?;
    let mut input = std::fs::File::open(&tar).map_err(Error::io("opening", &tar))?;
    let tar_size = input.metadata().map_err(Error::io("reading", &tar))?.len();
    let mut encoder = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file()),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut input, &mut encoder).map_err(Error::io("compressing", &tar))?;
    let mut writer = encoder.finish().map_err(Error::io("compressing", &tar))?;
    writer.flush().map_err(Error::io("writing", tmp.path()))?;
    drop(writer);
    let mut file = std::fs::File::open(tmp.path()).map_err(Error::io("reading", tmp.path()))?;
    let (digest, size) = Digest::of_reader(&mut file).map_err(Error::io("hashing", tmp.path()))?;
    let entry = Entry {
        digest: digest.to_string(),
        size,
        sources: Vec::new(),
        tar_size: Some(tar_size),
    };
    let tmp = tmp.into_temp_path();
    cache
        .put(diff, &entry, &tmp)
        .map_err(Error::io("keeping the gzip form of", &tar))?;
    let _moved = tmp.keep();
    cache
        .get(diff)
        .ok_or_else(|| Error::Internal(format!("the gzip form of {diff} vanished")))
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
}

impl Target {
    /// Sends one layer unless the registry has it; its manifest descriptor.
    async fn layer(
        &self,
        store: &Arc<ImageStore>,
        diff: &Digest,
        tx: &mpsc::UnboundedSender<Value>,
    ) -> Result<Value, Error> {
        let short = diff.short();
        let (st, d) = (store.clone(), diff.clone());
        let (c, gz) = tokio::task::spawn_blocking(move || compressed(&st, &d))
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
        let cache = store.compressed();
        let (d, source) = (diff.clone(), format!("{}/{}", self.domain, remote.repo));
        let _ = tokio::task::spawn_blocking(move || cache.add_source(&d, &source)).await;
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
            client: self.registry_client()?,
            remote: Remote {
                endpoint: endpoint(r.domain(), &req.insecure),
                repo: r.path().to_string(),
                credentials: req.credentials.clone(),
            },
            domain: r.domain().to_string(),
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
        {
            let (store, id, name, digest) = (
                store.clone(),
                info.id.clone(),
                name.to_string(),
                digest.to_string(),
            );
            tokio::task::spawn_blocking(move || store.add_digest_reference(&id, &name, &digest))
                .await
                .map_err(|e| Error::Internal(format!("image task failed: {e}")))??;
        }
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
        let store = ImageStore::open(dir.path()).unwrap();
        let tar = vec![7u8; 4096];
        let diff = store.content().put_bytes(&tar, None).unwrap();
        let (first, gz) = compressed(&store, &diff).unwrap();
        assert!(gz.exists());
        let bytes = std::fs::read(&gz).unwrap();
        assert_eq!(Digest::of_bytes(&bytes).to_string(), first.digest);
        assert_eq!(bytes.len() as u64, first.size);
        assert_eq!(first.tar_size, Some(4096));
        store.content().remove(&diff).unwrap();
        let (again, _) = compressed(&store, &diff).unwrap();
        assert_eq!(
            again.digest, first.digest,
            "the kept result is reused, the tar is not read again"
        );
        let (mut r, size) = store.layer_tar(&diff).unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut back).unwrap();
        assert_eq!((back, size), (tar, 4096), "the tar is decompressed from it");
    }
}
