//! The image store: the public entry point that ties the content store, the layer
//! store and the image records together. Metadata writes happen under one mutex;
//! long operations (unpacking) happen outside it and commit at the end.

use crate::config::ImageConfig;
use crate::content::ContentStore;
use crate::digest::{is_full_hex, is_lower_hex, Digest};
use crate::error::{Error, IoContext};
use crate::layer::{chain_ids, LayerStore};
use crate::layout::{clean_tmp_entries, write_atomic, Layout};
use crate::records::{ImageRecord, Repositories};
use crate::reference::Reference;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An image as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:<hex>` of the config.
    pub id: String,
    /// Familiar tags, e.g. `busybox:latest`.
    pub repo_tags: Vec<String>,
    /// Familiar digest references, e.g. `busybox@sha256:...`.
    pub repo_digests: Vec<String>,
    /// `created` from the config.
    pub created: Option<String>,
    /// Sum of the unpacked layer sizes.
    pub size: u64,
    /// Diff ids, lowest first.
    pub layers: Vec<String>,
    /// Parent image id, or empty.
    pub parent: String,
    /// Labels from the config.
    pub labels: BTreeMap<String, String>,
}

/// One step of a removal, in Docker's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// A reference was removed (familiar form).
    Untagged(String),
    /// An image or a layer (chain id) was deleted.
    Deleted(String),
}

/// One image a load added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// `sha256:<hex>`.
    pub id: String,
    /// Familiar tags applied.
    pub tags: Vec<String>,
}

/// Options for [`ImageStore::import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Reference to tag the new image with.
    pub reference: Option<String>,
    /// Dockerfile instructions to apply to the config.
    pub changes: Vec<String>,
    /// History comment.
    pub message: Option<String>,
    /// The platform the image says it is for; the host's when unset.
    pub platform: Option<crate::platform::Platform>,
}

/// The in-memory index of records, mirrored on disk.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) images: BTreeMap<Digest, ImageRecord>,
    pub(crate) repos: Repositories,
}

/// How a name resolved.
#[derive(Debug, Clone)]
pub(crate) enum By {
    /// By id, full or prefix.
    Id,
    /// By a reference (tag or digest).
    Ref(Reference),
}

/// The image store rooted at `<berth root>/image`.
pub struct ImageStore {
    pub(crate) layout: Layout,
    pub(crate) content: ContentStore,
    pub(crate) layers: LayerStore,
    index: Mutex<Index>,
    /// Held shared by operations that add images, exclusively by deletions, so a
    /// layer found present cannot vanish before the image using it is committed.
    gc: RwLock<()>,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStore")
            .field("root", &self.layout.root())
            .finish()
    }
}

/// How a store keeps what it unpacks.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreOptions {
    /// Layers whose files belong to owners this process may not give keep
    /// those files owned by the process (see
    /// [`crate::layer::UnpackOptions::ignore_chown_errors`]); without this,
    /// such a layer fails to unpack.
    pub ignore_chown_errors: bool,
    /// Layers are for overlays mounted with `userxattr` (a rootless
    /// daemon's): opaque directories carry `user.overlay.opaque`.
    pub user_xattrs: bool,
}

impl ImageStore {
    /// Opens (creating if missing) the store at `root`, removing leftovers of
    /// interrupted operations.
    pub fn open(root: &Path) -> Result<Self, Error> {
        Self::open_with(root, StoreOptions::default())
    }

    /// [`ImageStore::open`] with options.
    pub fn open_with(root: &Path, options: StoreOptions) -> Result<Self, Error> {
        let layout = Layout::new(root);
        layout
            .create()
            .ctx(|| format!("create image store at {}", root.display()))?;
        let tmp = layout.tmp_dir();
        std::fs::remove_dir_all(&tmp).ctx(|| format!("clean {}", tmp.display()))?;
        std::fs::create_dir(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        for d in [
            layout.blobs_dir(),
            layout.layers_dir(),
            layout.images_dir(),
            layout.root().to_path_buf(),
        ] {
            clean_tmp_entries(&d).ctx(|| format!("clean {}", d.display()))?;
        }
        let index = load_index(&layout)?;
        Ok(Self {
            content: ContentStore::new(layout.clone()),
            layers: LayerStore::with_options(
                layout.clone(),
                crate::layer::UnpackOptions {
                    ignore_chown_errors: options.ignore_chown_errors,
                    user_xattrs: options.user_xattrs,
                    ..Default::default()
                },
            ),
            layout,
            index: Mutex::new(index),
            gc: RwLock::new(()),
        })
    }

    /// The compressed forms of layers.
    pub fn compressed(&self) -> crate::compressed::CompressedLayers {
        crate::compressed::CompressedLayers::new(self.layout.clone())
    }

    /// A blob's bytes and size; a layer tar kept only in gzip form is
    /// decompressed on the fly.
    pub fn layer_tar(&self, d: &Digest) -> Result<(Box<dyn std::io::Read + Send>, u64), Error> {
        match self.content.open(d) {
            Ok(f) => {
                let size = f.metadata().ctx(|| format!("stat blob {d}"))?.len();
                Ok((Box::new(f), size))
            }
            Err(e) => self.compressed().open_tar(d).ok_or_else(|| e.into()),
        }
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// The content store (for the registry client and server).
    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    /// The layer store.
    pub fn layer_store(&self) -> &LayerStore {
        &self.layers
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn gc_shared(&self) -> RwLockReadGuard<'_, ()> {
        self.gc.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn gc_exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gc.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every image.
    pub fn list(&self) -> Result<Vec<ImageInfo>, Error> {
        let idx = self.lock();
        let mut out: Vec<ImageInfo> = idx.images.values().map(|r| info(&idx, r)).collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Finds an image by reference, `sha256:<hex>`, full hex id, or unique id prefix.
    pub fn resolve(&self, name: &str) -> Result<ImageInfo, Error> {
        let idx = self.lock();
        let (id, _) = resolve_in(&idx, name)?;
        Ok(info(&idx, &idx.images[&id]))
    }

    /// The image id a name resolves to.
    pub fn resolve_id(&self, name: &str) -> Result<Digest, Error> {
        let idx = self.lock();
        Ok(resolve_in(&idx, name)?.0)
    }

    /// The raw config bytes, exactly as stored.
    pub fn config_bytes(&self, id: &str) -> Result<Vec<u8>, Error> {
        let id = self.resolve_id(id)?;
        Ok(self.content.read(&id)?)
    }

    /// The parsed config.
    pub fn config(&self, id: &str) -> Result<ImageConfig, Error> {
        let bytes = self.config_bytes(id)?;
        ImageConfig::parse(&bytes).map_err(Error::Config)
    }

    /// The record of an image.
    pub fn record(&self, id: &str) -> Result<ImageRecord, Error> {
        let idx = self.lock();
        let (id, _) = resolve_in(&idx, id)?;
        Ok(idx.images[&id].clone())
    }

    /// Points the reference `target` at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), Error> {
        let r = Reference::parse_normalized(target)?;
        if r.digest().is_some() {
            return Err(crate::reference::ReferenceError::TagWithDigest.into());
        }
        let r = match r.tag() {
            Some(_) => r,
            None => r.with_tag(crate::reference::DEFAULT_TAG)?,
        };
        let mut idx = self.lock();
        let (id, _) = resolve_in(&idx, source)?;
        let mut repos = idx.repos.clone();
        repos.set(r, id);
        self.write_repos(&repos)?;
        idx.repos = repos;
        Ok(())
    }

    /// Records that the registry holds image `id` under `name@digest` (after
    /// a push), so the image lists it in `RepoDigests` as Docker does.
    pub fn add_digest_reference(&self, id: &str, name: &str, digest: &str) -> Result<(), Error> {
        let r = Reference::parse_normalized(name)?.with_digest(digest)?;
        let mut idx = self.lock();
        let (id, _) = resolve_in(&idx, id)?;
        let mut repos = idx.repos.clone();
        repos.set(r, id);
        self.write_repos(&repos)?;
        idx.repos = repos;
        Ok(())
    }

    /// The unpacked layer directories of an image, lowest layer first.
    pub fn layer_dirs(&self, id: &str) -> Result<Vec<PathBuf>, Error> {
        let rec = self.record(id)?;
        let mut out = Vec::new();
        for chain in chain_ids(&rec.diff_ids) {
            if !self.layers.exists(&chain) {
                return Err(Error::Corrupt(format!(
                    "layer {chain} of image {} is missing",
                    rec.id
                )));
            }
            out.push(self.layers.diff_dir(&chain));
        }
        Ok(out)
    }

    pub(crate) fn write_repos(&self, repos: &Repositories) -> Result<(), Error> {
        let p = self.layout.repositories();
        write_atomic(&p, &repos.to_json()).ctx(|| format!("write {}", p.display()))
    }

    pub(crate) fn write_record(&self, rec: &ImageRecord) -> Result<(), Error> {
        let p = self.layout.image_record(&rec.id);
        let json = serde_json::to_vec_pretty(rec).unwrap_or_default();
        write_atomic(&p, &json).ctx(|| format!("write {}", p.display()))
    }
}

fn load_index(layout: &Layout) -> Result<Index, Error> {
    let mut idx = Index::default();
    let dir = layout.images_dir();
    for e in std::fs::read_dir(&dir).ctx(|| format!("read {}", dir.display()))? {
        let e = e.ctx(|| format!("read {}", dir.display()))?;
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let bytes = std::fs::read(&p).ctx(|| format!("read {}", p.display()))?;
        match serde_json::from_slice::<ImageRecord>(&bytes) {
            Ok(r) => {
                idx.images.insert(r.id.clone(), r);
            }
            Err(err) => tracing::warn!("skipping unreadable image record {}: {err}", p.display()),
        }
    }
    let p = layout.repositories();
    match std::fs::read(&p) {
        Ok(bytes) => {
            idx.repos = Repositories::from_json(&bytes)
                .map_err(|e| Error::Corrupt(format!("{}: {e}", p.display())))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("read {}", p.display()), e)),
    }
    let images = &idx.images;
    idx.repos.retain(|id| images.contains_key(id));
    Ok(idx)
}

pub(crate) fn info(idx: &Index, r: &ImageRecord) -> ImageInfo {
    let refs = idx.repos.refs_of(&r.id);
    let mut repo_tags: Vec<String> = refs
        .iter()
        .filter(|x| x.digest().is_none())
        .map(|x| x.familiar())
        .collect();
    repo_tags.sort();
    let mut repo_digests: Vec<String> = refs
        .iter()
        .filter_map(|x| x.digest().map(|d| format!("{}@{d}", x.familiar_name())))
        .collect();
    repo_digests.sort();
    ImageInfo {
        id: r.id.to_string(),
        repo_tags,
        repo_digests,
        created: r.created.clone(),
        size: r.size,
        layers: r.diff_ids.iter().map(|d| d.to_string()).collect(),
        parent: r.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        labels: r.labels.clone(),
    }
}

/// Resolution order (Docker's): full id, then reference, then unique id prefix.
pub(crate) fn resolve_in(idx: &Index, name: &str) -> Result<(Digest, By), Error> {
    let not_found = |shown: &str| Error::NoSuchImage(shown.to_string());
    if let Some(hex) = name.strip_prefix("sha256:") {
        if let Ok(d) = Digest::from_hex(hex) {
            return match idx.images.contains_key(&d) {
                true => Ok((d, By::Id)),
                false => Err(not_found(name)),
            };
        }
        if is_lower_hex(hex) {
            return by_prefix(idx, hex).ok_or_else(|| not_found(name));
        }
        return Err(not_found(name));
    }
    if is_full_hex(name) {
        let d = Digest::from_hex(name).map_err(|_| not_found(name))?;
        return match idx.images.contains_key(&d) {
            true => Ok((d, By::Id)),
            false => Err(not_found(name)),
        };
    }
    let parsed = Reference::parse_docker(name);
    if let Ok(r) = &parsed {
        if let Some(id) = idx.repos.get(r) {
            return Ok((id.clone(), By::Ref(r.clone())));
        }
    }
    if is_lower_hex(name) {
        if let Some(found) = by_prefix(idx, name) {
            return Ok(found);
        }
    }
    match parsed {
        Ok(r) => Err(not_found(&r.familiar())),
        Err(e) => Err(e.into()),
    }
}

fn by_prefix(idx: &Index, prefix: &str) -> Option<(Digest, By)> {
    let mut hits = idx.images.keys().filter(|d| d.hex().starts_with(prefix));
    let first = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    Some((first.clone(), By::Id))
}
