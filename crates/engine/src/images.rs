//! The image service: the daemon's async face of `berth_image::ImageStore`.
//!
//! Store calls are blocking file work; each runs on the blocking pool.

use std::io::{Read, Write};
use std::sync::Arc;

use berth_image::ImageStore;
pub use berth_image::{ImageInfo, ImportOptions, Loaded, Removed};

use crate::events::{Event, Events};
use crate::{Error, Paths};

/// Tells which container (if any) uses an image id.
pub type UsedBy = Box<dyn Fn(&str) -> Option<String> + Send>;

#[derive(Clone)]
pub struct ImageService {
    store: Arc<ImageStore>,
    events: Events,
}

async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("image task failed: {e}")))?
}

impl ImageService {
    pub async fn open(paths: &Paths, events: Events) -> Result<ImageService, Error> {
        let root = paths.image_root();
        let store = blocking(move || Ok(ImageStore::open(&root)?)).await?;
        crate::pull::remove_partials(&store.root().join("downloads"));
        Ok(ImageService {
            store: Arc::new(store),
            events,
        })
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

    pub async fn remove(
        &self,
        name: &str,
        force: bool,
        used_by: UsedBy,
    ) -> Result<Vec<Removed>, Error> {
        let store = self.store.clone();
        let name = name.to_string();
        let removed = blocking(move || Ok(store.remove(&name, force, &*used_by)?)).await?;
        for r in &removed {
            match r {
                Removed::Untagged(t) => self.events.publish(Event::image("untag", t, t)),
                Removed::Deleted(d) => self.events.publish(Event::image("delete", d, d)),
            }
        }
        Ok(removed)
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
}
