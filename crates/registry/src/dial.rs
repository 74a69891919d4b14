//! How the client opens its TCP connections: directly (hyper's own
//! connector), or through a function the daemon gives, for a daemon whose
//! network is not the host's (rootless: its port helper connects from the
//! host's network and hands the socket over).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Opens a TCP connection to `(host, port)`.
pub type DialFn = Arc<
    dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = std::io::Result<TcpStream>> + Send>>
        + Send
        + Sync,
>;

/// A connector: hyper's, or a [`DialFn`].
#[derive(Clone)]
pub enum Dialer {
    Direct(HttpConnector),
    Through(DialFn),
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Dialer {
    /// Hyper's connector, which also connects for `https` URLs (TLS is
    /// added over it).
    pub fn direct() -> Dialer {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        Dialer::Direct(http)
    }
}

/// The port of a URL, or its scheme's.
fn port_of(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        })
}

impl tower::Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Dialer::Direct(h) => h.poll_ready(cx).map_err(Into::into),
            Dialer::Through(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self {
            Dialer::Direct(h) => {
                let f = h.call(uri);
                Box::pin(async move { f.await.map_err(Into::into) })
            }
            Dialer::Through(dial) => {
                let dial = dial.clone();
                Box::pin(async move {
                    let host = uri
                        .host()
                        .ok_or_else(|| format!("{uri}: no host"))?
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string();
                    let port = port_of(&uri);
                    Ok(TokioIo::new(dial(host, port).await?))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_by_scheme() {
        let port = |u: &str| port_of(&u.parse::<Uri>().expect("uri"));
        assert_eq!(port("https://r.example/v2/"), 443);
        assert_eq!(port("http://r.example/v2/"), 80);
        assert_eq!(port("http://127.0.0.1:5000/v2/"), 5000);
    }
}
