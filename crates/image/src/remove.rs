//! Removing images with Docker's rules: untag first, delete the image when no
//! reference is left, refuse (409) when that would strand a container or when an
//! id names an image tagged in several repositories, unless forced.

use crate::digest::Digest;
use crate::error::Error;
use crate::layer::chain_ids;
use crate::records::Repositories;
use crate::reference::Reference;
use crate::store::{resolve_in, By, ImageStore, Index, Removed};
use crate::txn::used_diff_ids;
use std::collections::HashSet;

/// Docker's `isSingleReference`: all references are in one repository and at most
/// one of them is a tag.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.is_empty() {
        return false;
    }
    let tags = refs.iter().filter(|r| r.digest().is_none()).count();
    let first = refs[0].name();
    tags <= 1 && refs.iter().all(|r| r.name() == first)
}

fn short_container(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

impl ImageStore {
    /// Removes an image or one of its references, following `docker rmi`.
    /// `used_by(image_id)` returns the id of a container using the image, if any.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        used_by: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Removed>, Error> {
        // Ask about containers without holding our locks: the caller may take its own.
        let first = resolve_in(&self.lock(), name)?.0;
        let used = used_by(&first.to_string());
        let _gc = self.gc_exclusive();
        let mut idx = self.lock();
        let (id, by) = resolve_in(&idx, name)?;
        if id != first {
            // The name moved to another image meanwhile: start over.
            drop(idx);
            drop(_gc);
            return self.remove(name, force, used_by);
        }
        let short = id.short().to_string();
        let mut repos = idx.repos.clone();
        let refs = repos.refs_of(&id);
        let has_children = idx.images.values().any(|r| r.parent.as_ref() == Some(&id));
        let mut out = Vec::new();

        match by {
            By::Ref(r) => {
                if let (false, true, Some(c)) = (force, is_single_reference(&refs), &used) {
                    return Err(Error::ReferenceInUse {
                        reference: name.to_string(),
                        container: short_container(c),
                        image: short,
                    });
                }
                repos.remove(&r);
                out.push(Removed::Untagged(r.familiar()));
                if r.digest().is_none() {
                    // Digest references of the same repository go with its last tag.
                    let rest = repos.refs_of(&id);
                    let tag_left = rest
                        .iter()
                        .any(|x| x.digest().is_none() && x.name() == r.name());
                    if !tag_left {
                        for x in rest
                            .iter()
                            .filter(|x| x.digest().is_some() && x.name() == r.name())
                        {
                            repos.remove(x);
                            out.push(Removed::Untagged(x.familiar()));
                        }
                    }
                }
                if !repos.refs_of(&id).is_empty() || has_children || used.is_some() {
                    // Still referenced, or now dangling but needed: untagging was all.
                    self.write_repos(&repos)?;
                    let before = std::mem::replace(&mut idx.repos, repos);
                    self.drop_unnamed_manifests(&idx, &before)?;
                    return Ok(out);
                }
            }
            By::Id => {
                if has_children {
                    return Err(Error::HasChildren { image: short });
                }
                if !refs.is_empty() && !is_single_reference(&refs) && !force {
                    return Err(Error::MultipleRepositories { image: short });
                }
                if let (Some(c), false) = (&used, force) {
                    return Err(Error::UsedByContainer {
                        image: short,
                        container: short_container(c),
                    });
                }
                for r in &refs {
                    repos.remove(r);
                    out.push(Removed::Untagged(r.familiar()));
                }
                if used.is_some() {
                    // Forced: the container keeps the image's data.
                    self.write_repos(&repos)?;
                    let before = std::mem::replace(&mut idx.repos, repos);
                    self.drop_unnamed_manifests(&idx, &before)?;
                    return Ok(out);
                }
            }
        }

        self.write_repos(&repos)?;
        let before = std::mem::replace(&mut idx.repos, repos);
        out.extend(self.delete_image(&mut idx, &id)?);
        self.drop_unnamed_manifests(&idx, &before)?;
        Ok(out)
    }

    /// Removes the manifests only digest references that are gone named
    /// (those in `before`, no longer in the index, and no image's own).
    fn drop_unnamed_manifests(&self, idx: &Index, before: &Repositories) -> Result<(), Error> {
        let still = idx.repos.manifest_digests();
        for d in before.manifest_digests() {
            let own = idx.images.values().any(|r| r.manifest.as_ref() == Some(&d));
            if !still.contains(&d) && !own {
                self.content.remove(&d)?;
            }
        }
        Ok(())
    }

    /// Deletes an unreferenced image's record, blobs and now-unused layers.
    fn delete_image(&self, idx: &mut Index, id: &Digest) -> Result<Vec<Removed>, Error> {
        let Some(rec) = idx.images.remove(id) else {
            return Ok(Vec::new());
        };
        let p = self.layout.image_record(id);
        if let Err(e) = std::fs::remove_file(&p) {
            if e.kind() != std::io::ErrorKind::NotFound {
                idx.images.insert(id.clone(), rec);
                return Err(Error::io(format!("remove {}", p.display()), e));
            }
        }
        let mut out = vec![Removed::Deleted(id.to_string())];
        let mut errors = Vec::new();

        let used_chains: HashSet<Digest> = idx
            .images
            .values()
            .flat_map(|r| chain_ids(&r.diff_ids))
            .collect();
        let used_diffs = used_diff_ids(idx.images.values());
        let used_manifests: HashSet<&Digest> = idx
            .images
            .values()
            .filter_map(|r| r.manifest.as_ref())
            .collect();

        if let Err(e) = self.content.remove(id) {
            errors.push(Error::from(e));
        }
        if let Some(m) = &rec.manifest {
            if !used_manifests.contains(m) && !idx.repos.manifest_digests().contains(m) {
                if let Err(e) = self.content.remove(m) {
                    errors.push(e.into());
                }
            }
        }
        // Top layer first, as Docker reports them.
        for (chain, diff) in chain_ids(&rec.diff_ids).iter().zip(&rec.diff_ids).rev() {
            if used_chains.contains(chain) {
                continue;
            }
            match self.layers.remove(chain) {
                Ok(()) => out.push(Removed::Deleted(chain.to_string())),
                Err(e) => errors.push(e.into()),
            }
            if !used_diffs.contains(diff) {
                if let Err(e) = self.content.remove(diff) {
                    errors.push(e.into());
                }
                if let Err(e) = self.compressed().remove(diff) {
                    errors.push(Error::io(format!("remove the gzip form of {diff}"), e));
                }
            }
        }
        // Teardown keeps going; the first error is reported after everything was tried.
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        Ok(out)
    }

    /// Removes unpacked layers no image uses (left by a crash mid-commit); returns
    /// their chain ids.
    pub fn prune_layers(&self) -> Result<Vec<String>, Error> {
        let _gc = self.gc_exclusive();
        let idx = self.lock();
        let used: HashSet<Digest> = idx
            .images
            .values()
            .flat_map(|r| chain_ids(&r.diff_ids))
            .collect();
        let mut out = Vec::new();
        for chain in self.layers.list()? {
            if !used.contains(&chain) {
                self.layers.remove(&chain)?;
                out.push(chain.to_string());
            }
        }
        let used_diffs = used_diff_ids(idx.images.values());
        let dir = self.layout.compressed_dir();
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let hex = name.split('.').next().unwrap_or_default();
            if let Ok(d) = Digest::from_hex(hex) {
                if !used_diffs.contains(&d) {
                    self.compressed()
                        .remove(&d)
                        .map_err(|e| Error::io(format!("remove the gzip form of {d}"), e))?;
                }
            }
        }
        Ok(out)
    }
}
