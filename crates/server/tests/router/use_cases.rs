//! Use cases that span services, through the router: `volume rm` and
//! `volume prune` against the containers' claims, `system df`, and `rmi`'s
//! walk over untagged parents, `system check` over what a killed daemon
//! leaves.

use axum::http::StatusCode;
use berth_engine::container::runtime::ContainerRuntime;
use serde_json::{json, Value};

use crate::api::Api;

crate::tests!(
    volumes_claimed_by_containers,
    disk_usage_shape,
    rmi_removes_untagged_parents,
    check_finds_and_repairs_leftover_processes,
);

/// A created container claims its volumes: `volume rm` (with `force` too)
/// is a conflict naming it, `volume prune` leaves them; once the container
/// goes (`v=1`), its anonymous volume goes with it and the named one can be
/// removed.
async fn volumes_claimed_by_containers(api: &Api) {
    crate::shapes::import_image(api, "rt-vol").await;
    let a = api
        .post_json(
            "/containers/create?name=rt-vol-user",
            &json!({"Image": "rt-vol", "Volumes": {"/anon": {}},
                    "HostConfig": {"Binds": ["rt-named:/data"]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let id = a.json()["Id"].as_str().expect("Id").to_string();
    let inspect = api.get(format!("/containers/{id}/json")).await.json();
    let anon = inspect["Mounts"]
        .as_array()
        .expect("Mounts")
        .iter()
        .find(|m| m["Destination"] == "/anon")
        .and_then(|m| m["Name"].as_str())
        .expect("anonymous volume")
        .to_string();

    for path in ["/volumes/rt-named", "/volumes/rt-named?force=1"] {
        let a = api.delete(path).await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{path}: {}", a.text());
        assert_eq!(
            a.message(),
            format!("remove rt-named: volume is in use - [{id}]")
        );
    }
    let free = api
        .post_json(
            "/volumes/create",
            &json!({"Name": "rt-free-anon", "Labels": {"com.docker.volume.anonymous": ""}}),
        )
        .await;
    assert_eq!(free.status, StatusCode::CREATED, "{}", free.text());
    let a = api.post("/volumes/prune").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(
        a.json(),
        json!({"VolumesDeleted": ["rt-free-anon"], "SpaceReclaimed": 0})
    );
    let a = api
        .post("/volumes/prune?filters=%7B%22all%22%3A%5B%22x%22%5D%7D")
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(
        a.message(),
        "invalid filter 'all': strconv.ParseBool: parsing \"x\": invalid syntax"
    );
    let a = api
        .get(format!(
            "/volumes?{}",
            crate::api::filters(&[("dangling", "true")])
        ))
        .await;
    let dangling = a.sorted_names("/Volumes");
    assert!(
        !dangling.contains(&anon) && !dangling.contains(&"rt-named".to_string()),
        "{dangling:?}"
    );

    let a = api.delete(format!("/containers/{id}?v=1")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text());
    assert_eq!(
        api.get(format!("/volumes/{anon}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.delete("/volumes/rt-named").await.status,
        StatusCode::NO_CONTENT
    );
    let a = api.delete("/volumes/rt-named").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
    assert_eq!(a.message(), "get rt-named: no such volume");
    assert_eq!(
        api.delete("/volumes/rt-named?force=1").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-vol").await.status, StatusCode::OK);
}

/// `GET /system/df`: Docker's members, with the counts that tie images,
/// containers and volumes together.
async fn disk_usage_shape(api: &Api) {
    crate::shapes::import_image(api, "rt-df").await;
    let a = api
        .post_json(
            "/containers/create?name=rt-df-user",
            &json!({"Image": "rt-df", "HostConfig": {"Binds": ["rt-df-vol:/data"]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let id = a.json()["Id"].as_str().expect("Id").to_string();
    let df = api.get("/system/df").await;
    assert_eq!(df.status, StatusCode::OK, "{}", df.text());
    let keys = df.keys();
    let df = df.json();
    assert_eq!(
        keys,
        [
            "LayersSize",
            "Images",
            "Containers",
            "Volumes",
            "BuildCache"
        ]
    );
    let find = |list: &str, key: &str, want: &str| -> Value {
        df[list]
            .as_array()
            .expect("list")
            .iter()
            .find(|v| v[key].as_str().is_some_and(|s| s.contains(want)))
            .cloned()
            .unwrap_or_else(|| panic!("no {want} in {list}: {df}"))
    };
    let image = find("Images", "Id", "sha256:");
    let image = find("Images", "Id", image["Id"].as_str().unwrap_or_default());
    assert!(
        image["Size"].as_u64().is_some() && image["SharedSize"] == 0,
        "{image}"
    );
    let ours = df["Images"]
        .as_array()
        .expect("Images")
        .iter()
        .find(|i| i["RepoTags"] == json!(["rt-df:latest"]))
        .unwrap_or_else(|| panic!("no rt-df in {df}"));
    assert_eq!(ours["Containers"], 1, "{ours}");
    let container = find("Containers", "Id", &id);
    assert_eq!(container["SizeRw"], 0, "{container}");
    assert_eq!(container["Names"], json!(["/rt-df-user"]));
    let volume = find("Volumes", "Name", "rt-df-vol");
    assert_eq!(volume["UsageData"], json!({"Size": 0, "RefCount": 1}));
    assert!(df["LayersSize"].as_u64().is_some_and(|n| n >= 6), "{df}");
    assert_eq!(df["BuildCache"], json!([]));
    assert_eq!(
        api.delete(format!("/containers/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/volumes/rt-df-vol").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-df").await.status, StatusCode::OK);
}

async fn build(api: &Api, tag: &str, dockerfile: &str) -> String {
    let a = api
        .call(
            "POST",
            format!("/build?t={tag}"),
            Some("application/x-tar"),
            crate::build::context_tar(dockerfile),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let i = api.get(format!("/images/{tag}/json")).await.json();
    i["Id"].as_str().expect("Id").to_string()
}

/// `rmi` of a built image removes its untagged intermediate parents too,
/// stopping at a tagged one; `noprune=1` keeps them.
async fn rmi_removes_untagged_parents(api: &Api) {
    crate::shapes::import_image(api, "rt-rmi-base").await;
    let base = api.get("/images/rt-rmi-base/json").await.json()["Id"].clone();
    let dockerfile = "FROM rt-rmi-base\nLABEL one=1\nLABEL two=2\n";
    let top = build(api, "rt-rmi", dockerfile).await;
    let parent = api.get(format!("/images/{top}/json")).await.json()["Parent"].clone();
    let parent = parent.as_str().expect("Parent").to_string();
    assert!(
        parent.starts_with("sha256:") && json!(parent) != base,
        "{parent}"
    );

    let a = api.delete("/images/rt-rmi").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(
        a.json(),
        json!([{"Untagged": "rt-rmi:latest"}, {"Deleted": top}, {"Deleted": parent}])
    );
    // The tagged base stays.
    assert_eq!(
        api.get("/images/rt-rmi-base/json").await.status,
        StatusCode::OK
    );

    let top = build(api, "rt-rmi", dockerfile).await;
    let parent = api.get(format!("/images/{top}/json")).await.json()["Parent"].clone();
    let a = api.delete("/images/rt-rmi?noprune=1").await;
    assert_eq!(
        a.json(),
        json!([{"Untagged": "rt-rmi:latest"}, {"Deleted": top}])
    );
    let parent = parent.as_str().expect("Parent");
    assert_eq!(
        api.get(format!("/images/{parent}/json")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.delete(format!("/images/{parent}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.delete("/images/rt-rmi-base").await.status,
        StatusCode::OK
    );
}

/// The `(Object, Message, Repaired)` of `system check`'s problems about
/// `objects`.
async fn problems_about(api: &Api, query: &str, objects: &[&str]) -> Vec<Value> {
    let a = api.post(format!("/system/check?{query}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let mut found: Vec<Value> = a.json()["Problems"]
        .as_array()
        .expect("Problems")
        .iter()
        .filter(|p| objects.iter().any(|o| p["Object"] == *o))
        .map(|p| json!([p["Object"], p["Message"], p["Repaired"]]))
        .collect();
    found.sort_by_key(|p| p.to_string());
    found
}

/// Processes left in the cgroup of an exited container, and a cgroup no
/// container owns (what a daemon killed mid-start leaves): `system check`
/// names them, `--repair` kills the processes and removes the cgroups.
async fn check_finds_and_repairs_leftover_processes(api: &Api) {
    crate::shapes::import_image(api, "rt-check").await;
    let a = api
        .post_json(
            "/containers/create?name=rt-check",
            &json!({"Image": "rt-check", "Cmd": ["true"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let id = a.json()["Id"].as_str().expect("Id").to_string();
    assert_eq!(
        api.post("/containers/rt-check/start").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.post("/containers/rt-check/wait").await.status,
        StatusCode::OK
    );
    let stray = api.runtime.leave_stray(&id);
    let unowned = "0000feedface";
    api.runtime.leave_stray(unowned);
    let container = format!("container {id}");
    let cgroup = format!("cgroup {}/{unowned}", api.engine.config.cgroup_parent);
    let objects = [container.as_str(), cgroup.as_str()];
    let found = |repaired: bool| {
        vec![
            json!([cgroup, "no container owns it", repaired]),
            json!([
                container,
                "stopped, but 1 processes run in its cgroup",
                repaired
            ]),
        ]
    };
    assert_eq!(problems_about(api, "", &objects).await, found(false));
    assert!(
        api.runtime.alive(stray),
        "a check without --repair kills nothing"
    );
    assert_eq!(problems_about(api, "repair=1", &objects).await, found(true));
    assert!(!api.runtime.alive(stray));
    assert_eq!(problems_about(api, "", &objects).await, Vec::<Value>::new());
    assert_eq!(
        api.delete("/containers/rt-check").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-check").await.status, StatusCode::OK);
}
