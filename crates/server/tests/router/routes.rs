//! Every route the server has, at least once: the status and Docker's error
//! body for a missing object or a bad request, and the shape of what a
//! route that needs no container answers. A route added to
//! `crates/server/src/routes/` without a row here fails
//! `every_route_has_a_row`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::api::Api;

crate::tests!(
    every_route_has_a_row,
    missing_objects_and_bad_requests,
    answers_of_routes_without_a_container,
);

/// What a row expects of the body.
enum Want {
    /// Docker's error body with exactly this message.
    Message(&'static str),
    /// A JSON body with these top-level members (and no others).
    Keys(&'static [&'static str]),
    /// A body containing this text.
    Contains(&'static str),
    /// No body.
    Empty,
}

/// (route template as written in the source, method, request path, JSON
/// body, status, what the body holds).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<Value>,
    StatusCode,
    Want,
);

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    use StatusCode as S;
    use Want::*;
    let nc = || Message("No such container: nope");
    vec![
        // Containers.
        ("/containers/create", "POST", "/containers/create", Some(json!({"Image": "nope:1"})), S::NOT_FOUND, Message("No such image: nope:1")),
        ("/containers/json", "GET", "/containers/json?all=1&filters=%7B%22name%22%3A%5B%22%5Enope%24%22%5D%7D", None, S::OK, Contains("[]")),
        ("/containers/{id}/json", "GET", "/containers/nope/json", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/start", "POST", "/containers/nope/start", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/wait", "POST", "/containers/nope/wait", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/logs", "GET", "/containers/nope/logs?stdout=1", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/attach", "POST", "/containers/nope/attach?stream=1&stdout=1", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/resize", "POST", "/containers/nope/resize?h=10&w=10", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/stop", "POST", "/containers/nope/stop", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/kill", "POST", "/containers/nope/kill", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/restart", "POST", "/containers/nope/restart", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/rename", "POST", "/containers/nope/rename?name=other", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/top", "GET", "/containers/nope/top", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/changes", "GET", "/containers/nope/changes", None, S::NOT_FOUND, nc()),
        ("/containers/prune", "POST", "/containers/prune?filters=%7B%22label%22%3A%5B%22rt-none%22%5D%7D", None, S::OK, Keys(&["ContainersDeleted", "SpaceReclaimed"])),
        ("/containers/{id}/export", "GET", "/containers/nope/export", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/archive", "GET", "/containers/nope/archive?path=/", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/archive", "PUT", "/containers/nope/archive?path=/", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/archive", "HEAD", "/containers/nope/archive?path=/", None, S::NOT_FOUND, Empty),
        ("/commit", "POST", "/commit?container=nope", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/pause", "POST", "/containers/nope/pause", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/unpause", "POST", "/containers/nope/unpause", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/update", "POST", "/containers/nope/update", Some(json!({})), S::NOT_FOUND, nc()),
        ("/containers/{id}/stats", "GET", "/containers/nope/stats?stream=0", None, S::NOT_FOUND, nc()),
        ("/containers/{id}", "DELETE", "/containers/nope", None, S::NOT_FOUND, nc()),
        ("/containers/{id}/{alias}", "DELETE", "/containers/nope/alias?link=1", None, S::NOT_FOUND, nc()),
        // Exec.
        ("/containers/{id}/exec", "POST", "/containers/nope/exec", Some(json!({"Cmd": ["true"]})), S::NOT_FOUND, nc()),
        ("/exec/{id}/start", "POST", "/exec/nope/start", Some(json!({"Detach": true})), S::NOT_FOUND, Message("No such exec instance: nope")),
        ("/exec/{id}/json", "GET", "/exec/nope/json", None, S::NOT_FOUND, Message("No such exec instance: nope")),
        ("/exec/{id}/resize", "POST", "/exec/nope/resize?h=10&w=10", None, S::NOT_FOUND, Message("No such exec instance: nope")),
        // Images.
        ("/images/json", "GET", "/images/json?filters=%7B%22reference%22%3A%5B%22nope%22%5D%7D", None, S::OK, Contains("[]")),
        ("/images/load", "POST", "/images/load", None, S::OK, Contains("errorDetail")),
        ("/images/get", "GET", "/images/get?names=nope", None, S::NOT_FOUND, Message("No such image: nope:latest")),
        ("/images/create", "POST", "/images/create?fromSrc=-&repo=rt-bad", Some(json!("not a tar")), S::BAD_REQUEST, Message("invalid tar stream: failed to read entire block")),
        ("/images/prune", "POST", "/images/prune?filters=%7B%22label%22%3A%5B%22rt-none%22%5D%7D", None, S::OK, Keys(&["ImagesDeleted", "SpaceReclaimed"])),
        ("/images/search", "GET", "/images/search?term=x", None, S::NOT_IMPLEMENTED, Message("searching registries is not supported yet")),
        ("/distribution/{*rest}", "GET", "/distribution/nope", None, S::NOT_FOUND, Message("page not found: GET /distribution/nope")),
        ("/images/{*rest}", "GET", "/images/nope/json", None, S::NOT_FOUND, Message("No such image: nope:latest")),
        ("/images/{*rest}", "GET", "/images/nope/history", None, S::NOT_FOUND, Message("No such image: nope:latest")),
        ("/images/{*rest}", "GET", "/images/nope/get", None, S::NOT_FOUND, Message("No such image: nope:latest")),
        ("/images/{*rest}", "POST", "/images/nope/tag?repo=rt-x&tag=1", None, S::NOT_FOUND, Message("No such image: nope:latest")),
        ("/images/{*rest}", "DELETE", "/images/nope", None, S::NOT_FOUND, Message("No such image: nope:latest")),
        ("/images/{*rest}", "GET", "/images/nope/bogus", None, S::NOT_FOUND, Message("page not found: GET /images/nope/bogus")),
        // Build.
        ("/build", "POST", "/build", None, S::BAD_REQUEST, Message("Cannot locate specified Dockerfile: Dockerfile")),
        ("/build/prune", "POST", "/build/prune?filters=%7B%22until%22%3A%5B%221h%22%5D%7D", None, S::OK, Keys(&["CachesDeleted", "SpaceReclaimed"])),
        // Networks.
        ("/networks", "GET", "/networks?filters=%7B%22name%22%3A%5B%22rt-none%22%5D%7D", None, S::OK, Contains("[]")),
        ("/networks/create", "POST", "/networks/create", Some(json!({"Name": "rt-bad", "Driver": "overlay"})), S::BAD_REQUEST, Message("network driver overlay is not supported yet: berth has bridge networks")),
        ("/networks/prune", "POST", "/networks/prune?filters=%7B%22label%22%3A%5B%22rt-none%22%5D%7D", None, S::OK, Keys(&["NetworksDeleted"])),
        ("/networks/{id}", "GET", "/networks/nope", None, S::NOT_FOUND, Message("network nope not found")),
        ("/networks/{id}", "DELETE", "/networks/nope", None, S::NOT_FOUND, Message("network nope not found")),
        ("/networks/{id}/connect", "POST", "/networks/nope/connect", Some(json!({"Container": "x"})), S::NOT_FOUND, Message("network nope not found")),
        ("/networks/{id}/disconnect", "POST", "/networks/nope/disconnect", Some(json!({"Container": "x"})), S::NOT_FOUND, Message("network nope not found")),
        // Volumes.
        ("/volumes", "GET", "/volumes?filters=%7B%22name%22%3A%5B%22%5Ert-none%24%22%5D%7D", None, S::OK, Keys(&["Volumes", "Warnings"])),
        ("/volumes/create", "POST", "/volumes/create", Some(json!({"Name": "rt-bad", "Driver": "nfs"})), S::BAD_REQUEST, Message("volume driver nfs is not supported: only local")),
        ("/volumes/prune", "POST", "/volumes/prune?filters=%7B%22label%22%3A%5B%22rt-none%22%5D%7D", None, S::OK, Keys(&["VolumesDeleted", "SpaceReclaimed"])),
        ("/volumes/{name}", "GET", "/volumes/nope", None, S::NOT_FOUND, Message("get nope: no such volume")),
        ("/volumes/{name}", "DELETE", "/volumes/nope", None, S::NOT_FOUND, Message("get nope: no such volume")),
        // System.
        ("/_ping", "GET", "/_ping", None, S::OK, Contains("OK")),
        ("/_ping", "HEAD", "/_ping", None, S::OK, Empty),
        ("/version", "GET", "/version", None, S::OK, Contains("ApiVersion")),
        ("/info", "GET", "/info", None, S::OK, Contains("ServerVersion")),
        ("/system/df", "GET", "/system/df", None, S::OK, Keys(&[ "LayersSize", "Images", "Containers", "Volumes", "BuildCache", ])),
        ("/system/check", "POST", "/system/check?repair=0", None, S::OK, Contains("Problems")),
        ("/auth", "POST", "/auth", Some(json!({"username": "u", "password": "p", "serveraddress": "127.0.0.1:1"})), S::INTERNAL_SERVER_ERROR, Contains("127.0.0.1:1")),
        ("/events", "GET", "/events?since=0&until=1", None, S::OK, Empty),
        // Swarm and plugins: Docker's answers without swarm mode.
        ("/swarm", "GET", "/swarm", None, S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/swarm/leave", "POST", "/swarm/leave", None, S::SERVICE_UNAVAILABLE, Contains("not part of a swarm")),
        ("/swarm/init", "POST", "/swarm/init", Some(json!({})), S::NOT_IMPLEMENTED, Contains("swarm")),
        ("/swarm/join", "POST", "/swarm/join", Some(json!({})), S::NOT_IMPLEMENTED, Contains("swarm")),
        ("/swarm/update", "POST", "/swarm/update", None, S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/swarm/unlock", "POST", "/swarm/unlock", None, S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/swarm/unlockkey", "GET", "/swarm/unlockkey", None, S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/plugins", "GET", "/plugins", None, S::OK, Contains("[]")),
        ("/plugins/privileges", "GET", "/plugins/privileges?remote=x", None, S::NOT_IMPLEMENTED, Contains("plugins")),
        ("/plugins/pull", "POST", "/plugins/pull?remote=x", None, S::NOT_IMPLEMENTED, Contains("plugins")),
        ("/plugins/create", "POST", "/plugins/create?name=x", None, S::NOT_IMPLEMENTED, Contains("plugins")),
        ("/plugins/{name}", "DELETE", "/plugins/x", None, S::NOT_FOUND, Contains("plugin")),
        ("/plugins/{name}/{action}", "GET", "/plugins/x/json", None, S::NOT_FOUND, Contains("plugin")),
        ("/{kind}", "GET", "/services", None, S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/{kind}/{{id}}", "GET", "/nodes/x", None, S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/{kind}/{{id}}/{{action}}", "POST", "/services/x/update", None, S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/services/create", "POST", "/services/create", Some(json!({})), S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/secrets/create", "POST", "/secrets/create", Some(json!({})), S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
        ("/configs/create", "POST", "/configs/create", Some(json!({})), S::SERVICE_UNAVAILABLE, Contains("not a swarm manager")),
    ]
}

static IN_SOURCE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Reads the server's source now, while the tests may still read the
/// checkout (see `main`'s `drop_root`).
pub fn read_source() {
    IN_SOURCE.get_or_init(routes_in_source);
}

/// The route templates the server's source registers.
fn routes_in_source() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("routes dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let arg = rest.trim_start();
            let route = if let Some(lit) = arg.strip_prefix('"') {
                lit.split('"').next().unwrap_or_default().to_string()
            } else if let Some(f) = arg.strip_prefix("&format!(\"") {
                f.split('"').next().unwrap_or_default().to_string()
            } else {
                continue;
            };
            out.push(route);
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn every_route_has_a_row(_api: &Api) {
    let covered: Vec<&str> = rows().iter().map(|r| r.0).collect();
    let missing: Vec<String> = IN_SOURCE
        .get_or_init(routes_in_source)
        .iter()
        .filter(|r| !covered.contains(&r.as_str()))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a row in routes.rs: {missing:?}"
    );
    assert!(covered.len() > 60, "the source scan found the routes");
}

async fn missing_objects_and_bad_requests(api: &Api) {
    let mut failures = Vec::new();
    for (route, method, path, body, status, want) in rows() {
        let a = match &body {
            Some(b) => {
                api.call(method, path, Some("application/json"), b.to_string())
                    .await
            }
            None => {
                api.call(method, path, None, axum::body::Body::empty())
                    .await
            }
        };
        let text = a.text();
        let ok = a.status == status
            && match &want {
                Want::Message(m) => {
                    serde_json::from_slice::<Value>(&a.body).ok() == Some(json!({"message": m}))
                }
                Want::Keys(keys) => serde_json::from_slice::<Value>(&a.body)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
                    .is_some_and(|k| k == *keys),
                Want::Contains(t) => text.contains(t),
                Want::Empty => a.body.is_empty(),
            };
        if !ok {
            failures.push(format!("{route}: {method} {path} -> {} {text}", a.status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Shapes of objects that need no running container: a created
/// container, an image, a network, a volume, version and info.
async fn answers_of_routes_without_a_container(api: &Api) {
    crate::shapes::import_image(api, "rt-routes").await;
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let c = api
        .post_json(
            "/containers/create?name=rt-routes-c",
            &json!({"Image": "rt-routes"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text());
    assert_eq!(keys(&c.json()), ["Id", "Warnings"]);
    let i = api.get("/containers/rt-routes-c/json").await.json();
    for k in [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "Name",
        "HostConfig",
        "Config",
        "NetworkSettings",
        "Mounts",
    ] {
        assert!(i.get(k).is_some(), "container inspect has {k}: {i}");
    }
    assert_eq!(i["State"]["Status"], "created");
    // Lifecycle answers a created container gets.
    let a = api.post("/containers/rt-routes-c/pause").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    assert_eq!(
        a.message(),
        format!(
            "Container {} is not running",
            i["Id"].as_str().unwrap_or_default()
        )
    );
    let a = api.post("/containers/rt-routes-c/stop").await;
    assert_eq!(a.status, StatusCode::NOT_MODIFIED, "{}", a.text());
    let a = api
        .post_json("/containers/rt-routes-c/exec", &json!({"Cmd": ["true"]}))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    let a = api
        .post("/containers/rt-routes-c/rename?name=rt-routes-d")
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text());
    assert_eq!(
        api.delete("/containers/rt-routes-d").await.status,
        StatusCode::NO_CONTENT
    );
    let image = api.get("/images/rt-routes/json").await.json();
    for k in [
        "Id",
        "RepoTags",
        "RepoDigests",
        "Created",
        "Config",
        "Architecture",
        "Os",
        "Size",
        "RootFS",
    ] {
        assert!(image.get(k).is_some(), "image inspect has {k}: {image}");
    }
    let history = api.get("/images/rt-routes/history").await.json();
    assert_eq!(
        keys(&history[0]),
        ["Id", "Created", "CreatedBy", "Tags", "Size", "Comment"]
    );
    let n = api.get("/networks/bridge").await.json();
    for k in [
        "Name",
        "Id",
        "Created",
        "Scope",
        "Driver",
        "EnableIPv6",
        "IPAM",
        "Internal",
        "Containers",
        "Options",
        "Labels",
    ] {
        assert!(n.get(k).is_some(), "network inspect has {k}: {n}");
    }
    let v = api
        .post_json("/volumes/create", &json!({"Name": "rt-routes-v"}))
        .await
        .json();
    assert_eq!(
        keys(&v),
        [
            "Name",
            "Driver",
            "Mountpoint",
            "CreatedAt",
            "Labels",
            "Options",
            "Scope"
        ]
    );
    assert_eq!(
        api.delete("/volumes/rt-routes-v").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-routes").await.status, StatusCode::OK);
}
