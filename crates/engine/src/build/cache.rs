//! The build cache on disk: `builder/cache/<key hex>` holds the image id a
//! step produced. It survives daemon restarts; an entry whose image is gone
//! is a miss.

use std::path::PathBuf;

use berth_builder::cache::CacheKey;
use berth_image::commit::ReusedStep;
use berth_image::ImageConfig;

use crate::Error;

#[derive(Debug, Clone)]
pub(crate) struct BuildCache {
    dir: PathBuf,
}

impl BuildCache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
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
        crate::fsutil::write_atomic(&self.path(key), id.as_bytes())
    }
}

/// The comment of a build step's history entry: its cache key, so the
/// image can stand in for cache entries elsewhere (`--cache-from`).
pub(crate) fn key_comment(key: &CacheKey) -> String {
    format!("berth.build.v1 {}", key.0)
}

/// The step with `key` on top of `parent` (`None`: scratch), taken from
/// `source` (a `--cache-from` image): found when the source's history
/// entry right after the parent's records that key and the source is built
/// on exactly the parent's history and layers (Docker's legacy builder
/// also asks for both prefixes).
pub(crate) fn reusable(
    parent: Option<&ImageConfig>,
    source: &ImageConfig,
    key: &CacheKey,
) -> Option<ReusedStep> {
    let (history, diff_ids) = match parent {
        Some(p) => (&p.history[..], &p.rootfs.diff_ids[..]),
        None => (&[][..], &[][..]),
    };
    let entry = source.history.get(history.len())?;
    if entry.comment.as_deref() != Some(key_comment(key).as_str())
        || source.history[..history.len()] != *history
        || source.rootfs.diff_ids.get(..diff_ids.len())? != diff_ids
    {
        return None;
    }
    let diff_id = if entry.empty_layer == Some(true) {
        None
    } else {
        Some(source.rootfs.diff_ids.get(diff_ids.len())?.clone())
    };
    Some(ReusedStep {
        history: entry.clone(),
        diff_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_image::config::History;
    use berth_image::Digest;

    fn d(n: u8) -> Digest {
        Digest::of_bytes(&[n])
    }

    fn entry(by: &str, key: Option<&CacheKey>, empty: bool) -> History {
        History {
            created: Some("2026-01-01T00:00:00Z".into()),
            created_by: Some(by.into()),
            comment: key.map(key_comment),
            empty_layer: empty.then_some(true),
            ..History::default()
        }
    }

    fn image(history: Vec<History>, diffs: Vec<Digest>) -> ImageConfig {
        let mut c = ImageConfig {
            history,
            ..ImageConfig::default()
        };
        c.rootfs.diff_ids = diffs;
        c
    }

    fn keys() -> (CacheKey, CacheKey) {
        (CacheKey("sha256:aa".into()), CacheKey("sha256:bb".into()))
    }

    #[test]
    fn a_step_after_the_parent_is_reused_with_its_layer() {
        let (k1, k2) = keys();
        let base = image(vec![entry("base", None, false)], vec![d(1)]);
        let source = image(
            vec![
                entry("base", None, false),
                entry("ENV", Some(&k1), true),
                entry("RUN", Some(&k2), false),
            ],
            vec![d(1), d(2)],
        );
        let env = reusable(Some(&base), &source, &k1).expect("ENV step");
        assert_eq!(env.diff_id, None);
        assert_eq!(env.history, source.history[1]);
        let after_env = image(source.history[..2].to_vec(), vec![d(1)]);
        let run = reusable(Some(&after_env), &source, &k2).expect("RUN step");
        assert_eq!(run.diff_id, Some(d(2)));
        // Keys are per position: the RUN's key right on the base is a miss.
        assert_eq!(reusable(Some(&base), &source, &k2), None);
    }

    #[test]
    fn a_different_parent_or_key_is_a_miss() {
        let (k1, k2) = keys();
        let source = image(
            vec![entry("base", None, false), entry("RUN", Some(&k1), false)],
            vec![d(1), d(2)],
        );
        let other_history = image(vec![entry("other base", None, false)], vec![d(1)]);
        assert_eq!(reusable(Some(&other_history), &source, &k1), None);
        let other_layer = image(vec![entry("base", None, false)], vec![d(9)]);
        assert_eq!(reusable(Some(&other_layer), &source, &k1), None);
        let base = image(vec![entry("base", None, false)], vec![d(1)]);
        assert_eq!(reusable(Some(&base), &source, &k2), None);
        // Nothing after the last entry.
        assert_eq!(reusable(Some(&source), &source, &k1), None);
    }

    #[test]
    fn a_scratch_stage_starts_at_the_first_entry() {
        let (k1, _) = keys();
        let source = image(vec![entry("COPY", Some(&k1), false)], vec![d(3)]);
        let step = reusable(None, &source, &k1).expect("first step");
        assert_eq!(step.diff_id, Some(d(3)));
        // A source with fewer layers than its history claims is not used.
        let broken = image(vec![entry("COPY", Some(&k1), false)], vec![]);
        assert_eq!(reusable(None, &broken, &k1), None);
    }
}
