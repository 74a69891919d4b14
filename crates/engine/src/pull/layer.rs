//! One layer of a pull: downloaded and unpacked at once. The compressed
//! bytes go through a bounded channel to a blocking task that unpacks them
//! (with `LayerStore::prepare`) and tees them into `downloads/<hex>.partial`;
//! the file is renamed to `downloads/<hex>` only once the blob's digest and
//! size are verified and the layer unpacked, so a pull interrupted later
//! reads it from there instead of downloading it again.

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use berth_image::layer::{KeepTar, PreparedLayer};
use berth_image::{Digest, ImageStore};
use berth_registry::client::{Client, ClientError, Remote};
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::Error;

/// What to fetch.
pub(super) struct LayerJob {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
    pub parent_chain: Option<Digest>,
    /// `downloads/<hex>`: verified compressed bytes land here.
    pub file: PathBuf,
    /// The repository (`domain/path`) it comes from.
    pub source: String,
}

impl LayerJob {
    /// Keep the gzip download as the layer's only stored form (the store
    /// copies the tar instead when the blob is not gzip).
    fn keep(&self) -> KeepTar {
        KeepTar::Compressed {
            file: self.file.clone(),
            digest: self.digest.clone(),
            size: self.size,
            source: self.source.clone(),
        }
    }
}

/// A blocking reader over chunks sent from the async side, writing each
/// chunk it hands out to `tee` first.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Vec<Bytes>>>,
    /// Chunks received and not yet read, in reverse order.
    pending: Vec<Bytes>,
    current: Bytes,
    tee: BufWriter<std::fs::File>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if let Some(next) = self.pending.pop() {
                self.current = next;
                continue;
            }
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(batch) => {
                    let mut batch = batch?;
                    for chunk in &batch {
                        self.tee.write_all(chunk)?;
                    }
                    batch.reverse();
                    self.pending = batch;
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

fn layer_error(e: berth_image::layer::LayerError) -> Error {
    Error::from(berth_image::Error::from(e))
}

/// Unpacks a layer whose compressed blob is already in `downloads/`.
pub(super) async fn from_file(
    store: Arc<ImageStore>,
    job: LayerJob,
) -> Result<PreparedLayer, Error> {
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::open(&job.file).map_err(Error::io("opening", &job.file))?;
        let mut f = io::BufReader::with_capacity(256 * 1024, &mut f);
        store
            .layer_store()
            .prepare(
                job.parent_chain.as_ref(),
                &mut f,
                Some(&job.diff_id),
                job.keep(),
                store.content(),
            )
            .map_err(layer_error)
    })
    .await
    .map_err(|e| Error::Internal(format!("unpack task failed: {e}")))?
}

/// Downloads and unpacks a layer; `progress` gets the bytes received so far.
pub(super) async fn download(
    store: Arc<ImageStore>,
    client: &Client,
    remote: &Remote,
    job: LayerJob,
    progress: impl Fn(u64),
) -> Result<PreparedLayer, ClientOr> {
    let mut body = client
        .blob(remote, &job.digest, job.size)
        .await
        .map_err(ClientOr::Client)?;
    let partial = partial_path(&job.file);
    let out = std::fs::File::create(&partial)
        .map_err(|e| ClientOr::Engine(Error::io("creating", &partial)(e)))?;
    // Chunks travel in batches of about BATCH bytes: one wake-up each.
    const BATCH: usize = 512 * 1024;
    let (tx, rx) = mpsc::channel::<io::Result<Vec<Bytes>>>(8);
    let unpack = {
        let (partial, file) = (partial.clone(), job.file.clone());
        tokio::task::spawn_blocking(move || -> Result<PreparedLayer, Error> {
            let mut reader = ChannelReader {
                rx,
                pending: Vec::new(),
                current: Bytes::new(),
                tee: BufWriter::with_capacity(1 << 20, out),
            };
            let prepared = store
                .layer_store()
                .prepare(
                    job.parent_chain.as_ref(),
                    &mut reader,
                    Some(&job.diff_id),
                    job.keep(),
                    store.content(),
                )
                .map_err(layer_error)?;
            // The compressed stream may go on past the end of the tar.
            io::copy(&mut reader, &mut io::sink()).map_err(Error::io("downloading", &partial))?;
            reader
                .tee
                .into_inner()
                .map_err(|e| Error::io("writing", &partial)(e.into_error()))?;
            std::fs::rename(&partial, &file).map_err(Error::io("storing", &file))?;
            Ok(prepared)
        })
    };
    let mut failed = None;
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0;
    loop {
        match body.chunk().await {
            Ok(Some(chunk)) => {
                progress(body.received());
                batched += chunk.len();
                batch.push(chunk);
                if batched >= BATCH {
                    batched = 0;
                    if tx.send(Ok(std::mem::take(&mut batch))).await.is_err() {
                        // The unpacker stopped: its error says why.
                        break;
                    }
                }
            }
            Ok(None) => {
                if !batch.is_empty() {
                    let _ = tx.send(Ok(batch)).await;
                }
                break;
            }
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let unpacked = unpack
        .await
        .map_err(|e| Error::Internal(format!("unpack task failed: {e}")));
    if let Some(e) = failed {
        let _ = std::fs::remove_file(&partial);
        return Err(ClientOr::Client(e));
    }
    match unpacked {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) | Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(ClientOr::Engine(e))
        }
    }
}

/// A download's failure: the registry's or ours.
pub(super) enum ClientOr {
    Client(ClientError),
    Engine(Error),
}

/// Where a download into `file` goes until it is verified: unique, so two
/// pulls of the same blob at once each write their own.
pub(super) fn partial_path(file: &Path) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    file.with_extension(format!("{}-{seq}.partial", std::process::id()))
}

/// Removes what an earlier pull left half-written in `dir`.
pub(crate) fn remove_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.path().extension().is_some_and(|x| x == "partial") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
