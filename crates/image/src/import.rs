//! `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image
//! with a generated config, `--change` instructions applied and an optional message.

use crate::changes::apply_changes;
use crate::config::{host_platform, ContainerConfig, History, ImageConfig, RootFs};
use crate::error::Error;
use crate::layer::KeepTar;
use crate::reference::{Reference, ReferenceError, DEFAULT_TAG};
use crate::store::{ImageInfo, ImageStore, ImportOptions};
use crate::txn::Txn;
use serde_json::Value;
use std::io::Read;

use crate::time::now_rfc3339;

/// Parses a reference to tag with: no digest, `latest` if no tag.
pub(crate) fn tag_reference(s: &str) -> Result<Reference, ReferenceError> {
    let r = Reference::parse_normalized(s)?;
    if r.digest().is_some() {
        return Err(ReferenceError::TagWithDigest);
    }
    match r.tag() {
        Some(_) => Ok(r),
        None => r.with_tag(DEFAULT_TAG),
    }
}

impl ImageStore {
    /// Imports a rootfs tarball as a new one-layer image.
    pub fn import(&self, r: &mut dyn Read, opts: &ImportOptions) -> Result<ImageInfo, Error> {
        let tags = match &opts.reference {
            Some(s) if !s.is_empty() => vec![tag_reference(s)?],
            _ => Vec::new(),
        };
        let mut cc = ContainerConfig::default();
        apply_changes(&mut cc, &opts.changes)?;
        let mut txn = Txn::new(self);
        let diff_id = txn.layer(None, r, None, KeepTar::Copy)?;
        let created = now_rfc3339();
        let comment = opts
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "Imported from -".to_string());
        let (host_os, host_arch) = host_platform();
        let (os, arch, variant) = match &opts.platform {
            Some(p) if !p.architecture.is_empty() => {
                (p.os.as_str(), p.architecture.as_str(), p.variant.clone())
            }
            Some(p) => (p.os.as_str(), host_arch, None),
            None => (host_os, host_arch, None),
        };
        let mut extra = serde_json::Map::new();
        extra.insert("comment".into(), Value::String(comment.clone()));
        let config = ImageConfig {
            created: Some(created.clone()),
            author: None,
            architecture: arch.to_string(),
            os: os.to_string(),
            variant,
            config: Some(cc),
            rootfs: RootFs {
                diff_ids: vec![diff_id],
                ..RootFs::default()
            },
            history: vec![History {
                created: Some(created),
                comment: Some(comment),
                ..History::default()
            }],
            extra,
        };
        let bytes = config.to_bytes();
        let id = txn.blob(&bytes, "config", None)?;
        txn.image(id, &config, None, None, tags)?;
        let mut out = txn.commit()?;
        out.pop()
            .map(|(info, _)| info)
            .ok_or_else(|| Error::Corrupt("import committed no image".into()))
    }
}
