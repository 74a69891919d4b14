//! A distribution client for pulls: HTTPS by default with the system's
//! roots (plain HTTP for `localhost`, 127.0.0.0/8 and registries listed as
//! insecure), Docker Hub's endpoint, basic auth and the bearer token flow
//! (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`) with tokens
//! cached per registry and scope, manifests negotiated by media type, and
//! blobs streamed to files with their digest and size verified.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine;
use berth_image::Digest;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;

use crate::protocol::MEDIA_TYPES;

/// Errors of a registry conversation.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Http(String),
    /// The registry answered with an error body (or none).
    #[error("{message}")]
    Registry { status: u16, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl ClientError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Registry { status: 404, .. })
    }
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            ClientError::Registry {
                status: 401 | 403,
                ..
            }
        )
    }
}

type Result<T> = std::result::Result<T, ClientError>;

/// Credentials for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Where a registry's API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://registry-1.docker.io`, `http://127.0.0.1:5000`.
    pub base: String,
}

/// The endpoint of a reference's domain, as Docker chooses it.
pub fn endpoint(domain: &str, insecure: &[String]) -> Endpoint {
    let host = domain.rsplit_once(':').map_or(domain, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            domain
        }
    });
    let plain = host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host == "::1"
        || host == "[::1]"
        || insecure
            .iter()
            .any(|i| i == domain || i == host || in_cidr(host, i));
    let domain = if domain == "docker.io" || domain == "index.docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    };
    Endpoint {
        base: format!("{}://{domain}", if plain { "http" } else { "https" }),
    }
}

/// Whether `host` is an IPv4 address inside `cidr` (`10.0.0.0/8`), as
/// Docker's insecure registries may be given.
fn in_cidr(host: &str, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(net), Ok(bits)) = (
        host.parse::<std::net::Ipv4Addr>(),
        net.parse::<std::net::Ipv4Addr>(),
        bits.parse::<u32>(),
    ) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Bearer realm="...",service="...",scope="..."` or `Basic ...`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], q[end + 1..].trim_start().trim_start_matches(','))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], after[end..].trim_start_matches(','))
        };
        params.insert(key.trim().to_ascii_lowercase(), value.to_string());
        rest = tail.trim();
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One repository of one registry, with the credentials to use there.
#[derive(Debug, Clone)]
pub struct Remote {
    pub endpoint: Endpoint,
    /// The repository path (`library/busybox`).
    pub repo: String,
    pub credentials: Option<Credentials>,
}

/// A fetched manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

type ReqBody = BoxBody<Bytes, std::io::Error>;

fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn full(bytes: Vec<u8>) -> ReqBody {
    Full::new(Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed()
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..].find('/').map_or(url, |i| &url[..after + i])
}

#[derive(Clone)]
pub struct Client {
    http: HyperClient<hyper_rustls::HttpsConnector<crate::dial::Dialer>, ReqBody>,
    /// Bearer tokens by (realm, service, scope).
    tokens: Arc<Mutex<HashMap<String, String>>>,
    /// The `Authorization` that worked, by origin and scope.
    auth: Arc<Mutex<HashMap<String, String>>>,
}

impl Client {
    /// A client connecting directly.
    pub fn new() -> Result<Client> {
        Self::with_dialer(crate::dial::Dialer::direct())
    }

    /// A client opening its connections with `dialer`.
    pub fn with_dialer(dialer: crate::dial::Dialer) -> Result<Client> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| ClientError::Http(format!("loading the system's root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(dialer);
        Ok(Client {
            http: HyperClient::builder(TokioExecutor::new()).build(https),
            tokens: Arc::new(Mutex::new(HashMap::new())),
            auth: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        auth: Option<&str>,
    ) -> Result<Response<Incoming>> {
        self.send_body(method, url, accept, auth, empty(), &[])
            .await
    }

    async fn send_body(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        auth: Option<&str>,
        body: ReqBody,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        let mut req = Request::builder()
            .method(method)
            .uri(url)
            .header("User-Agent", "berth");
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req
            .body(body)
            .map_err(|e| ClientError::Invalid(format!("{url}: {e}")))?;
        self.http
            .request(req)
            .await
            .map_err(|e| ClientError::Http(format!("{url}: {}", error_chain(&e))))
    }

    /// A bearer token for a challenge, fetched once and cached.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
        creds: Option<&Credentials>,
    ) -> Result<String> {
        let key = format!("{realm}|{}|{}", service.unwrap_or(""), scope.unwrap_or(""));
        if let Some(t) = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(t.clone());
        }
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for (k, v) in [("service", service), ("scope", scope)] {
            if let Some(v) = v {
                url.push_str(&format!("{sep}{k}={}", encode(v)));
                sep = '&';
            }
        }
        let basic = creds.map(basic_header);
        let resp = self.send(Method::GET, &url, None, basic.as_deref()).await?;
        let status = resp.status();
        let body = read_limited(resp.into_body(), MAX_SMALL_BODY, "a token answer").await?;
        if !status.is_success() {
            return Err(ClientError::Registry {
                status: status.as_u16(),
                message: format!("getting a token from {realm}: {status}"),
            });
        }
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ClientError::Invalid(format!("token answer: {e}")))?;
        let token = v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .ok_or_else(|| ClientError::Invalid("the token answer holds no token".into()))?
            .to_string();
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, token.clone());
        Ok(token)
    }

    fn cached_auth(&self, url: &str, scope: &str) -> Option<String> {
        let key = format!("{}|{scope}", origin(url));
        self.auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }

    /// A body-less request with authentication as the registry asks for
    /// it; the `Authorization` that worked is remembered for the scope.
    async fn get(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        creds: Option<&Credentials>,
        scope: &str,
    ) -> Result<Response<Incoming>> {
        let cached = self.cached_auth(url, scope);
        let resp = self
            .send(method.clone(), url, accept, cached.as_deref())
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let auth = match challenge {
            Some(Challenge::Bearer {
                realm,
                service,
                scope: s,
            }) => {
                let s = s.unwrap_or_else(|| scope.to_string());
                let s = (!s.is_empty()).then_some(s.as_str());
                format!(
                    "Bearer {}",
                    self.token(&realm, service.as_deref(), s, creds).await?
                )
            }
            Some(Challenge::Basic) => match creds {
                Some(c) => basic_header(c),
                None => return Err(unauthorized(url)),
            },
            None => return Err(unauthorized(url)),
        };
        let resp = self.send(method, url, accept, Some(&auth)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(unauthorized(url));
        }
        self.auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(format!("{}|{scope}", origin(url)), auth);
        Ok(resp)
    }

    /// `GET /v2/` with the remote's credentials: succeeds when the registry
    /// (or its token service) accepts them.
    pub async fn ping(&self, remote: &Remote) -> Result<()> {
        let url = format!("{}/v2/", remote.endpoint.base);
        let resp = self
            .get(Method::GET, &url, None, remote.credentials.as_ref(), "")
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(failure(resp, "logging in").await)
    }

    /// Whether the repository already has the blob (`HEAD`).
    pub async fn blob_exists(&self, remote: &Remote, digest: &Digest) -> Result<bool> {
        let url = format!("{}/v2/{}/blobs/{digest}", remote.endpoint.base, remote.repo);
        let scope = format!("repository:{}:pull,push", remote.repo);
        let resp = self
            .get(
                Method::HEAD,
                &url,
                None,
                remote.credentials.as_ref(),
                &scope,
            )
            .await?;
        Ok(resp.status().is_success())
    }

    /// `POST /v2/<repo>/blobs/uploads/`, asking to mount the blob from
    /// `mount_from` (another repository of the registry) when given: `None`
    /// when the registry answered 201 (mounted), else the upload's location.
    async fn start_upload(
        &self,
        remote: &Remote,
        digest: &Digest,
        mount_from: Option<&str>,
    ) -> Result<Option<String>> {
        let base = &remote.endpoint.base;
        let scope = format!("repository:{}:pull,push", remote.repo);
        let mut start = format!("{base}/v2/{}/blobs/uploads/", remote.repo);
        if let Some(from) = mount_from.filter(|f| *f != remote.repo) {
            start.push_str(&format!(
                "?mount={}&from={}",
                encode(&digest.to_string()),
                encode(from)
            ));
        }
        let resp = self
            .get(
                Method::POST,
                &start,
                None,
                remote.credentials.as_ref(),
                &scope,
            )
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(None),
            StatusCode::ACCEPTED => Ok(Some(location(&resp, base)?)),
            _ => Err(failure(resp, &format!("starting the upload of {digest}")).await),
        }
    }

    /// Follows up to `max` redirects of a GET answer (relative locations
    /// against the origin of the URL that redirected).
    async fn follow_redirects(
        &self,
        mut resp: Response<Incoming>,
        url: &str,
        max: usize,
    ) -> Result<Response<Incoming>> {
        let mut current = url.to_string();
        for _ in 0..max {
            if !resp.status().is_redirection() {
                break;
            }
            current = location(&resp, origin(&current))?;
            resp = self.send(Method::GET, &current, None, None).await?;
        }
        Ok(resp)
    }

    /// Uploads a blob from a file as Docker does: `POST` to start (asking
    /// to mount it from `mount_from`, a repository of the same registry
    /// known to hold it), then, unless the registry mounted it, one `PATCH`
    /// streaming the content and a `PUT` with the digest to finish.
    pub async fn upload_blob(
        &self,
        remote: &Remote,
        digest: &Digest,
        size: u64,
        path: &Path,
        mount_from: Option<&str>,
    ) -> Result<Uploaded> {
        let base = &remote.endpoint.base;
        let scope = format!("repository:{}:pull,push", remote.repo);
        let Some(url) = self.start_upload(remote, digest, mount_from).await? else {
            return Ok(Uploaded::Mounted);
        };
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| ClientError::Io {
                what: format!("opening {}", path.display()),
                source,
            })?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
            .map(|r| r.map(hyper::body::Frame::data));
        let body = BodyExt::boxed(StreamBody::new(stream));
        let auth = self.cached_auth(&url, &scope);
        let resp = self
            .send_body(
                Method::PATCH,
                &url,
                None,
                auth.as_deref(),
                body,
                &[
                    ("Content-Length", size.to_string()),
                    ("Content-Type", "application/octet-stream".to_string()),
                ],
            )
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(failure(resp, &format!("uploading {digest}")).await);
        }
        let url = with_digest(location(&resp, base)?, digest);
        let resp = self
            .send_body(
                Method::PUT,
                &url,
                None,
                auth.as_deref(),
                empty(),
                &[("Content-Length", "0".to_string())],
            )
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(failure(resp, &format!("finishing the upload of {digest}")).await);
        }
        Ok(Uploaded::Sent)
    }

    /// Uploads a small blob (a config) in one `PUT` after the `POST`.
    pub async fn upload_bytes(
        &self,
        remote: &Remote,
        digest: &Digest,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let scope = format!("repository:{}:pull,push", remote.repo);
        let Some(url) = self.start_upload(remote, digest, None).await? else {
            return Err(ClientError::Invalid(format!(
                "starting the upload of {digest}: the registry answered 201 without a mount"
            )));
        };
        let url = with_digest(url, digest);
        let auth = self.cached_auth(&url, &scope);
        let len = bytes.len();
        let resp = self
            .send_body(
                Method::PUT,
                &url,
                None,
                auth.as_deref(),
                full(bytes),
                &[
                    ("Content-Length", len.to_string()),
                    ("Content-Type", "application/octet-stream".to_string()),
                ],
            )
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(failure(resp, &format!("uploading {digest}")).await);
        }
        Ok(())
    }

    /// Every tag of the repository (`GET /v2/<repo>/tags/list`, following
    /// `Link: <...>; rel="next"` pages).
    pub async fn tags(&self, remote: &Remote) -> Result<Vec<String>> {
        let base = &remote.endpoint.base;
        let scope = format!("repository:{}:pull", remote.repo);
        let mut url = format!("{base}/v2/{}/tags/list", remote.repo);
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let resp = self
                .get(Method::GET, &url, None, remote.credentials.as_ref(), &scope)
                .await?;
            if !resp.status().is_success() {
                return Err(failure(resp, &format!("listing the tags of {}", remote.repo)).await);
            }
            let next = resp
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = read_limited(resp.into_body(), MAX_TAGS_BODY, "a tags list").await?;
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| ClientError::Invalid(format!("tags list: {e}")))?;
            out.extend(
                v["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
            match next {
                Some(n) if n.starts_with('/') => url = format!("{base}{n}"),
                Some(n) => url = n,
                None => return Ok(out),
            }
        }
        Err(ClientError::Invalid("the tags list does not end".into()))
    }

    /// `PUT /v2/<repo>/manifests/<tag>`; returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        remote: &Remote,
        tag: &str,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> Result<String> {
        let url = format!(
            "{}/v2/{}/manifests/{tag}",
            remote.endpoint.base, remote.repo
        );
        let scope = format!("repository:{}:pull,push", remote.repo);
        let auth = self.cached_auth(&url, &scope);
        let len = bytes.len();
        let local = Digest::of_bytes(&bytes).to_string();
        let resp = self
            .send_body(
                Method::PUT,
                &url,
                None,
                auth.as_deref(),
                full(bytes),
                &[
                    ("Content-Type", media_type.to_string()),
                    ("Content-Length", len.to_string()),
                ],
            )
            .await?;
        let status = resp.status();
        let reported = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if !status.is_success() {
            return Err(failure(
                resp,
                &format!("pushing the manifest of {}:{tag}", remote.repo),
            )
            .await);
        }
        Ok(reported.unwrap_or(local))
    }

    /// `GET /v2/<repo>/manifests/<reference>`.
    pub async fn manifest(&self, remote: &Remote, reference: &str) -> Result<Manifest> {
        let (repo, creds) = (&remote.repo, remote.credentials.as_ref());
        let url = format!("{}/v2/{repo}/manifests/{reference}", remote.endpoint.base);
        let accept = MEDIA_TYPES.join(", ");
        let scope = format!("repository:{repo}:pull");
        let resp = self
            .get(Method::GET, &url, Some(&accept), creds, &scope)
            .await?;
        let status = resp.status();
        let media_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let bytes = read_limited(resp.into_body(), MAX_MANIFEST, "a manifest").await?;
        if !status.is_success() {
            return Err(registry_error(
                status,
                &bytes,
                &format!("manifest for {repo}:{reference}"),
            ));
        }
        let digest = Digest::of_bytes(&bytes);
        if reference.starts_with("sha256:") && reference != digest.to_string() {
            return Err(ClientError::Invalid(format!(
                "manifest {reference} arrived with digest {digest}"
            )));
        }
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_string))
            .filter(|m| !m.is_empty())
            .unwrap_or(media_type);
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Downloads any URL (`ADD https://...`), following redirects, into
    /// `path`; checks the sha256 when `expected` is given. Returns the
    /// `Last-Modified` header, if any.
    pub async fn download(
        &self,
        url: &str,
        path: &Path,
        expected: Option<&Digest>,
    ) -> Result<Option<String>> {
        let resp = self.send(Method::GET, url, None, None).await?;
        let resp = self.follow_redirects(resp, url, 10).await?;
        if !resp.status().is_success() {
            return Err(ClientError::Registry {
                status: resp.status().as_u16(),
                message: format!("downloading {url}: {}", resp.status()),
            });
        }
        let modified = resp
            .headers()
            .get("last-modified")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let io = |what: &str| {
            let what = format!("{what} {}", path.display());
            move |source| ClientError::Io { what, source }
        };
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(io("creating"))?;
        let mut hasher = berth_image::digest::Hasher::new();
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Http(format!("downloading {url}: {e}")))?;
            if let Ok(chunk) = frame.into_data() {
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(io("writing"))?;
            }
        }
        file.flush().await.map_err(io("writing"))?;
        let actual = hasher.finish();
        if let Some(want) = expected {
            if *want != actual {
                return Err(ClientError::Invalid(format!(
                    "the content of {url} is {actual}, not the expected {want}"
                )));
            }
        }
        Ok(modified)
    }

    /// Starts downloading a blob (following redirects to storage); its
    /// chunks come from [`BlobBody::chunk`], which checks size and digest.
    pub async fn blob(&self, remote: &Remote, digest: &Digest, size: u64) -> Result<BlobBody> {
        let (repo, creds, ep) = (&remote.repo, remote.credentials.as_ref(), &remote.endpoint);
        let url = format!("{}/v2/{repo}/blobs/{digest}", ep.base);
        let scope = format!("repository:{repo}:pull");
        let resp = self.get(Method::GET, &url, None, creds, &scope).await?;
        // Registries redirect blob downloads to storage (S3, a CDN).
        let resp = self.follow_redirects(resp, &url, 5).await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(failure(resp, &format!("blob {digest}")).await);
        }
        Ok(BlobBody {
            body: resp.into_body(),
            hasher: berth_image::digest::Hasher::new(),
            got: 0,
            size,
            digest: digest.clone(),
        })
    }

    /// Downloads a blob into `path`, verified; `progress` gets the bytes so far.
    pub async fn blob_to_file(
        &self,
        remote: &Remote,
        digest: &Digest,
        size: u64,
        path: &Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<()> {
        let mut body = self.blob(remote, digest, size).await?;
        let io = |what: &str| {
            let what = format!("{what} {}", path.display());
            move |source| ClientError::Io { what, source }
        };
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(io("creating"))?;
        while let Some(chunk) = body.chunk().await? {
            file.write_all(&chunk).await.map_err(io("writing"))?;
            progress(body.received());
        }
        file.flush().await.map_err(io("writing"))?;
        Ok(())
    }
}

/// How a blob reached the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    /// Mounted from another repository: no content travelled.
    Mounted,
    /// Its content was sent.
    Sent,
}

/// The absolute `Location` of an upload answer.
fn location(resp: &Response<Incoming>, base: &str) -> Result<String> {
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ClientError::Invalid("an upload answer without a location".into()))?;
    Ok(if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_string()
    })
}

/// `url` with `digest=<digest>` added to its query (finishing an upload).
fn with_digest(mut url: String, digest: &Digest) -> String {
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&format!("digest={}", encode(&digest.to_string())));
    url
}

/// The target of `Link: <url>; rel="next"` (pure).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// A blob being downloaded.
pub struct BlobBody {
    body: Incoming,
    hasher: berth_image::digest::Hasher,
    got: u64,
    size: u64,
    digest: Digest,
}

impl BlobBody {
    /// The next chunk; `None` once the whole blob arrived with the right
    /// size and digest. An error when it is longer, shorter or different.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let digest = &self.digest;
        loop {
            let Some(frame) = self.body.frame().await else {
                let actual = std::mem::take(&mut self.hasher).finish();
                if self.got != self.size || actual != *digest {
                    return Err(ClientError::Invalid(format!(
                        "blob {digest} arrived as {actual} ({} of {} bytes): refusing it",
                        self.got, self.size
                    )));
                }
                return Ok(None);
            };
            let frame =
                frame.map_err(|e| ClientError::Http(format!("downloading {digest}: {e}")))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            self.hasher.update(&chunk);
            self.got += chunk.len() as u64;
            if self.got > self.size {
                return Err(ClientError::Invalid(format!(
                    "blob {digest} is larger than its {} bytes",
                    self.size
                )));
            }
            return Ok(Some(chunk));
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.got
    }
}

fn basic_header(c: &Credentials) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

fn unauthorized(url: &str) -> ClientError {
    ClientError::Registry {
        status: 401,
        message: format!("unauthorized: authentication required ({url})"),
    }
}

/// The error an unsuccessful answer stands for, its body read.
async fn failure(resp: Response<Incoming>, what: &str) -> ClientError {
    let status = resp.status();
    let body = read_limited(resp.into_body(), MAX_SMALL_BODY, what)
        .await
        .unwrap_or_default();
    registry_error(status, &body, what)
}

/// The largest manifest or index taken from a registry (as Docker's 4 MiB).
pub const MAX_MANIFEST: usize = 4 << 20;
/// Token answers and error bodies.
const MAX_SMALL_BODY: usize = 1 << 20;
/// One page of a tags list.
const MAX_TAGS_BODY: usize = 16 << 20;

/// A whole body of at most `limit` bytes; a longer one is refused as soon
/// as it passes the limit, so a registry that sends without end costs
/// `limit` of memory.
async fn read_limited(mut body: Incoming, limit: usize, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ClientError::Http(format!("reading {what}: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(ClientError::Invalid(format!(
                    "{what} is larger than {limit} bytes: refusing it"
                )));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

fn registry_error(status: StatusCode, body: &[u8], what: &str) -> ClientError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let detail = v["errors"][0]["message"].as_str().map(str::to_string);
    let message = match (status.as_u16(), detail) {
        (404, _) => format!("{what}: not found"),
        (_, Some(d)) => format!("{what}: {d}"),
        _ => format!("{what}: {status}"),
    };
    ClientError::Registry {
        status: status.as_u16(),
        message,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&format!(": {s}"));
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<https://x/a>; rel="prev", <https://x/b>; rel="next""#).as_deref(),
            Some("https://x/b")
        );
        assert_eq!(next_link(r#"<https://x/a>; rel="prev""#), None);
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("docker.io", &[]).base,
            "https://registry-1.docker.io"
        );
        assert_eq!(
            endpoint("localhost:5000", &[]).base,
            "http://localhost:5000"
        );
        assert_eq!(
            endpoint("127.0.0.1:5000", &[]).base,
            "http://127.0.0.1:5000"
        );
        assert_eq!(endpoint("127.8.0.1", &[]).base, "http://127.8.0.1");
        let cidr = vec!["10.88.0.0/16".to_string()];
        assert_eq!(
            endpoint("10.88.3.4:5000", &cidr).base,
            "http://10.88.3.4:5000"
        );
        assert_eq!(
            endpoint("10.89.3.4:5000", &cidr).base,
            "https://10.89.3.4:5000"
        );
        assert_eq!(
            endpoint("10.1.2.3", &["0.0.0.0/0".to_string()]).base,
            "http://10.1.2.3"
        );
        assert_eq!(
            endpoint("reg.example:443", &[]).base,
            "https://reg.example:443"
        );
        assert_eq!(
            endpoint("reg.example", &["reg.example".into()]).base,
            "http://reg.example"
        );
    }

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge("Bearer realm=http://t/x"),
            Some(Challenge::Bearer {
                realm: "http://t/x".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
