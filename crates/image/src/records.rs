//! Image records: the per-image metadata in `images/<id>.json` and the references
//! (tags and digest references) in `repositories.json`, both written by atomic rename.

use crate::digest::Digest;
use crate::reference::Reference;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `images/<config hex>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image id: digest of the config bytes.
    pub id: Digest,
    /// Layer diff ids, lowest first (copied from the config).
    pub diff_ids: Vec<Digest>,
    /// Sum of the unpacked layer sizes.
    pub size: u64,
    /// `created` from the config, if any.
    #[serde(default)]
    pub created: Option<String>,
    /// Labels from the config.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The parent image (set by builds), if any.
    #[serde(default)]
    pub parent: Option<Digest>,
    /// Digest of the manifest the image came with, if it is kept as a blob.
    #[serde(default)]
    pub manifest: Option<Digest>,
    /// When the image was added to this store (RFC 3339).
    pub added: String,
}

/// Tags and digest references, keyed by their full normalised string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Repositories {
    refs: BTreeMap<String, (Reference, Digest)>,
}

/// Docker's on-disk shape: familiar name -> familiar reference -> image id.
#[derive(Serialize, Deserialize, Default)]
struct RepositoriesFile {
    #[serde(rename = "Repositories", default)]
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

impl Repositories {
    /// Parses `repositories.json`; entries that do not parse are skipped with a warning.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let file: RepositoriesFile = serde_json::from_slice(bytes)?;
        let mut out = Self::default();
        for refs in file.repositories.into_values() {
            for (r, id) in refs {
                match (Reference::parse_normalized(&r), Digest::parse(&id)) {
                    (Ok(r), Ok(id)) => {
                        out.set(r, id);
                    }
                    _ => tracing::warn!(
                        "skipping bad reference {r:?} -> {id:?} in repositories.json"
                    ),
                }
            }
        }
        Ok(out)
    }

    /// Serialises in Docker's format.
    pub fn to_json(&self) -> Vec<u8> {
        let mut file = RepositoriesFile::default();
        for (r, id) in self.refs.values() {
            file.repositories
                .entry(r.familiar_name())
                .or_default()
                .insert(r.familiar(), id.to_string());
        }
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    /// The image a reference points to.
    pub fn get(&self, r: &Reference) -> Option<&Digest> {
        self.refs.get(&r.to_string()).map(|(_, id)| id)
    }

    /// Points `r` at `id`; returns the image it pointed to before.
    pub fn set(&mut self, r: Reference, id: Digest) -> Option<Digest> {
        self.refs.insert(r.to_string(), (r, id)).map(|(_, old)| old)
    }

    /// Removes `r`; returns the image it pointed to.
    pub fn remove(&mut self, r: &Reference) -> Option<Digest> {
        self.refs.remove(&r.to_string()).map(|(_, id)| id)
    }

    /// The manifests digest references name (`name@sha256:...`): the store
    /// keeps each as a blob while a reference names it.
    pub fn manifest_digests(&self) -> std::collections::BTreeSet<Digest> {
        self.refs
            .values()
            .filter_map(|(r, _)| r.digest().and_then(|d| Digest::parse(d).ok()))
            .collect()
    }

    /// Every reference to `id`, sorted.
    pub fn refs_of(&self, id: &Digest) -> Vec<Reference> {
        self.refs
            .values()
            .filter(|(_, i)| i == id)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Every tag reference in the repository `name` (full form, e.g. `docker.io/library/busybox`).
    pub fn tags_in(&self, name: &str) -> Vec<(Reference, Digest)> {
        self.refs
            .values()
            .filter(|(r, _)| r.tag().is_some() && r.digest().is_none() && r.name() == name)
            .cloned()
            .collect()
    }

    /// Drops references to images not in `keep`.
    pub fn retain(&mut self, keep: impl Fn(&Digest) -> bool) {
        self.refs.retain(|_, (_, id)| keep(id));
    }

    /// Number of references.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_format_round_trip() {
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        let mut r = Repositories::default();
        r.set(Reference::parse_docker("busybox").unwrap(), a.clone());
        r.set(Reference::parse_docker("busybox:1").unwrap(), a.clone());
        r.set(
            Reference::parse_docker("localhost:5000/x/y:2").unwrap(),
            b.clone(),
        );
        let dig = format!("busybox@{b}");
        r.set(Reference::parse_docker(&dig).unwrap(), a.clone());
        let json: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(
            json["Repositories"]["busybox"]["busybox:latest"],
            a.to_string()
        );
        assert_eq!(json["Repositories"]["busybox"][&dig], a.to_string());
        assert_eq!(
            json["Repositories"]["localhost:5000/x/y"]["localhost:5000/x/y:2"],
            b.to_string()
        );
        let back = Repositories::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.refs_of(&a).len(), 3);
        assert_eq!(back.tags_in("docker.io/library/busybox").len(), 2);
        let old = r.set(Reference::parse_docker("busybox:1").unwrap(), b.clone());
        assert_eq!(old, Some(a.clone()));
        r.retain(|id| *id == a);
        assert_eq!(r.len(), 2);
    }
}
