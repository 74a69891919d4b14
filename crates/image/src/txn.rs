//! Adding images all-or-nothing: blobs and unpacked layers are prepared in temp
//! files and directories, then committed together under the metadata lock; a
//! failure at any point removes everything the transaction created.

use crate::config::ImageConfig;
use crate::content::{ContentError, PendingBlob};
use crate::digest::Digest;
use crate::error::Error;
use crate::layer::{chain_id, chain_ids, KeepTar, LayerError, PreparedLayer};
use crate::records::ImageRecord;
use crate::reference::Reference;
use crate::store::{info, ImageInfo, ImageStore};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::RwLockReadGuard;

/// A layer of an image being created.
pub enum LayerInput<'a> {
    /// Already unpacked in the store (its chain id exists); nothing is read.
    Present,
    /// The layer tar: gzip, zstd or plain. Not read if the layer already exists.
    Tar(Box<dyn Read + 'a>),
    /// Unpacked ahead (say while it downloaded) with [`crate::LayerStore::prepare`];
    /// its chain id must be the one the config gives.
    Prepared(Box<PreparedLayer>),
}

/// An image to add with [`ImageStore::create`] (registry pulls, build commits).
pub struct NewImage<'a> {
    /// Raw config bytes; the image id is their digest.
    pub config: Vec<u8>,
    /// One input per diff id in the config, lowest first.
    pub layers: Vec<LayerInput<'a>>,
    /// References to tag the image with.
    pub tags: Vec<String>,
    /// Digest references (`name@sha256:...`) to record.
    pub repo_digests: Vec<String>,
    /// The manifest the image came with, kept as a blob.
    pub manifest: Option<Vec<u8>>,
    /// Parent image (`sha256:...`), for builds.
    pub parent: Option<String>,
}

impl std::fmt::Debug for NewImage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewImage")
            .field("layers", &self.layers.len())
            .field("tags", &self.tags)
            .finish()
    }
}

pub(crate) struct Txn<'s> {
    store: &'s ImageStore,
    _gc: RwLockReadGuard<'s, ()>,
    blobs: Vec<PendingBlob>,
    layers: Vec<PreparedLayer>,
    pending: HashMap<Digest, u64>,
    images: Vec<(ImageRecord, Vec<Reference>)>,
}

impl<'s> Txn<'s> {
    pub(crate) fn new(store: &'s ImageStore) -> Self {
        Self {
            _gc: store.gc_shared(),
            store,
            blobs: Vec::new(),
            layers: Vec::new(),
            pending: HashMap::new(),
            images: Vec::new(),
        }
    }

    /// Stages a blob (config, manifest), verifying `expected` if given.
    pub(crate) fn blob(
        &mut self,
        bytes: &[u8],
        what: &str,
        expected: Option<&Digest>,
    ) -> Result<Digest, ContentError> {
        let actual = Digest::of_bytes(bytes);
        if let Some(want) = expected {
            if *want != actual {
                return Err(ContentError::DigestMismatch {
                    what: what.to_string(),
                    expected: want.clone(),
                    actual,
                });
            }
        }
        if self.store.content.exists(&actual) || self.blobs.iter().any(|b| *b.digest() == actual) {
            return Ok(actual);
        }
        let mut w = self.store.content.writer()?;
        std::io::Write::write_all(&mut w, bytes).map_err(|source| ContentError::Read {
            what: what.to_string(),
            source,
        })?;
        self.blobs
            .push(w.finish(what, Some(&actual), Some(bytes.len() as u64))?);
        Ok(actual)
    }

    /// True if the layer exists or is staged in this transaction.
    pub(crate) fn has_layer(&self, chain: &Digest) -> bool {
        self.pending.contains_key(chain) || self.store.layers.exists(chain)
    }

    /// Unpacks a layer on top of `parent`; returns its diff id.
    pub(crate) fn layer(
        &mut self,
        parent: Option<&Digest>,
        input: &mut dyn Read,
        expected_diff_id: Option<&Digest>,
        keep: KeepTar,
    ) -> Result<Digest, LayerError> {
        let p = self.store.layers.prepare(
            parent,
            input,
            expected_diff_id,
            keep,
            &self.store.content,
        )?;
        let rec = p.record().clone();
        if !self.pending.contains_key(&rec.chain_id) {
            self.pending.insert(rec.chain_id.clone(), rec.size);
            self.layers.push(p);
        }
        Ok(rec.diff_id)
    }

    /// Stages a layer unpacked ahead of the transaction.
    pub(crate) fn adopt_layer(&mut self, p: PreparedLayer) {
        let rec = p.record().clone();
        if !self.pending.contains_key(&rec.chain_id) {
            self.pending.insert(rec.chain_id.clone(), rec.size);
            self.layers.push(p);
        }
    }

    /// Records an image whose config and layers are staged or present.
    pub(crate) fn image(
        &mut self,
        id: Digest,
        config: &ImageConfig,
        parent: Option<Digest>,
        manifest: Option<Digest>,
        tags: Vec<Reference>,
    ) -> Result<(), Error> {
        let mut size = 0;
        for chain in chain_ids(config.diff_ids()) {
            size += match self.pending.get(&chain) {
                Some(s) => *s,
                None => self.store.layers.record(&chain)?.size,
            };
        }
        let rec = ImageRecord {
            id,
            diff_ids: config.diff_ids().to_vec(),
            size,
            created: config.created.clone(),
            labels: config.labels(),
            parent,
            manifest,
            added: crate::time::now_rfc3339(),
        };
        self.images.push((rec, tags));
        Ok(())
    }

    /// Makes everything visible. On error, removes what this commit created.
    pub(crate) fn commit(self) -> Result<Vec<(ImageInfo, Vec<String>)>, Error> {
        let store = self.store;
        let mut idx = store.lock();
        let mut created: Vec<PathBuf> = Vec::new();
        let mut created_dirs: Vec<PathBuf> = Vec::new();
        let result = (|| -> Result<_, Error> {
            for b in self.blobs {
                let dest = b.dest().to_path_buf();
                if b.commit()? {
                    created.push(dest);
                }
            }
            for l in self.layers {
                let c = l.commit()?;
                created.extend(c.blobs);
                created_dirs.extend(c.layer_dir);
            }
            let mut repos = idx.repos.clone();
            let mut records = Vec::new();
            let mut tagged = Vec::new();
            for (rec, tags) in self.images {
                let rec = match idx.images.get(&rec.id) {
                    Some(existing) => existing.clone(),
                    None => {
                        store.write_record(&rec)?;
                        created.push(store.layout.image_record(&rec.id));
                        rec
                    }
                };
                let mut names = Vec::new();
                for t in tags {
                    names.push(t.familiar());
                    repos.set(t, rec.id.clone());
                }
                tagged.push((rec.id.clone(), names));
                records.push(rec);
            }
            store.write_repos(&repos)?;
            Ok((repos, records, tagged))
        })();
        match result {
            Ok((repos, records, tagged)) => {
                for r in records {
                    idx.images.insert(r.id.clone(), r);
                }
                idx.repos = repos;
                Ok(tagged
                    .into_iter()
                    .map(|(id, names)| (info(&idx, &idx.images[&id]), names))
                    .collect())
            }
            Err(e) => {
                for p in created {
                    let _ = std::fs::remove_file(p);
                }
                for d in created_dirs {
                    let _ = std::fs::remove_dir_all(d);
                }
                Err(e)
            }
        }
    }
}

impl ImageStore {
    /// Adds an image from its config and layers (registry pulls, build commits).
    /// Layers already in the store are not read. All-or-nothing.
    pub fn create(&self, new: NewImage<'_>) -> Result<ImageInfo, Error> {
        let mut tags = Vec::new();
        for t in &new.tags {
            let r = Reference::parse_docker(t)?;
            if r.digest().is_some() {
                return Err(crate::reference::ReferenceError::TagWithDigest.into());
            }
            tags.push(r);
        }
        for d in &new.repo_digests {
            let r = Reference::parse_normalized(d)?;
            if r.digest().is_none() {
                return Err(crate::reference::ReferenceError::Format.into());
            }
            tags.push(r);
        }
        let parent = match &new.parent {
            Some(p) => Some(self.resolve_id(p)?),
            None => None,
        };
        let config = ImageConfig::parse(&new.config).map_err(Error::Config)?;
        if config.diff_ids().len() != new.layers.len() {
            return Err(Error::InvalidImage(format!(
                "config has {} diff ids but {} layers were given",
                config.diff_ids().len(),
                new.layers.len()
            )));
        }
        let mut txn = Txn::new(self);
        let id = txn.blob(&new.config, "config", None)?;
        let manifest = match &new.manifest {
            Some(m) => Some(txn.blob(m, "manifest", None)?),
            None => None,
        };
        let mut parent_chain: Option<Digest> = None;
        for (diff_id, input) in config.diff_ids().iter().zip(new.layers) {
            let chain = chain_id(parent_chain.as_ref(), diff_id);
            if !txn.has_layer(&chain) {
                match input {
                    LayerInput::Present => return Err(LayerError::NotFound(chain).into()),
                    LayerInput::Tar(mut r) => {
                        txn.layer(parent_chain.as_ref(), &mut r, Some(diff_id), KeepTar::Copy)?;
                    }
                    LayerInput::Prepared(p) => {
                        if p.record().chain_id != chain {
                            return Err(LayerError::DiffIdMismatch {
                                expected: diff_id.clone(),
                                actual: p.record().diff_id.clone(),
                            }
                            .into());
                        }
                        txn.adopt_layer(*p);
                    }
                }
            }
            parent_chain = Some(chain);
        }
        txn.image(id, &config, parent, manifest, tags)?;
        let mut out = txn.commit()?;
        out.pop()
            .map(|(i, _)| i)
            .ok_or_else(|| Error::Corrupt("no image committed".into()))
    }
}

/// Diff ids seen in a set of images (for reference counting).
pub(crate) fn used_diff_ids<'a>(recs: impl Iterator<Item = &'a ImageRecord>) -> HashSet<Digest> {
    recs.flat_map(|r| r.diff_ids.iter().cloned()).collect()
}
