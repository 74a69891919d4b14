//! The image service: the daemon's async face of `berth_image::ImageStore`.
//!
//! Store calls are blocking file work; each runs on the blocking pool.

use std::io::{Read, Write};
use std::sync::Arc;

use berth_image::ImageStore;
pub use berth_image::{ImageInfo, ImportOptions, Loaded, Removed};

use crate::events::{Event, Events};
use crate::fsutil::blocking;
use crate::{Error, Paths};

pub mod view;

pub use berth_image::config::host_platform;
pub use berth_image::platform::{parse as parse_platform, Platform};

/// Docker's `RepoTagReference` over `repo` and `tag`, familiar form.
pub fn repo_tag(
    repo: &str,
    tag: &str,
) -> Result<Option<String>, berth_image::reference::ReferenceError> {
    berth_image::reference::repo_tag(repo, tag).map(|r| r.map(|r| r.familiar()))
}

/// Tells which container (if any) uses an image id.
pub type UsedBy = Box<dyn Fn(&str) -> Option<String> + Send>;

/// [`UsedBy`] shared across the removals of a prune.
pub type SharedUsedBy = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

#[derive(Clone)]
pub struct ImageService {
    store: Arc<ImageStore>,
    snapshots: Arc<dyn crate::snapshots::Snapshots>,
    events: Events,
    /// How registries are reached.
    dialer: berth_registry::dial::Dialer,
}

impl ImageService {
    pub async fn open(
        paths: &Paths,
        options: berth_image::StoreOptions,
        snapshots: Arc<dyn crate::snapshots::Snapshots>,
        events: Events,
        dialer: berth_registry::dial::Dialer,
    ) -> Result<ImageService, Error> {
        let root = paths.image_root();
        let store = blocking(move || Ok(ImageStore::open_with(&root, options)?)).await?;
        Ok(ImageService {
            store: Arc::new(store),
            snapshots,
            events,
            dialer,
        })
    }

    /// A registry client connecting as this daemon must (directly, or from
    /// the host's network for a rootless daemon).
    pub fn registry_client(&self) -> Result<berth_registry::client::Client, Error> {
        berth_registry::client::Client::with_dialer(self.dialer.clone())
            .map_err(|e| Error::Registry(e.to_string()))
    }

    pub fn store(&self) -> &Arc<ImageStore> {
        &self.store
    }

    /// Publishes the `pull` event of an image.
    pub(crate) fn publish_pull(&self, info: &ImageInfo, reference: &str) {
        self.events
            .publish(crate::events::Event::image("pull", &info.id, reference));
    }

    pub async fn list(&self) -> Result<Vec<ImageInfo>, Error> {
        let store = self.store.clone();
        blocking(move || Ok(store.list()?)).await
    }

    /// `GET /images/json`: the images `filters` select, with `all` the
    /// intermediate ones too, as Docker lists them.
    pub async fn list_filtered(
        &self,
        filters: crate::filters::Args,
        all: bool,
    ) -> Result<Vec<ImageInfo>, Error> {
        let store = self.store.clone();
        blocking(move || {
            let filter = view::Filter::parse(filters, &|name| Ok(store.resolve(name)?))?;
            Ok(filter.select(&store.list()?, all))
        })
        .await
    }

    pub async fn resolve(&self, name: &str) -> Result<ImageInfo, Error> {
        let store = self.store.clone();
        let name = name.to_string();
        blocking(move || Ok(store.resolve(&name)?)).await
    }

    /// The image's config, typed.
    pub async fn config(&self, id: &str) -> Result<berth_image::ImageConfig, Error> {
        let store = self.store.clone();
        let id = id.to_string();
        blocking(move || Ok(store.config(&id)?)).await
    }

    /// The image's config file as stored, parsed.
    pub async fn config_json(&self, id: &str) -> Result<serde_json::Value, Error> {
        let store = self.store.clone();
        let id = id.to_string();
        blocking(move || {
            let bytes = store.config_bytes(&id)?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::Internal(format!("image config of {id} is not JSON: {e}")))
        })
        .await
    }

    pub async fn tag(&self, source: &str, target: &str) -> Result<(), Error> {
        let store = self.store.clone();
        let (source, target) = (source.to_string(), target.to_string());
        let (s2, t2) = (source.clone(), target.clone());
        let id = blocking(move || {
            store.tag(&s2, &t2)?;
            Ok(store.resolve(&t2)?.id)
        })
        .await?;
        self.events.publish(Event::image("tag", &id, &target));
        Ok(())
    }

    /// Removes one name, or the image with `force` or when it is the last
    /// name; `used_by` says which container uses an image, if any.
    pub async fn remove(
        &self,
        name: &str,
        force: bool,
        used_by: UsedBy,
    ) -> Result<Vec<Removed>, Error> {
        let store = self.store.clone();
        let name = name.to_string();
        let removed = blocking(move || Ok(store.remove(&name, force, &*used_by)?)).await?;
        self.publish_removed(&removed);
        Ok(removed)
    }

    /// `DELETE /images/{name}` (`docker rmi`): [`Self::remove`], then, when
    /// the image itself went and unless `noprune`, each untagged parent in
    /// turn that no other image is built on and no container uses (a
    /// build's intermediate images), as Docker does. The walk stops at the
    /// first parent that must stay. One task on the blocking pool.
    pub async fn remove_with_parents(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
        used_by: SharedUsedBy,
    ) -> Result<Vec<Removed>, Error> {
        let store = self.store.clone();
        let name = name.to_string();
        let removed = blocking(move || {
            let mut parent = store.resolve(&name).map(|i| i.parent).unwrap_or_default();
            let mut removed = store.remove(&name, force, &*used_by)?;
            let deleted = removed.iter().any(|r| matches!(r, Removed::Deleted(_)));
            if !deleted || noprune {
                return Ok(removed);
            }
            while !parent.is_empty() {
                let all = store.list()?;
                let Some(p) = all.iter().find(|i| i.id == parent) else {
                    break;
                };
                let has_children = all.iter().any(|i| i.parent == parent);
                if !p.repo_tags.is_empty() || has_children || used_by(&p.id).is_some() {
                    break;
                }
                let next = p.parent.clone();
                match store.remove(&parent, false, &*used_by) {
                    Ok(r) => removed.extend(r),
                    Err(e) => {
                        tracing::warn!(image = %parent, error = %e, "rmi kept an untagged parent");
                        break;
                    }
                }
                parent = next;
            }
            Ok(removed)
        })
        .await?;
        self.publish_removed(&removed);
        Ok(removed)
    }

    fn publish_removed(&self, removed: &[Removed]) {
        for r in removed {
            match r {
                Removed::Untagged(t) => self.events.publish(Event::image("untag", t, t)),
                Removed::Deleted(d) => self.events.publish(Event::image("delete", d, d)),
            }
        }
    }

    /// `POST /images/prune`: removes the images no container uses and no
    /// image is built on, untagged ones only unless `dangling=false`, of
    /// those `label`, `label!` and `until` select. Removing an image may
    /// free its parent (a build's intermediate step), so this repeats until
    /// nothing changes. Returns each step and the bytes reclaimed.
    pub async fn prune(
        &self,
        filters: crate::filters::Args,
        used_by: SharedUsedBy,
    ) -> Result<(Vec<Removed>, u64), Error> {
        filters.validate(&["dangling", "label", "label!", "until"])?;
        let only_dangling = filters.bool_or("dangling", true)?;
        let until = filters.until()?;
        let mut removed = Vec::new();
        let mut reclaimed = 0u64;
        loop {
            let images = self.list().await?;
            let parents: std::collections::HashSet<&str> = images
                .iter()
                .map(|i| i.parent.as_str())
                .filter(|p| !p.is_empty())
                .collect();
            let doomed: Vec<&ImageInfo> = images
                .iter()
                .filter(|i| {
                    !parents.contains(i.id.as_str())
                        && used_by(&i.id).is_none()
                        && (!only_dangling || i.repo_tags.is_empty())
                        && filters.labels_select(&i.labels)
                        && until.is_none_or(|u| {
                            i.created
                                .as_deref()
                                .and_then(crate::time::parse)
                                .is_some_and(|c| c < u)
                        })
                })
                .collect();
            let mut removed_any = false;
            for img in doomed {
                let used = used_by.clone();
                let check: UsedBy = Box::new(move |id: &str| used(id));
                match self.remove(&img.id, true, check).await {
                    Ok(steps) => {
                        removed_any = true;
                        reclaimed += img.size;
                        removed.extend(steps);
                    }
                    Err(e) => {
                        tracing::warn!(image = %img.id, error = %e, "prune could not remove an image")
                    }
                }
            }
            if !removed_any {
                break;
            }
        }
        let mut event = Event::image("prune", "", "").with("reclaimed", reclaimed.to_string());
        event.actor.attributes.remove("name");
        self.events.publish(event);
        Ok((removed, reclaimed))
    }

    /// Loads an archive read from `reader` (a blocking reader, e.g. a bridge
    /// from the request body).
    pub async fn load(&self, mut reader: Box<dyn Read + Send>) -> Result<Vec<Loaded>, Error> {
        let store = self.store.clone();
        let loaded = blocking(move || Ok(store.load(&mut reader)?)).await?;
        for l in &loaded {
            let name = l.tags.first().cloned().unwrap_or_else(|| l.id.clone());
            self.events.publish(Event::image("load", &l.id, &name));
        }
        Ok(loaded)
    }

    pub async fn save(
        &self,
        names: Vec<String>,
        mut writer: Box<dyn Write + Send>,
    ) -> Result<(), Error> {
        let store = self.store.clone();
        let saved = names.clone();
        blocking(move || {
            store.save(&names, &mut writer)?;
            writer.flush().map_err(Error::io("writing archive", "-"))
        })
        .await?;
        for n in saved {
            self.events.publish(Event::image("save", &n, &n));
        }
        Ok(())
    }

    pub async fn import(
        &self,
        mut reader: Box<dyn Read + Send>,
        opts: ImportOptions,
    ) -> Result<ImageInfo, Error> {
        let store = self.store.clone();
        let info = blocking(move || Ok(store.import(&mut reader, &opts)?)).await?;
        let name = info
            .repo_tags
            .first()
            .cloned()
            .unwrap_or_else(|| info.id.clone());
        self.events.publish(Event::image("import", &info.id, &name));
        Ok(info)
    }

    pub async fn commit(&self, opts: berth_image::CommitOptions) -> Result<ImageInfo, Error> {
        let store = self.store.clone();
        let info = blocking(move || Ok(store.commit(&opts)?)).await?;
        let name = info
            .repo_tags
            .first()
            .cloned()
            .unwrap_or_else(|| info.id.clone());
        self.events.publish(Event::image("commit", &info.id, &name));
        Ok(info)
    }

    pub async fn layer_dirs(&self, id: &str) -> Result<Vec<std::path::PathBuf>, Error> {
        let store = self.store.clone();
        let id = id.to_string();
        blocking(move || Ok(store.layer_dirs(&id)?)).await
    }

    /// How image trees are put together (see [`crate::snapshots`]).
    pub fn snapshots(&self) -> &Arc<dyn crate::snapshots::Snapshots> {
        &self.snapshots
    }

    /// Image `id`'s tree, read-only, at `target` (see
    /// [`crate::snapshots::Snapshots::view`]).
    pub async fn view(
        &self,
        id: &str,
        target: std::path::PathBuf,
    ) -> Result<crate::snapshots::View, Error> {
        let layers = self.layer_dirs(id).await?;
        let snapshots = self.snapshots.clone();
        blocking(move || snapshots.view(&layers, &target)).await
    }
}
