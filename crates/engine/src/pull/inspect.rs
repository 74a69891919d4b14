//! `GET /distribution/{name}/json`: what a registry holds under a name,
//! without pulling it: the descriptor of the manifest (or index) and the
//! platforms it serves.

use berth_image::{Digest, Reference};
use berth_registry::client::{endpoint, Credentials, Remote};
use serde_json::{json, Map, Value};

use super::client_error;
use crate::Error;

/// The platform members Docker copies, without the empty ones.
fn platform_of(v: &Value) -> Value {
    let mut out = Map::new();
    for key in ["architecture", "os", "os.version", "os.features", "variant"] {
        match v.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {
                out.insert(key.into(), json!(s));
            }
            Some(Value::Array(a)) if !a.is_empty() => {
                out.insert(key.into(), json!(a));
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// Asks the registry of `image` for its manifest; the answer Docker gives.
pub async fn distribution_inspect(
    images: &crate::images::ImageService,
    image: &str,
    credentials: Option<Credentials>,
    insecure: &[String],
) -> Result<Value, Error> {
    let r =
        Reference::parse_normalized(image).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let reference = r
        .digest()
        .or_else(|| r.tag())
        .unwrap_or(berth_image::reference::DEFAULT_TAG)
        .to_string();
    let name = r.familiar_name();
    let client = images.registry_client()?;
    let remote = Remote {
        endpoint: endpoint(r.domain(), insecure),
        repo: r.path().to_string(),
        credentials,
    };
    let manifest = client
        .manifest(&remote, &reference)
        .await
        .map_err(|e| client_error(e, &name))?;
    let body: Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| Error::Registry(format!("bad manifest: {e}")))?;
    let platforms: Vec<Value> = if let Some(list) = body["manifests"].as_array() {
        list.iter().map(|m| platform_of(&m["platform"])).collect()
    } else {
        let config = &body["config"];
        let digest = Digest::parse(config["digest"].as_str().unwrap_or_default())
            .map_err(|e| Error::Registry(format!("bad config digest in manifest: {e}")))?;
        let size = config["size"].as_u64().unwrap_or(0);
        let mut blob = client
            .blob(&remote, &digest, size)
            .await
            .map_err(|e| client_error(e, &name))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = blob.chunk().await.map_err(|e| client_error(e, &name))? {
            bytes.extend_from_slice(&chunk);
        }
        let config: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Registry(format!("bad image config: {e}")))?;
        vec![platform_of(&config)]
    };
    Ok(json!({
        "Descriptor": {
            "mediaType": manifest.media_type,
            "digest": manifest.digest.to_string(),
            "size": manifest.bytes.len(),
        },
        "Platforms": platforms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_without_empty_members() {
        assert_eq!(
            platform_of(
                &json!({"architecture": "arm64", "os": "linux", "variant": "v8", "os.version": ""})
            ),
            json!({"architecture": "arm64", "os": "linux", "variant": "v8"})
        );
    }
}
