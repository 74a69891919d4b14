//! One engine on a temporary root and a way to send it requests.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use berth_engine::container::runtime::FakeRuntime;
use berth_engine::networks::FakeHost;
use berth_engine::{Engine, EngineConfig, Hosts, Paths};
use http_body_util::BodyExt;
use serde_json::Value;

pub struct Api {
    router: Router,
    pub engine: Engine,
    /// The engine's networking, in memory: no bridge, namespace or
    /// firewall of the host is touched.
    pub network: Arc<FakeHost>,
    /// The containers' processes, in memory (see `FakeRuntime`).
    pub runtime: Arc<FakeRuntime>,
    dir: tempfile::TempDir,
    nft_table: String,
}

/// An answer: status, headers and the body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Name`s of the list at `pointer` of a 200 answer, sorted.
    pub fn sorted_names(&self, pointer: &str) -> Vec<String> {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        let body = self.json();
        let mut names: Vec<String> = body
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no list at {pointer:?}: {body}"))
            .iter()
            .map(|n| n["Name"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    }

    /// The keys of a JSON object answer, in order.
    pub fn keys(&self) -> Vec<String> {
        let body = self.json();
        body.as_object()
            .unwrap_or_else(|| panic!("not an object: {body}"))
            .keys()
            .cloned()
            .collect()
    }

    /// Docker's error body's `message`.
    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Api {
    pub async fn open() -> Result<Api, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pid = std::process::id();
        let nft_table = format!("berth_rt_{pid}");
        let config = EngineConfig {
            paths: Paths::new(dir.path().join("root"), dir.path().join("run")),
            monitor_exe: "/nonexistent/berth".into(),
            cgroup_parent: format!("berth-rt-{pid}"),
            network: berth_engine::networks::NetSettings {
                bridge: format!("brt{}", pid % 1_000_000),
                bip: None,
                nft_table: nft_table.clone(),
            },
            insecure_registries: Vec::new(),
            // Run by an ordinary user, image files stay the user's.
            storage: berth_engine::StoreOptions {
                ignore_chown_errors: true,
                user_xattrs: false,
            },
            rootless: None,
            userns_remap: None,
            fuse_overlay: false,
        };
        let network = Arc::new(FakeHost::default());
        let runtime = FakeRuntime::new();
        let hosts = Hosts {
            network: network.clone(),
            runtime: Arc::new(runtime.clone()),
            snapshots: Arc::new(berth_engine::snapshots::CopySnapshots {
                ignore_chown_errors: true,
            }),
            dialer: berth_registry::dial::Dialer::direct(),
        };
        let engine = Engine::open_with(config, hosts)
            .await
            .map_err(|e| format!("opening the engine: {e}"))?;
        Ok(Api {
            router: berth_server::router(engine.clone()),
            engine,
            network,
            runtime,
            dir,
            nft_table,
        })
    }

    /// Removes the engine's root; fails naming what the tests
    /// left attached.
    pub async fn close(self) -> Result<(), String> {
        let veths: Vec<String> = self
            .network
            .links()
            .into_iter()
            .filter(|l| l.starts_with("bv"))
            .collect();
        drop(self.dir);
        if veths.is_empty() {
            Ok(())
        } else {
            Err(format!("endpoints left behind: {veths:?}"))
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: impl Into<String>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let headers: &[(&str, &str)] = match content_type {
            Some(ct) => &[("Content-Type", ct)],
            None => &[],
        };
        self.call_with(method, path, headers, body).await
    }

    /// A request with these headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: impl Into<String>,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path.into());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.into()).expect("request");
        let response = berth_server::handle(self.router.clone(), req).await;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// The engine's temporary root directory.
    pub fn root(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The name of the engine's nftables tables.
    pub fn nft_table(&self) -> &str {
        &self.nft_table
    }

    pub async fn get(&self, path: impl Into<String>) -> Answer {
        self.call("GET", path, None, Body::empty()).await
    }

    pub async fn post_json(&self, path: impl Into<String>, body: &Value) -> Answer {
        self.call("POST", path, Some("application/json"), body.to_string())
            .await
    }

    pub async fn post(&self, path: impl Into<String>) -> Answer {
        self.call("POST", path, None, Body::empty()).await
    }

    pub async fn delete(&self, path: impl Into<String>) -> Answer {
        self.call("DELETE", path, None, Body::empty()).await
    }
}

/// `filters=` for a query string.
pub fn filters(pairs: &[(&str, &str)]) -> String {
    let mut m: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (k, v) in pairs {
        m.entry(k).or_default().push(v);
    }
    let json = serde_json::to_string(&m).expect("json");
    let mut out = String::from("filters=");
    for b in json.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

crate::tests!(
    ping_and_version_headers,
    versions_in_the_path,
    info_reports_the_machine
);

async fn ping_and_version_headers(api: &Api) {
    let a = api.get("/_ping").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), "OK");
    assert_eq!(a.headers["Api-Version"], "1.50");
    assert_eq!(a.headers["Ostype"], "linux");
    let v = api.get("/v1.41/version").await.json();
    assert_eq!(v["ApiVersion"], "1.50");
    assert_eq!(v["MinAPIVersion"], "1.24");
}

async fn versions_in_the_path(api: &Api) {
    let a = api.get("/v1.12/version").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.message(),
        "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    let a = api.get("/v1.99/version").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.message(),
        "client version 1.99 is too new. Maximum supported API version is 1.50"
    );
    let a = api.get("/v1.24/_ping").await;
    assert_eq!(a.status, StatusCode::OK);
}

/// `GET /info` has a stable UUID and says what the kernel's cgroups limit
/// (checked against `/proc/cgroups`).
async fn info_reports_the_machine(api: &Api) {
    let info = api.get("/info").await.json();
    let id = info["ID"].as_str().expect("ID");
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(api.get("/info").await.json()["ID"], id);
    let enabled = |name: &str| {
        std::fs::read_to_string("/proc/cgroups")
            .expect("/proc/cgroups")
            .lines()
            .any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.first() == Some(&name) && f.get(3) == Some(&"1")
            })
    };
    assert_eq!(info["MemoryLimit"], enabled("memory"), "{info}");
    assert_eq!(info["PidsLimit"], enabled("pids"), "{info}");
    assert_eq!(info["CPUShares"], enabled("cpu"), "{info}");
    assert!(info["SecurityOptions"]
        .as_array()
        .expect("options")
        .iter()
        .any(|o| o == "name=seccomp,profile=builtin"));
}
