//! List and prune filters: Docker's semantics and its 400s.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::api::{filters, Answer, Api};

crate::tests!(
    unknown_filters_are_400,
    network_filters,
    volume_filters,
    container_prune_filters
);

async fn unknown_filters_are_400(api: &Api) {
    let colour = filters(&[("colour", "red")]);
    for path in [
        "/containers/json",
        "/images/json",
        "/networks",
        "/volumes",
        "/events",
    ] {
        let a = api.get(&format!("{path}?{colour}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text());
        assert_eq!(a.message(), "invalid filter 'colour'", "{path}");
    }
    for path in [
        "/containers/prune",
        "/images/prune",
        "/networks/prune",
        "/volumes/prune",
    ] {
        let a = api.post(&format!("{path}?{colour}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text());
        assert_eq!(a.message(), "invalid filter 'colour'", "{path}");
    }
    let a = api.get("/images/json?filters=%7Bnot-json").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let cases = [
        ("/images/json", ("dangling", "maybe"), "invalid filter 'dangling=[maybe]'"),
        ("/networks", ("type", "fancy"), "invalid filter: 'type'='fancy'"),
        (
            "/networks",
            ("dangling", "maybe"),
            "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")",
        ),
        ("/volumes", ("dangling", "maybe"), "invalid filter 'dangling=[maybe]'"),
        ("/containers/json", ("status", "sleepy"), "invalid filter 'status=sleepy'"),
    ];
    for (path, pair, message) in cases {
        let a = api.get(&format!("{path}?{}", filters(&[pair]))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text());
        assert_eq!(a.message(), message, "{path}");
    }
    let a = api
        .post(&format!("/volumes/prune?{}", filters(&[("all", "maybe")])))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.message(),
        "invalid filter 'all': strconv.ParseBool: parsing \"maybe\": invalid syntax"
    );
}

/// Creates objects (networks, volumes) by name with these labels.
async fn create_labelled<const N: usize>(api: &Api, path: &str, items: [(&str, Value); N]) {
    for (name, labels) in items {
        let a = api
            .post_json(path, &json!({"Name": name, "Labels": labels}))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{path} {name}: {}", a.text());
    }
}

async fn network_filters(api: &Api) {
    create_labelled(
        api,
        "/networks/create",
        [
            ("rt-front", json!({"env": "prod", "team": "a"})),
            ("rt-back", json!({"env": "dev"})),
        ],
    )
    .await;
    let names = |a: Answer| a.sorted_names("");
    let list = |pairs: &'static [(&'static str, &'static str)]| {
        api.get(format!("/networks?{}", filters(pairs)))
    };
    assert_eq!(names(list(&[("name", "^rt-f")]).await), ["rt-front"]);
    assert_eq!(
        names(list(&[("name", "rt-"), ("type", "custom")]).await),
        ["rt-back", "rt-front"]
    );
    assert_eq!(
        names(list(&[("type", "builtin")]).await),
        ["bridge", "host", "none"]
    );
    assert_eq!(
        names(list(&[("label", "env=prod"), ("label", "team")]).await),
        ["rt-front"]
    );
    assert_eq!(
        names(list(&[("dangling", "1"), ("label", "env")]).await),
        ["rt-back", "rt-front"]
    );
    assert!(names(list(&[("driver", "bri")]).await).is_empty());
    assert!(names(list(&[("scope", "swarm")]).await).is_empty());
    let a = api
        .post(&format!(
            "/networks/prune?{}",
            filters(&[("label!", "env=prod")])
        ))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["NetworksDeleted"], json!(["rt-back"]));
    assert_eq!(
        api.delete("/networks/rt-front").await.status,
        StatusCode::NO_CONTENT
    );
}

async fn volume_filters(api: &Api) {
    create_labelled(
        api,
        "/volumes/create",
        [
            ("rt-v1", json!({"rt": "yes", "keep": "1"})),
            ("rt-v2", json!({"rt": "yes"})),
        ],
    )
    .await;
    let names = |a: Answer| a.sorted_names("/Volumes");
    let list = |pairs: &'static [(&'static str, &'static str)]| {
        api.get(format!("/volumes?{}", filters(pairs)))
    };
    assert_eq!(names(list(&[("name", "^rt-v")]).await), ["rt-v1", "rt-v2"]);
    assert_eq!(names(list(&[("name", "2$")]).await), ["rt-v2"]);
    assert_eq!(
        names(list(&[("label", "rt=yes"), ("label", "keep")]).await),
        ["rt-v1"]
    );
    assert_eq!(
        names(list(&[("dangling", "true"), ("name", "rt-")]).await),
        ["rt-v1", "rt-v2"]
    );
    assert!(names(list(&[("driver", "loc")]).await).is_empty());
    let a = api
        .post(&format!(
            "/volumes/prune?{}",
            filters(&[("all", "true"), ("label", "rt=yes"), ("label!", "keep=1")])
        ))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["VolumesDeleted"], json!(["rt-v2"]));
    assert_eq!(
        api.delete("/volumes/rt-v1").await.status,
        StatusCode::NO_CONTENT
    );
}

async fn container_prune_filters(api: &Api) {
    let a = api
        .post(&format!(
            "/containers/prune?{}",
            filters(&[("until", "soon")])
        ))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.message()
            .starts_with("failed to parse value as time or duration"),
        "{}",
        a.text()
    );
    let a = api
        .post(&format!(
            "/containers/prune?{}",
            filters(&[("until", "1h"), ("label!", "x")])
        ))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["SpaceReclaimed"], 0);
}
