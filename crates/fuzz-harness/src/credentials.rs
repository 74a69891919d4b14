//! What carries credentials: `X-Registry-Auth`, `config.json`, a
//! registry's `WWW-Authenticate` and `Link` headers, htpasswd files and
//! `Authorization` headers.

use axum::http::{HeaderMap, HeaderValue};
use berth_cli::dockercfg;
use berth_registry::auth::Htpasswd;
use berth_registry::client::{next_link, parse_challenge};
use berth_server::routes::images::registry_auth;

use crate::text;

/// `s3cret` for `alice`, at bcrypt's lowest cost so a check stays fast.
const HTPASSWD: &str = "alice:$2b$04$abcdefghijklmnopqrstuuLZYjhNQAOdpbzt4WxWlUHjv1wsyH5DG\n";

/// One of six inputs, chosen by the first byte.
pub fn credentials(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let s = text(rest);
    match which % 6 {
        0 => {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(rest) {
                headers.insert("x-registry-auth", v);
                let _ = registry_auth(&headers);
            }
        }
        1 => {
            let cfg = dockercfg::parse(rest);
            for server in ["https://index.docker.io/v1/", "127.0.0.1:5000", "a"] {
                if let Some(h) = dockercfg::helper(&cfg, server) {
                    assert!(!h.contains('/'), "helper {h:?} names a path");
                }
                let _ = dockercfg::inline_credentials(&cfg, server);
            }
        }
        2 => {
            let _ = parse_challenge(&s);
        }
        3 => {
            let _ = next_link(&s);
        }
        4 => {
            let _ = Htpasswd::parse(&s);
        }
        _ => {
            let Ok(h) = Htpasswd::parse(HTPASSWD) else {
                panic!("the fixed htpasswd does not parse");
            };
            let _ = h.check(Some(&s));
        }
    }
}
