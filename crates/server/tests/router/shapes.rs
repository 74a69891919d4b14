//! Response shapes and Docker's errors: bodies read as dockerd reads them,
//! the non-swarm answers, and fields that follow the version in the path.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::api::Api;

crate::tests!(
    json_bodies_as_dockerd,
    non_swarm_answers,
    image_fields_by_version,
    container_fields_by_version,
    create_rules_by_version,
    validation_as_docker,
);

/// Bodies are read as dockerd reads them, before any lookup.
async fn json_bodies_as_dockerd(api: &Api) {
    let cases = [
        (
            "/containers/create",
            "text/plain",
            "{}",
            "unsupported Content-Type header (text/plain): must be 'application/json'",
        ),
        (
            "/containers/create",
            "application/json",
            "{\"Image\": \"busybox\"} {}",
            "unexpected content after JSON",
        ),
        (
            "/containers/create",
            "application/json",
            "{\"Image\": ",
            "invalid JSON: got EOF while reading request body",
        ),
        (
            "/containers/create",
            "application/json",
            "",
            "config cannot be empty in order to create a container",
        ),
        // The body first: a missing container is not looked up.
        (
            "/containers/nope/exec",
            "application/json",
            "{\"Cmd\": ",
            "invalid JSON: got EOF while reading request body",
        ),
        (
            "/networks/create",
            "text/plain",
            "{}",
            "unsupported Content-Type header (text/plain): must be 'application/json'",
        ),
    ];
    for (path, ct, body, message) in cases {
        let a = api.call("POST", path, Some(ct), body.to_string()).await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            a.text()
        );
        assert_eq!(a.message(), message, "{path} {body}");
    }
    // Nesting deep enough to exhaust a parser's stack is refused, not
    // followed (issue 15: bounded JSON nesting).
    let deep = format!(
        "{{\"Image\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let a = api
        .call("POST", "/containers/create", Some("application/json"), deep)
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().starts_with("invalid JSON"), "{}", a.message());
}

async fn non_swarm_answers(api: &Api) {
    let a = api.post("/v1.41/swarm/leave?force=1").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    assert_eq!(a.message(), "This node is not part of a swarm");
    for path in [
        "/swarm",
        "/nodes",
        "/services",
        "/tasks",
        "/secrets",
        "/configs",
    ] {
        let a = api.get(path).await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(
            a.message().contains("This node is not a swarm manager."),
            "{path}: {}",
            a.text()
        );
    }
    let a = api.post_json("/swarm/init", &json!({})).await;
    assert_eq!(a.status, StatusCode::NOT_IMPLEMENTED, "{}", a.text());
    let a = api.get("/plugins").await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, json!([])));
}

/// A one-file image imported as `name`.
pub async fn import_image(api: &Api, name: &str) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "hello", &b"hello\n"[..])
        .expect("tar");
    let body = tar.into_inner().expect("tar");
    let a = api
        .call(
            "POST",
            format!("/images/create?fromSrc=-&repo={name}&changes=CMD%20%5B%22%2Fhello%22%5D"),
            Some("application/x-tar"),
            body,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

/// Image answers follow the version in the path: `ContainerConfig` and
/// `Container` below 1.45 (docker-compose 1.29 speaks 1.38 and reads them),
/// `VirtualSize` below 1.44.
async fn image_fields_by_version(api: &Api) {
    import_image(api, "rt-shapes").await;
    let get = |path: &'static str| async move {
        let a = api.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text());
        a.json()
    };
    let old = get("/v1.38/images/rt-shapes/json").await;
    assert!(old["ContainerConfig"].is_object(), "{old}");
    assert_eq!(old["Container"], "");
    assert_eq!(old["VirtualSize"], old["Size"]);
    let mid = get("/v1.44/images/rt-shapes/json").await;
    assert!(
        mid["ContainerConfig"].is_object() && mid.get("VirtualSize").is_none(),
        "{mid}"
    );
    for new in [
        get("/v1.45/images/rt-shapes/json").await,
        get("/images/rt-shapes/json").await,
    ] {
        assert!(
            new.get("ContainerConfig").is_none() && new.get("Container").is_none(),
            "{new}"
        );
    }
    let listed = get("/v1.41/images/json").await;
    let ours = |list: &Value| {
        list.as_array()
            .expect("array")
            .iter()
            .find(|i| i["RepoTags"] == json!(["rt-shapes:latest"]))
            .cloned()
            .expect("listed")
    };
    assert!(ours(&listed)["VirtualSize"].is_u64(), "{listed}");
    assert!(ours(&get("/v1.50/images/json").await)
        .get("VirtualSize")
        .is_none());
    assert_eq!(api.delete("/images/rt-shapes").await.status, StatusCode::OK);
}

async fn create(api: &Api, path: &str, body: Value) -> String {
    let a = api.post_json(path, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{path}: {}", a.text());
    a.json()["Id"].as_str().expect("id").to_string()
}

/// Annotations are kept from 1.43 and listed from 1.46; aliases on user
/// networks carry the short id and hostname below 1.45.
async fn container_fields_by_version(api: &Api) {
    import_image(api, "rt-ctr").await;
    let a = api
        .post_json("/networks/create", &json!({"Name": "rt-alias"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let body = json!({
        "Image": "rt-ctr",
        "HostConfig": {"Annotations": {"org.example/team": "a"}, "NetworkMode": "rt-alias"},
        "NetworkingConfig": {"EndpointsConfig": {"rt-alias": {"Aliases": ["web"]}}}
    });
    let new = create(api, "/v1.50/containers/create?name=rt-new", body.clone()).await;
    let old = create(api, "/v1.38/containers/create?name=rt-old", body).await;
    let inspect = |id: String, v: &'static str| async move {
        let a = api.get(format!("/{v}/containers/{id}/json")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        a.json()
    };
    let i = inspect(new.clone(), "v1.50").await;
    assert_eq!(
        i["HostConfig"]["Annotations"],
        json!({"org.example/team": "a"})
    );
    assert_eq!(
        i["NetworkSettings"]["Networks"]["rt-alias"]["Aliases"],
        json!(["web"]),
        "{i}"
    );
    let i = inspect(new.clone(), "v1.44").await;
    let short = &new[..12];
    assert_eq!(
        i["NetworkSettings"]["Networks"]["rt-alias"]["Aliases"],
        json!(["web", short]),
        "{i}"
    );
    let i = inspect(old.clone(), "v1.50").await;
    assert!(
        i["HostConfig"].get("Annotations").is_none(),
        "a 1.38 client cannot set them: {i}"
    );
    let listed = |v: &'static str| async move {
        let a = api
            .get(format!(
                "/{v}/containers/json?all=1&{}",
                crate::api::filters(&[("name", "^/rt-new$")])
            ))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        a.json()[0]["HostConfig"].clone()
    };
    assert!(listed("v1.45").await.get("Annotations").is_none());
    assert_eq!(
        listed("v1.46").await["Annotations"],
        json!({"org.example/team": "a"})
    );
    for (v, want) in [
        ("v1.41", "application/vnd.docker.raw-stream"),
        ("v1.42", "application/vnd.docker.multiplexed-stream"),
    ] {
        let a = api
            .get(format!("/{v}/containers/{new}/logs?stdout=1"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(a.headers["Content-Type"], want, "{v}");
    }
    for id in [new, old] {
        assert_eq!(
            api.delete(format!("/containers/{id}")).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        api.delete("/networks/rt-alias").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-ctr").await.status, StatusCode::OK);
}

/// What an API version cannot ask for, and Docker's words for it.
async fn create_rules_by_version(api: &Api) {
    import_image(api, "rt-rules").await;
    let cases = [
        (
            "v1.43",
            json!({"Image": "rt-rules", "NetworkingConfig": {"EndpointsConfig": {"a": {}, "b": {}}}}),
            "Container cannot be created with multiple network endpoints: a, b",
        ),
        (
            "v1.44",
            json!({"Image": "rt-rules", "HostConfig": {"Mounts": [{"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "a"}}]}}),
            "VolumeOptions.Subpath needs API v1.45 or newer",
        ),
        (
            "v1.50",
            json!({"Image": "rt-rules", "HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/x", "BindOptions": {}}]}}),
            "BindOptions must not be specified on mount type \"tmpfs\"",
        ),
        (
            "v1.50",
            json!({"Image": "rt-rules", "HostConfig": {"Annotations": {"": "x"}}}),
            "invalid Annotations: the empty string is not permitted as an annotation key",
        ),
        (
            "v1.50",
            json!({"Image": "rt-rules", "HostConfig": {"Annotations": {"berth.init": "true"}}}),
            "invalid Annotations: berth.init: keys starting with berth. are reserved for berth's runtime",
        ),
    ];
    for (v, body, message) in cases {
        let a = api
            .post_json(format!("/{v}/containers/create"), &body)
            .await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{v} {body}: {}",
            a.text()
        );
        assert_eq!(a.message(), message, "{v} {body}");
    }
    assert_eq!(api.delete("/images/rt-rules").await.status, StatusCode::OK);
}

/// Parameters dockerd checks before anything else, and its words.
async fn validation_as_docker(api: &Api) {
    import_image(api, "rt-valid").await;
    let cases: Vec<(String, Option<Value>, &str)> = vec![
        (
            "/containers/nope/resize?h=x&w=80".into(),
            None,
            "invalid resize height \"x\": invalid syntax",
        ),
        (
            "/containers/nope/resize?h=24&w=-1".into(),
            None,
            "invalid resize width \"-1\": value out of range",
        ),
        (
            "/exec/nope/resize?h=24&w=99999999999".into(),
            None,
            "invalid resize width \"99999999999\": value out of range",
        ),
        (
            format!(
                "/images/rt-valid/tag?repo=rt-valid%40sha256%3A{}",
                "a".repeat(64)
            ),
            None,
            "cannot import digest reference",
        ),
        (
            "/images/rt-valid/tag?repo=rt-valid&tag=a%3Ab".into(),
            None,
            "invalid tag format",
        ),
        (
            "/images/rt-valid/tag?repo=sha256&tag=x".into(),
            None,
            "refusing to create an ambiguous tag using digest algorithm as name",
        ),
        (
            "/images/create?fromSrc=-&platform=nonsense".into(),
            None,
            "\"nonsense\": unknown operating system or architecture: invalid argument",
        ),
        (
            "/images/create?fromSrc=-&platform=windows%2Famd64".into(),
            None,
            "operating system is not supported",
        ),
        (
            "/containers/create".into(),
            Some(
                json!({"Image": "rt-valid", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 10}}),
            ),
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            "/containers/create".into(),
            Some(
                json!({"Image": "rt-valid", "Healthcheck": {"Test": ["CMD", "true"], "Retries": -2}}),
            ),
            "Retries in Healthcheck cannot be negative",
        ),
        (
            "/containers/create".into(),
            Some(json!({"Image": "rt-valid", "Hostname": "web\n6.6.6.6 bank.example"})),
            "invalid hostname \"web\\n6.6.6.6 bank.example\": it holds control characters (a newline, a tab...)",
        ),
    ];
    for (path, body, message) in cases {
        let a = match &body {
            Some(b) => api.post_json(path.clone(), b).await,
            None => api.post(path.clone()).await,
        };
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text());
        assert_eq!(a.message(), message, "{path}");
    }
    let a = api.post("/images/rt-valid/tag?repo=rt-valid-2").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a = api.get("/images/rt-valid-2:latest/json").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    // An image imported for another architecture says so.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "f", &b"x"[..]).expect("tar");
    let a = api
        .call(
            "POST",
            "/images/create?fromSrc=-&repo=rt-arm&platform=linux%2Farm64%2Fv8",
            Some("application/x-tar"),
            tar.into_inner().expect("tar"),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let i = api.get("/images/rt-arm/json").await.json();
    assert_eq!(
        (i["Os"].as_str(), i["Architecture"].as_str()),
        (Some("linux"), Some("arm64")),
        "{i}"
    );
    for name in ["rt-valid", "rt-valid-2", "rt-arm"] {
        assert_eq!(
            api.delete(format!("/images/{name}")).await.status,
            StatusCode::OK,
            "{name}"
        );
    }
}
