//! Pulling images: resolve the reference, fetch the manifest (choosing the
//! platform's entry of an index), the config and the missing layers (three
//! at a time, each verified and unpacked while it streams), then add the
//! image all-or-nothing. Progress goes out as Docker's JSON messages.
//! Downloaded blobs wait in `image/downloads/` until the image is stored,
//! so an interrupted pull resumes from what it already has and never
//! leaves a half image. A gzip layer is kept only in that form (the store
//! adopts the download; no uncompressed tar is written), which is also
//! what a push sends, so pushing a pulled image compresses nothing.

use std::sync::Arc;

use berth_image::config::host_platform;
use berth_image::layer::chain_ids;
use berth_image::manifest;
use berth_image::{Digest, ImageInfo, Reference};
use berth_image::{LayerInput, NewImage};
use berth_registry::client::{endpoint, Client, ClientError, Credentials, Remote};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

mod inspect;
mod layer;

pub use inspect::distribution_inspect;

pub(crate) use layer::remove_partials;

use crate::images::ImageService;
use crate::Error;

/// What a pull asks for.
#[derive(Debug, Clone, Default)]
pub struct PullRequest {
    /// `fromImage` (a name, maybe with a tag or digest).
    pub image: String,
    /// `tag` (a tag or a digest); `latest` when neither is given.
    pub tag: String,
    /// `os/arch[/variant]`; the host's when empty.
    pub platform: String,
    pub credentials: Option<Credentials>,
    /// Registries reached over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
}

/// One progress message, as Docker's (`{"status", "id"}`).
pub(crate) fn message(status: &str, id: Option<&str>) -> Value {
    let mut v = json!({ "status": status });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

fn client_error(e: ClientError, name: &str) -> Error {
    if e.is_not_found() || e.is_unauthorized() {
        return Error::PullDenied(format!(
            "pull access denied for {name}, repository does not exist or may require 'docker login': {e}"
        ));
    }
    Error::Registry(e.to_string())
}

struct Pull {
    client: Client,
    remote: Remote,
    name: String,
}

impl Pull {
    /// A small blob (the config), kept in `dir` until the image is stored so
    /// an interrupted pull does not fetch it again.
    async fn blob_bytes(
        &self,
        d: &Digest,
        size: u64,
        dir: &std::path::Path,
    ) -> Result<Vec<u8>, Error> {
        let path = dir.join(d.hex());
        if let Ok(bytes) = tokio::fs::read(&path).await {
            if Digest::of_bytes(&bytes) == *d {
                return Ok(bytes);
            }
        }
        let partial = layer::partial_path(&path);
        self.client
            .blob_to_file(&self.remote, d, size, &partial, &|_| {})
            .await
            .map_err(|e| client_error(e, &self.name))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(Error::io("storing", &path))?;
        tokio::fs::read(&path)
            .await
            .map_err(Error::io("reading", &path))
    }
}

impl ImageService {
    /// `POST /images/create?fromImage=`: pulls, sending progress on `tx`.
    /// With neither a tag nor a digest, every tag of the repository is
    /// pulled (`pull --all-tags`), as Docker's API does.
    pub async fn pull(
        &self,
        req: PullRequest,
        tx: mpsc::UnboundedSender<Value>,
    ) -> Result<ImageInfo, Error> {
        let r = Reference::parse_normalized(&req.image)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        if !req.tag.is_empty() || !r.is_name_only() {
            return self.pull_one(req, tx).await;
        }
        let remote = Remote {
            endpoint: endpoint(r.domain(), &req.insecure),
            repo: r.path().to_string(),
            credentials: req.credentials.clone(),
        };
        let client = self.registry_client()?;
        let tags = client
            .tags(&remote)
            .await
            .map_err(|e| client_error(e, &r.familiar_name()))?;
        let mut last = None;
        for tag in tags {
            let one = PullRequest { tag, ..req.clone() };
            last = Some(self.pull_one(one, tx.clone()).await?);
        }
        last.ok_or_else(|| {
            Error::PullDenied(format!("the repository {} has no tags", r.familiar_name()))
        })
    }

    async fn pull_one(
        &self,
        req: PullRequest,
        tx: mpsc::UnboundedSender<Value>,
    ) -> Result<ImageInfo, Error> {
        let full = if req.tag.is_empty() {
            req.image.clone()
        } else if req.tag.contains(':') {
            format!("{}@{}", req.image, req.tag)
        } else {
            format!("{}:{}", req.image, req.tag)
        };
        let r = Reference::parse_normalized(&full)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let reference = r
            .digest()
            .map(str::to_string)
            .or_else(|| r.tag().map(str::to_string))
            .unwrap_or_else(|| "latest".into());
        let tagged = r.digest().is_none();
        let display = r.familiar();
        let pull = Pull {
            client: self.registry_client()?,
            remote: Remote {
                endpoint: endpoint(r.domain(), &req.insecure),
                repo: r.path().to_string(),
                credentials: req.credentials.clone(),
            },
            name: r.familiar_name(),
        };
        let _ = tx.send(message(
            &format!("Pulling from {}", pull.remote.repo),
            Some(&reference),
        ));
        let mut manifest = pull
            .client
            .manifest(&pull.remote, &reference)
            .await
            .map_err(|e| client_error(e, &pull.name))?;
        let top_digest = manifest.digest.clone();
        if manifest::is_index(&manifest.media_type) {
            let entry = manifest::index_entry(&manifest.bytes, &req.platform)
                .map_err(|e| Error::Registry(e.to_string()))?;
            let (d, _) = entry.ok_or_else(|| {
                Error::PullDenied(format!(
                    "no matching manifest for {} in the manifest list entries",
                    if req.platform.is_empty() {
                        format!("linux/{}", host_platform().1)
                    } else {
                        req.platform.clone()
                    }
                ))
            })?;
            manifest = pull
                .client
                .manifest(&pull.remote, &d)
                .await
                .map_err(|e| client_error(e, &pull.name))?;
        }
        let m = manifest::parse_manifest(&manifest.bytes)
            .map_err(|e| Error::Registry(e.to_string()))?;
        let downloads = self.store().root().join("downloads");
        tokio::fs::create_dir_all(&downloads)
            .await
            .map_err(Error::io("creating", &downloads))?;
        let (config_digest, config_size) = (m.config.digest.clone(), m.config.size);
        let config = pull
            .blob_bytes(&config_digest, config_size, &downloads)
            .await?;
        let parsed =
            manifest::parse_config(&m, &config).map_err(|e| Error::Registry(e.to_string()))?;
        let layers: Vec<(Digest, u64)> = m.layers.into_iter().map(|d| (d.digest, d.size)).collect();
        let diff_ids: Vec<Digest> = parsed.diff_ids().to_vec();
        let chains = chain_ids(&diff_ids);
        let store = self.store().clone();
        let present: Vec<bool> = chains
            .iter()
            .map(|c| store.layer_store().exists(c))
            .collect();
        let pull = Arc::new(pull);
        let started = std::time::Instant::now();
        let mut jobs = Vec::new();
        for (i, ((d, size), have)) in layers.iter().zip(&present).enumerate() {
            let short = d.short().to_string();
            if *have {
                let _ = tx.send(message("Already exists", Some(&short)));
                continue;
            }
            let _ = tx.send(message("Pulling fs layer", Some(&short)));
            let job = layer::LayerJob {
                digest: d.clone(),
                size: *size,
                diff_id: diff_ids[i].clone(),
                parent_chain: i.checked_sub(1).map(|p| chains[p].clone()),
                file: downloads.join(d.hex()),
                source: format!("{}/{}", r.domain(), r.path()),
            };
            let (pull, tx, store, size) = (pull.clone(), tx.clone(), store.clone(), *size);
            jobs.push(async move {
                let prepared = if job.file.exists() {
                    let _ = tx.send(message("Download complete", Some(&short)));
                    layer::from_file(store, job).await?
                } else {
                    let last = std::sync::atomic::AtomicU64::new(0);
                    let report = |got: u64| {
                        let before = last.load(std::sync::atomic::Ordering::Relaxed);
                        if got == size || got - before >= 512 * 1024 {
                            last.store(got, std::sync::atomic::Ordering::Relaxed);
                            let _ = tx.send(json!({"status": "Downloading", "id": short, "progressDetail": {"current": got, "total": size}}));
                        }
                    };
                    let p = layer::download(store, &pull.client, &pull.remote, job, report)
                        .await
                        .map_err(|e| match e {
                            layer::ClientOr::Client(e) => client_error(e, &pull.name),
                            layer::ClientOr::Engine(e) => e,
                        })?;
                    let _ = tx.send(message("Download complete", Some(&short)));
                    p
                };
                tracing::debug!(layer = %short, elapsed = ?started.elapsed(), "layer downloaded and unpacked");
                let _ = tx.send(message("Pull complete", Some(&short)));
                Ok::<_, Error>((i, prepared))
            });
        }
        let mut prepared: Vec<Option<berth_image::layer::PreparedLayer>> =
            layers.iter().map(|_| None).collect();
        let mut running = futures_util::stream::iter(jobs).buffer_unordered(3);
        while let Some(r) = running.next().await {
            let (i, p) = r?;
            prepared[i] = Some(p);
        }
        drop(running);
        let tags = if tagged {
            vec![r.to_string()]
        } else {
            Vec::new()
        };
        let repo_digests = vec![format!("{}@{}", r.name(), top_digest)];
        let manifest_bytes = manifest.bytes.clone();
        let before = store.resolve(&r.to_string()).ok().map(|i| i.id);
        let info = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || -> Result<ImageInfo, Error> {
                let inputs = prepared
                    .into_iter()
                    .map(|p| p.map_or(LayerInput::Present, |p| LayerInput::Prepared(Box::new(p))))
                    .collect();
                Ok(store.create(NewImage {
                    config,
                    layers: inputs,
                    tags,
                    repo_digests,
                    manifest: Some(manifest_bytes),
                    parent: None,
                })?)
            })
            .await
            .map_err(|e| Error::Internal(format!("pull task failed: {e}")))??
        };
        tracing::debug!(elapsed = ?started.elapsed(), "pulled image stored");
        let _ = tokio::fs::remove_file(downloads.join(config_digest.hex())).await;
        // What the store did not adopt as a layer's gzip form.
        for (d, _) in &layers {
            let _ = tokio::fs::remove_file(downloads.join(d.hex())).await;
        }
        let _ = tx.send(message(&format!("Digest: {top_digest}"), None));
        let status = if before.as_deref() == Some(info.id.as_str()) {
            format!("Status: Image is up to date for {display}")
        } else {
            format!("Status: Downloaded newer image for {display}")
        };
        let _ = tx.send(message(&status, None));
        self.publish_pull(&info, &r.to_string());
        Ok(info)
    }
}
