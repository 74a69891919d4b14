//! The build cache on disk: `builder/cache/<key hex>` holds the image id a
//! step produced. It survives daemon restarts; an entry whose image is gone
//! is a miss.

use std::path::{Path, PathBuf};

use berth_builder::cache::CacheKey;

use crate::Error;

#[derive(Debug, Clone)]
pub(crate) struct BuildCache {
    dir: PathBuf,
}

impl BuildCache {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            dir: root.join("builder").join("cache"),
        }
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir
            .join(key.0.strip_prefix("sha256:").unwrap_or(&key.0))
    }

    /// The image id recorded for `key`, if any.
    pub(crate) fn get(&self, key: &CacheKey) -> Option<String> {
        std::fs::read_to_string(self.path(key))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| s.starts_with("sha256:"))
    }

    /// Records `id` for `key`.
    pub(crate) fn put(&self, key: &CacheKey, id: &str) -> Result<(), Error> {
        std::fs::create_dir_all(&self.dir).map_err(Error::io("creating", &self.dir))?;
        crate::container::write_atomic(&self.path(key), id.as_bytes())
    }
}
