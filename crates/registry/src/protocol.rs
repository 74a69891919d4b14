//! The distribution API's paths, media types and errors, pure.

use axum::http::StatusCode;
use serde_json::json;

/// Manifest media types the registry accepts and serves.
pub const MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The largest manifest accepted (as distribution's default).
pub const MANIFEST_LIMIT: usize = 4 << 20;

/// One route of `/v2/...`; names may hold slashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Base,
    Catalog,
    Tags { name: String },
    Manifest { name: String, reference: String },
    Blob { name: String, digest: String },
    StartUpload { name: String },
    Upload { name: String, id: String },
    Referrers { name: String, digest: String },
}

/// A repository name as the spec allows:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|component| {
            let b = component.as_bytes();
            let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
                return false;
            }
            let mut i = 0;
            while i < b.len() {
                if alnum(b[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && !alnum(b[i]) {
                    i += 1;
                }
                let sep = &component[start..i];
                let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
                if !ok {
                    return false;
                }
            }
            true
        })
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Parses the part of a path after `/v2`.
pub fn route(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    let name_ok = |n: &str| valid_name(n).then(|| n.to_string());
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags {
            name: name_ok(name)?,
        });
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::StartUpload {
            name: name_ok(name)?,
        });
    }
    if let Some((name, id)) = rest.rsplit_once("/blobs/uploads/") {
        if id.is_empty() || id.contains('/') {
            return None;
        }
        return Some(Route::Upload {
            name: name_ok(name)?,
            id: id.to_string(),
        });
    }
    for (marker, kind) in [("/manifests/", 0), ("/blobs/", 1), ("/referrers/", 2)] {
        if let Some((name, last)) = rest.rsplit_once(marker) {
            if last.is_empty() || last.contains('/') {
                return None;
            }
            let name = name_ok(name)?;
            let last = last.to_string();
            return Some(match kind {
                0 => Route::Manifest {
                    name,
                    reference: last,
                },
                1 => Route::Blob { name, digest: last },
                _ => Route::Referrers { name, digest: last },
            });
        }
    }
    None
}

/// The spec's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    RangeInvalid,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::RangeInvalid => "RANGE_INVALID",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A distribution error: its code, message and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct RegistryError {
    pub code: Code,
    pub message: String,
    /// Overrides the code's status (a manifest too large is 413).
    pub status: Option<StatusCode>,
}

impl RegistryError {
    pub fn new(code: Code, message: impl Into<String>) -> RegistryError {
        RegistryError {
            code,
            message: message.into(),
            status: None,
        }
    }
    pub fn with_status(mut self, status: StatusCode) -> RegistryError {
        self.status = Some(status);
        self
    }
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.code.status())
    }
    /// `{"errors":[{"code","message","detail"}]}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"errors": [{"code": self.code.as_str(), "message": self.message, "detail": null}]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags() {
        for ok in ["a", "library/busybox", "a0/b-c/d__e", "x.y_z", "a---b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "-a",
            "a-",
            "a_-b",
            "a...b",
            &"a".repeat(256),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_tag("latest") && valid_tag("_v1.2-rc") && valid_tag(&"a".repeat(128)));
        assert!(
            !valid_tag("") && !valid_tag(".x") && !valid_tag("a/b") && !valid_tag(&"a".repeat(129))
        );
    }

    #[test]
    fn routes() {
        let r = |p: &str| route(p);
        assert_eq!(r("/v2/"), Some(Route::Base));
        assert_eq!(r("/v2"), Some(Route::Base));
        assert_eq!(r("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(
            r("/v2/a/b/tags/list"),
            Some(Route::Tags { name: "a/b".into() })
        );
        assert_eq!(
            r("/v2/a/b/manifests/latest"),
            Some(Route::Manifest {
                name: "a/b".into(),
                reference: "latest".into()
            })
        );
        assert_eq!(
            r("/v2/lib/x/blobs/sha256:abc"),
            Some(Route::Blob {
                name: "lib/x".into(),
                digest: "sha256:abc".into()
            })
        );
        assert_eq!(
            r("/v2/lib/x/blobs/uploads/"),
            Some(Route::StartUpload {
                name: "lib/x".into()
            })
        );
        assert_eq!(
            r("/v2/lib/x/blobs/uploads/123"),
            Some(Route::Upload {
                name: "lib/x".into(),
                id: "123".into()
            })
        );
        assert_eq!(
            r("/v2/x/referrers/sha256:ab"),
            Some(Route::Referrers {
                name: "x".into(),
                digest: "sha256:ab".into()
            })
        );
        // A repository may itself be called "blobs" or "manifests".
        assert_eq!(
            r("/v2/blobs/manifests/v1"),
            Some(Route::Manifest {
                name: "blobs".into(),
                reference: "v1".into()
            })
        );
        assert_eq!(r("/v2/UPPER/tags/list"), None);
        assert_eq!(r("/v3/x"), None);
        assert_eq!(r("/v2/x/unknown"), None);
    }

    #[test]
    fn error_bodies() {
        let e = RegistryError::new(Code::BlobUnknown, "blob unknown to registry");
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.body()["errors"][0]["code"], "BLOB_UNKNOWN");
        let big = RegistryError::new(Code::SizeInvalid, "too big")
            .with_status(StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
