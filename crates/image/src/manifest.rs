//! Registry manifests as a pull reads them (pure): the entry of an index
//! (manifest list) for a platform, the config and layer descriptors of a
//! schema-2 image manifest (Docker v2 or OCI), and the check that the
//! manifest and its config agree on the number of layers. Every byte here
//! comes from a registry, so nothing is trusted: a wrong shape is an error
//! naming what is wrong.

use serde_json::Value;

use crate::config::host_platform;
use crate::digest::Digest;
use crate::ImageConfig;

/// The largest image config a pull reads (it is held in memory whole).
pub const MAX_CONFIG: u64 = 16 << 20;

/// A manifest or index a pull cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

/// A blob a manifest points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub digest: Digest,
    /// The size the manifest claims (0 when it gives none).
    pub size: u64,
}

/// A schema-2 image manifest's blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    pub config: Descriptor,
    /// Bottom layer first.
    pub layers: Vec<Descriptor>,
}

/// Whether a manifest's media type names an index or a manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type.contains("index") || media_type.contains("manifest.list")
}

/// Picks the index entry for `os/arch[/variant]` (the host's platform when
/// `platform` is empty): its digest and media type.
pub fn choose_platform(index: &Value, platform: &str) -> Option<(String, String)> {
    let mut parts = platform.split('/');
    let os = parts.next().filter(|s| !s.is_empty()).unwrap_or("linux");
    let arch = parts.next().unwrap_or(host_platform().1);
    let variant = parts.next();
    index["manifests"].as_array()?.iter().find_map(|m| {
        let p = &m["platform"];
        let ok =
            p["os"] == os && p["architecture"] == arch && variant.is_none_or(|v| p["variant"] == v);
        ok.then(|| {
            (
                m["digest"].as_str().unwrap_or_default().to_string(),
                m["mediaType"].as_str().unwrap_or_default().to_string(),
            )
        })
    })
}

/// Parses an index's bytes and picks the platform's entry.
pub fn index_entry(
    bytes: &[u8],
    platform: &str,
) -> Result<Option<(String, String)>, ManifestError> {
    let index: Value =
        serde_json::from_slice(bytes).map_err(|e| ManifestError(format!("bad index: {e}")))?;
    Ok(choose_platform(&index, platform))
}

fn descriptor(v: &Value) -> Result<Descriptor, ManifestError> {
    let digest = Digest::parse(v["digest"].as_str().unwrap_or_default())
        .map_err(|e| ManifestError(format!("bad digest in manifest: {e}")))?;
    Ok(Descriptor {
        digest,
        size: v["size"].as_u64().unwrap_or(0),
    })
}

/// Reads a schema-2 image manifest's config and layer descriptors.
pub fn parse_manifest(bytes: &[u8]) -> Result<ImageManifest, ManifestError> {
    let m: Value =
        serde_json::from_slice(bytes).map_err(|e| ManifestError(format!("bad manifest: {e}")))?;
    if m["schemaVersion"] != 2 {
        return Err(ManifestError(
            "only schema 2 (Docker v2 and OCI) manifests are supported".into(),
        ));
    }
    let config = descriptor(&m["config"])?;
    if config.size > MAX_CONFIG {
        return Err(ManifestError(format!(
            "the image config is {} bytes: more than {MAX_CONFIG} is refused",
            config.size
        )));
    }
    let layers = match &m["layers"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().map(descriptor).collect::<Result<_, _>>()?,
        other => {
            return Err(ManifestError(format!(
                "bad manifest: layers is {other} where a list belongs"
            )))
        }
    };
    Ok(ImageManifest { config, layers })
}

/// Parses the image config a manifest points at and checks that it has one
/// diff id per layer of the manifest.
pub fn parse_config(manifest: &ImageManifest, config: &[u8]) -> Result<ImageConfig, ManifestError> {
    let parsed =
        ImageConfig::parse(config).map_err(|e| ManifestError(format!("bad image config: {e}")))?;
    let diff_ids = parsed.diff_ids().len();
    if diff_ids != manifest.layers.len() {
        return Err(ManifestError(format!(
            "the manifest has {} layers but the config {diff_ids} diff ids",
            manifest.layers.len(),
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn platform_choice() {
        let index = json!({"manifests": [
            {"digest": "sha256:a", "mediaType": "m", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "sha256:b", "mediaType": "m", "platform": {"os": "linux", "architecture": "amd64"}},
        ]});
        assert_eq!(
            choose_platform(&index, "linux/amd64")
                .map(|c| c.0)
                .as_deref(),
            Some("sha256:b")
        );
        assert_eq!(
            choose_platform(&index, "linux/arm64/v8")
                .map(|c| c.0)
                .as_deref(),
            Some("sha256:a")
        );
        assert!(choose_platform(&index, "windows/amd64").is_none());
        assert_eq!(
            choose_platform(&index, "").is_some(),
            matches!(host_platform().1, "amd64" | "arm64")
        );
        assert!(choose_platform(&json!({"manifests": 3}), "").is_none());
    }

    #[test]
    fn manifest_descriptors_in_order() {
        let m = json!({"schemaVersion": 2, "config": {"digest": A, "size": 7},
            "layers": [{"digest": B, "size": 9}, {"digest": A}]});
        let parsed = parse_manifest(m.to_string().as_bytes()).expect("valid manifest");
        assert_eq!(parsed.config.size, 7);
        assert_eq!(parsed.layers.len(), 2);
        assert_eq!(parsed.layers[0].digest.to_string(), B);
        assert_eq!(parsed.layers[1].size, 0);
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let cases = [
            (json!({"schemaVersion": 1}), "only schema 2"),
            (
                json!({"schemaVersion": 2, "config": {"digest": "md5:x"}}),
                "bad digest in manifest",
            ),
            (
                json!({"schemaVersion": 2, "config": {"digest": A}, "layers": {"a": 1}}),
                "layers is",
            ),
            (
                json!({"schemaVersion": 2, "config": {"digest": A, "size": 1u64 << 40}}),
                "more than 16777216 is refused",
            ),
        ];
        for (m, want) in cases {
            let e = parse_manifest(m.to_string().as_bytes()).expect_err("must be refused");
            assert!(e.0.contains(want), "{e} should say {want}");
        }
        let e = parse_manifest(b"{").expect_err("not JSON");
        assert!(e.0.starts_with("bad manifest: "), "{e}");
    }

    #[test]
    fn config_must_match_the_layer_count() {
        let m = parse_manifest(
            json!({"schemaVersion": 2, "config": {"digest": A}, "layers": [{"digest": B}]})
                .to_string()
                .as_bytes(),
        )
        .expect("valid manifest");
        let config = json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}});
        let e = parse_config(&m, config.to_string().as_bytes()).expect_err("count differs");
        assert_eq!(e.0, "the manifest has 1 layers but the config 0 diff ids");
        assert!(parse_config(&m, b"[]").is_err());
    }
}
