//! `builder prune`: forgets build cache entries (`builder/cache/<key>`) and
//! removes the intermediate images only they kept. Without `all`, entries
//! whose image a tagged image is built on stay; `until` keeps entries
//! younger than it; `all` also empties the RUN cache mounts.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::{Engine, Error};

/// What a prune removed.
#[derive(Debug, Default)]
pub struct Pruned {
    /// The cache entries (keys) forgotten.
    pub caches: Vec<String>,
    /// Bytes of the images removed with them.
    pub reclaimed: u64,
}

/// Ids of tagged images and everything they are built on.
fn in_use(images: &[berth_image::ImageInfo]) -> HashSet<String> {
    let by_id: std::collections::HashMap<&str, &berth_image::ImageInfo> =
        images.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut out = HashSet::new();
    for i in images.iter().filter(|i| !i.repo_tags.is_empty()) {
        let mut cur = Some(i);
        while let Some(img) = cur {
            if !out.insert(img.id.clone()) {
                break;
            }
            cur = by_id.get(img.parent.as_str()).copied();
        }
    }
    out
}

pub async fn prune(engine: &Engine, all: bool, until: Option<Duration>) -> Result<Pruned, Error> {
    let dir = engine.config.paths.build_cache();
    let images = engine.images.list().await?;
    let used = in_use(&images);
    let now = SystemTime::now();
    let mut out = Pruned::default();
    let mut dropped: HashSet<String> = HashSet::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = e.path();
        if let Some(u) = until {
            let young = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age < u);
            if young {
                continue;
            }
        }
        let id = std::fs::read_to_string(&path).unwrap_or_default();
        let id = id.trim();
        if !all && used.contains(id) {
            continue;
        }
        std::fs::remove_file(&path).map_err(Error::io("removing", &path))?;
        out.caches
            .push(format!("sha256:{}", e.file_name().to_string_lossy()));
        dropped.insert(id.to_string());
    }
    // `all` also empties the RUN cache mounts.
    if all {
        let mounts = engine.config.paths.build_mount_caches();
        for e in std::fs::read_dir(&mounts).into_iter().flatten().flatten() {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(Error::io("removing", &p))?;
            out.caches
                .push(format!("cache-mount:{}", e.file_name().to_string_lossy()));
        }
    }
    // The intermediate images nothing else needs go with their entries:
    // untagged, unused by containers, no image built on them (repeated, as
    // removing one can free its parent).
    loop {
        let images = engine.images.list().await?;
        let parents: HashSet<&str> = images.iter().map(|i| i.parent.as_str()).collect();
        let mut removed = false;
        for img in &images {
            if !dropped.contains(&img.id)
                || !img.repo_tags.is_empty()
                || parents.contains(img.id.as_str())
                || engine.containers.user_of_image(&img.id).is_some()
            {
                continue;
            }
            let containers = engine.containers.clone();
            let used_by = Box::new(move |id: &str| containers.user_of_image(id));
            if engine.images.remove(&img.id, false, used_by).await.is_ok() {
                out.reclaimed += img.size;
                removed = true;
                if !img.parent.is_empty() {
                    dropped.insert(img.parent.clone());
                }
            }
        }
        if !removed {
            break;
        }
    }
    Ok(out)
}
