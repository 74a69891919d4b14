//! HTTP/1.1 over the daemon's unix socket: one connection per request, which
//! keeps hijacked (attach) connections independent.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::Error;

/// Request bodies: empty, in memory, or streamed.
pub type RequestBody = BoxBody<Bytes, std::io::Error>;

pub fn empty() -> RequestBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(bytes: impl Into<Bytes>) -> RequestBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The API version this client speaks in its paths.
pub const API_PREFIX: &str = "/v1.50";

#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    /// `X-Registry-Auth` sent with every request (pulls and pushes).
    registry_auth: Option<String>,
    /// Other headers sent with every request (`X-Berth-Build-Secrets`).
    extra_headers: Vec<(String, String)>,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            socket: socket.into(),
            registry_auth: None,
            extra_headers: Vec::new(),
        }
    }

    /// Sends `name: value` with every request.
    pub fn with_header(mut self, name: &str, value: String) -> Client {
        self.extra_headers.push((name.to_string(), value));
        self
    }

    /// Registry credentials for the daemon, as Docker's base64url JSON.
    pub fn with_registry_auth(mut self, value: Option<String>) -> Client {
        self.registry_auth = value;
        self
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn connect(&self) -> Result<UnixStream, Error> {
        UnixStream::connect(&self.socket)
            .await
            .map_err(|source| Error::Connect {
                socket: self.socket.clone(),
                source,
            })
    }

    /// Sends a request and returns the response, whatever its status.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        content_type: Option<&str>,
        upgrade: bool,
    ) -> Result<Response<Incoming>, Error> {
        let stream = self.connect().await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{API_PREFIX}{}", escape_path(path)))
            .header(hyper::header::HOST, "berth")
            .header(
                hyper::header::USER_AGENT,
                concat!("berth-cli/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(ct) = content_type {
            builder = builder.header(hyper::header::CONTENT_TYPE, ct);
        }
        if let Some(auth) = &self.registry_auth {
            builder = builder.header("X-Registry-Auth", auth.as_str());
        }
        for (k, v) in &self.extra_headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if upgrade {
            builder = builder
                .header(hyper::header::CONNECTION, "Upgrade")
                .header(hyper::header::UPGRADE, "tcp");
        }
        let req = builder.body(body)?;
        Ok(sender.send_request(req).await?)
    }

    /// Sends a request; an error status becomes `Error::Api` with the
    /// daemon's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        content_type: Option<&str>,
    ) -> Result<Response<Incoming>, Error> {
        let resp = self.send(method, path, body, content_type, false).await?;
        check(resp).await
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let resp = self.call(Method::GET, path, empty(), None).await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let bytes = serde_json::to_vec(body)?;
        let resp = self
            .call(Method::POST, path, full(bytes), Some("application/json"))
            .await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// A POST with a JSON body whose answer carries no body of interest.
    pub async fn post_json_empty<B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(), Error> {
        let bytes = serde_json::to_vec(body)?;
        let resp = self
            .call(Method::POST, path, full(bytes), Some("application/json"))
            .await?;
        resp.into_body().collect().await?;
        Ok(())
    }

    /// A request whose answer carries no body of interest.
    pub async fn request_empty(&self, method: Method, path: &str) -> Result<(), Error> {
        let resp = self.call(method, path, empty(), None).await?;
        resp.into_body().collect().await?;
        Ok(())
    }
}

/// Turns an error status into `Error::Api`.
pub async fn check(resp: Response<Incoming>) -> Result<Response<Incoming>, Error> {
    let status = resp.status();
    if status.is_success() || status.as_u16() == 101 || status.as_u16() == 304 {
        return Ok(resp);
    }
    let bytes = resp.into_body().collect().await?.to_bytes();
    let message = serde_json::from_slice::<berth_api::ErrorBody>(&bytes)
        .map(|b| b.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string());
    Err(Error::Api {
        status: status.as_u16(),
        message,
    })
}

/// Percent-encodes a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `?k=v&...` from pairs, skipping nothing (callers filter).
pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// Percent-encodes what a URI path may not hold (a network named
/// `test 01`, say) in the path part of `path`; the query, built by
/// [`query`], is left as it is.
pub fn escape_path(path: &str) -> String {
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut out = String::with_capacity(path.len());
    for b in p.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if let Some(q) = q {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_escaped_queries_kept() {
        assert_eq!(
            super::escape_path("/networks/test 01?filters=a%20b"),
            "/networks/test%2001?filters=a%20b"
        );
        assert_eq!(
            super::escape_path("/images/a/b:1/json"),
            "/images/a/b:1/json"
        );
        assert_eq!(super::escape_path("/containers/é"), "/containers/%C3%A9");
    }

    use super::*;

    #[test]
    fn encodes_queries() {
        assert_eq!(
            query(&[("name", "a b".into()), ("x", "{\"k\":1}".into())]),
            "?name=a%20b&x=%7B%22k%22%3A1%7D"
        );
        assert_eq!(query(&[]), "");
    }
}
