//! Helpers shared by the integration tests: tar and archive builders, store snapshots.
#![allow(dead_code, clippy::unwrap_used)]

pub mod overlay;

use berth_image::Digest;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A plain layer tar with the given files (parents created as directories).
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

pub fn digest(data: &[u8]) -> Digest {
    Digest::of_bytes(data)
}

/// A config with Docker-only fields and the given diff ids.
pub fn config(diff_ids: &[Digest], label: &str) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-05-06T07:08:09.123456789Z",
        "config": {
            "Env": ["PATH=/bin"],
            "Cmd": ["sh"],
            "Labels": {"test": label},
            "Healthcheck": {"Test": ["CMD", "true"]},
            "OnBuild": ["RUN true"]
        },
        "container_config": {"Cmd": ["x"]},
        "docker_version": "20.10.0",
        "rootfs": {"type": "layers", "diff_ids": ids},
        "history": [{"created": "2024-05-06T07:08:09Z", "created_by": "test"}]
    }))
    .unwrap()
}

/// An image to put in a test archive.
pub struct TestImage {
    pub config: Vec<u8>,
    /// Layer blobs as they go in the archive (maybe compressed).
    pub layers: Vec<Vec<u8>>,
    pub tags: Vec<String>,
}

impl TestImage {
    /// Two layers, the second gzip-compressed if `gz`.
    pub fn two_layers(label: &str, gz: bool) -> (Self, Vec<Vec<u8>>) {
        let l1 = layer_tar(&[("etc/os", b"test os\n"), ("bin/tool", b"tool")]);
        let l2 = layer_tar(&[("app/data", label.as_bytes())]);
        let cfg = config(&[digest(&l1), digest(&l2)], label);
        let blob2 = if gz { gzip(&l2) } else { l2.clone() };
        (
            Self {
                config: cfg,
                layers: vec![l1.clone(), blob2],
                tags: vec![],
            },
            vec![l1, l2],
        )
    }
}

/// A tar of (path, bytes) files, plus (path, target) symlinks.
pub fn tar_of(files: &[(String, Vec<u8>)], symlinks: &[(String, String)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, &data[..]).unwrap();
    }
    for (p, t) in symlinks {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, p, t).unwrap();
    }
    b.into_inner().unwrap()
}

/// How a docker-archive lays out its layers.
#[derive(Clone, Copy, PartialEq)]
pub enum DockerStyle {
    /// `<id>/layer.tar`, repeated layers as symlinks (`docker save` before 25).
    LegacyDirs,
    /// `blobs/sha256/<hex>` (Docker 25+).
    Blobs,
}

/// Builds a docker-archive; `manifest.json` is written first or last.
pub fn docker_archive(images: &[TestImage], style: DockerStyle, manifest_first: bool) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut links: Vec<(String, String)> = Vec::new();
    let mut manifest = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for img in images {
        let cfg_hex = digest(&img.config).hex().to_string();
        let cfg_path = match style {
            DockerStyle::LegacyDirs => format!("{cfg_hex}.json"),
            DockerStyle::Blobs => format!("blobs/sha256/{cfg_hex}"),
        };
        files.push((cfg_path.clone(), img.config.clone()));
        let mut layer_paths = Vec::new();
        for (i, l) in img.layers.iter().enumerate() {
            let hex = digest(l).hex().to_string();
            let path = match style {
                DockerStyle::LegacyDirs => {
                    let dir = format!("{:x}", Sha256::digest(format!("{cfg_hex}{i}")));
                    format!("{dir}/layer.tar")
                }
                DockerStyle::Blobs => format!("blobs/sha256/{hex}"),
            };
            match seen.get(&hex) {
                Some(first) if style == DockerStyle::LegacyDirs => {
                    links.push((path.clone(), format!("../{first}")));
                }
                Some(_) => {}
                None => {
                    files.push((path.clone(), l.clone()));
                    seen.insert(hex, path.clone());
                }
            }
            layer_paths.push(path);
        }
        manifest.push(serde_json::json!({
            "Config": cfg_path,
            "RepoTags": img.tags,
            "Layers": layer_paths,
        }));
    }
    let m = (
        "manifest.json".to_string(),
        serde_json::to_vec(&manifest).unwrap(),
    );
    if manifest_first {
        files.insert(0, m);
    } else {
        files.push(m);
    }
    tar_of(&files, &links)
}

/// Builds an OCI layout tarball. Each image gets a descriptor per annotation set;
/// with `nested`, the manifest sits in a nested index next to a foreign platform.
pub fn oci_archive(images: &[(TestImage, Vec<BTreeMap<String, String>>)], nested: bool) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut descriptors = Vec::new();
    let blob = |files: &mut Vec<(String, Vec<u8>)>, data: &[u8]| {
        let p = format!("blobs/sha256/{}", digest(data).hex());
        if !files.iter().any(|(q, _)| *q == p) {
            files.push((p, data.to_vec()));
        }
    };
    for (img, annotation_sets) in images {
        blob(&mut files, &img.config);
        let mut layers = Vec::new();
        for l in &img.layers {
            blob(&mut files, l);
            let mt = if l.starts_with(&[0x1f, 0x8b]) {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            } else {
                "application/vnd.oci.image.layer.v1.tar"
            };
            layers.push(serde_json::json!({"mediaType": mt, "digest": digest(l).to_string(), "size": l.len()}));
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&img.config).to_string(), "size": img.config.len()},
            "layers": layers,
        }))
        .unwrap();
        blob(&mut files, &manifest);
        let mut target = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(&manifest).to_string(),
            "size": manifest.len(),
        });
        if nested {
            let mut amd = target.clone();
            amd["platform"] = serde_json::json!({"architecture": "amd64", "os": "linux"});
            let other = serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{}", "0".repeat(64)),
                "size": 10,
                "platform": {"architecture": "s390x", "os": "linux"},
            });
            let index = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [other, amd],
            }))
            .unwrap();
            blob(&mut files, &index);
            target = serde_json::json!({
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": digest(&index).to_string(),
                "size": index.len(),
            });
        }
        if annotation_sets.is_empty() {
            descriptors.push(target.clone());
        }
        for a in annotation_sets {
            let mut d = target.clone();
            d["annotations"] = serde_json::to_value(a).unwrap();
            descriptors.push(d);
        }
    }
    files.push((
        "index.json".into(),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": descriptors}))
            .unwrap(),
    ));
    files.insert(
        0,
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
    );
    tar_of(&files, &[])
}

pub fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every path under `root` with its type, mode, size and content hash.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        let md = e.path().symlink_metadata().unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let content = if md.is_file() {
            format!("{:x}", Sha256::digest(std::fs::read(e.path()).unwrap()))
        } else {
            String::new()
        };
        out.insert(
            rel,
            format!(
                "{:o} {} {}",
                md.mode(),
                md.len() * md.is_file() as u64,
                content
            ),
        );
    }
    out
}

/// Reads the file list of a tar.
pub fn tar_listing(data: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(data);
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Reads one file out of a tar.
pub fn tar_file(data: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == name {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut v).unwrap();
            return Some(v);
        }
    }
    None
}
