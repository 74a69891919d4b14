//! A container's life through the router, its processes played by the
//! in-memory runtime: start, wait, logs, stop, kill, restart, remove, with
//! the status codes and bodies Docker answers.

use axum::http::StatusCode;
use serde_json::json;

use crate::api::Api;

crate::tests!(
    start_wait_logs_and_exit_codes,
    stop_kill_restart_and_remove,
    pause_stats_and_update,
    detached_execs,
);

async fn create(api: &Api, name: &str, cmd: &[&str]) -> String {
    let a = api
        .post_json(
            &format!("/containers/create?name={name}"),
            &json!({"Image": "rt-life", "Cmd": cmd}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    a.json()["Id"].as_str().expect("Id").to_string()
}

async fn state(api: &Api, name: &str) -> serde_json::Value {
    api.get(format!("/containers/{name}/json")).await.json()["State"].clone()
}

/// The payloads of a multiplexed log stream, with the client's demuxer.
fn demux(body: &[u8]) -> String {
    let mut d = berth_client::demux::Demuxer::default();
    d.feed(body);
    let mut out = Vec::new();
    while let Some((_, data)) = d.next_frame() {
        out.extend_from_slice(&data);
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn start_wait_logs_and_exit_codes(api: &Api) {
    crate::shapes::import_image(api, "rt-life").await;
    create(api, "rt-echo", &["echo", "hello", "router"]).await;
    let a = api.post("/containers/rt-echo/start").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text());
    let w = api.post("/containers/rt-echo/wait").await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text());
    // No `Error` member without an error, as Docker (omitempty).
    assert_eq!(w.json(), json!({"StatusCode": 0}));
    let s = state(api, "rt-echo").await;
    assert_eq!(
        (s["Status"].as_str(), s["ExitCode"].as_i64()),
        (Some("exited"), Some(0)),
        "{s}"
    );
    let logs = api.get("/containers/rt-echo/logs?stdout=1").await;
    assert_eq!(logs.status, StatusCode::OK);
    assert_eq!(demux(&logs.body), "hello router\n");
    // A second start of an exited container runs it again.
    assert_eq!(
        api.post("/containers/rt-echo/start").await.status,
        StatusCode::NO_CONTENT
    );
    api.post("/containers/rt-echo/wait").await;
    let logs = api.get("/containers/rt-echo/logs?stdout=1").await;
    assert_eq!(demux(&logs.body), "hello router\nhello router\n");

    create(api, "rt-false", &["false"]).await;
    api.post("/containers/rt-false/start").await;
    let w = api.post("/containers/rt-false/wait").await.json();
    assert_eq!(w["StatusCode"], 1);
    for name in ["rt-echo", "rt-false"] {
        assert_eq!(
            api.delete(format!("/containers/{name}")).await.status,
            StatusCode::NO_CONTENT
        );
    }
}

async fn stop_kill_restart_and_remove(api: &Api) {
    crate::shapes::import_image(api, "rt-life").await;
    create(api, "rt-sleep", &["sleep", "1000"]).await;
    assert_eq!(
        api.post("/containers/rt-sleep/start").await.status,
        StatusCode::NO_CONTENT
    );
    let s = state(api, "rt-sleep").await;
    assert_eq!(s["Status"], "running", "{s}");
    assert!(
        s["Pid"].as_i64().is_some_and(|p| p > 4_194_304),
        "a fake pid: {s}"
    );
    // Started twice: Docker's 304.
    assert_eq!(
        api.post("/containers/rt-sleep/start").await.status,
        StatusCode::NOT_MODIFIED
    );
    // Removing a running container needs force.
    let a = api.delete("/containers/rt-sleep").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    assert!(
        a.message()
            .contains("stop the container before removing or force remove"),
        "{}",
        a.message()
    );
    // stop: SIGTERM ends it (128 + 15).
    assert_eq!(
        api.post("/containers/rt-sleep/stop?t=5").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(state(api, "rt-sleep").await["ExitCode"], 143);
    assert_eq!(
        api.post("/containers/rt-sleep/stop").await.status,
        StatusCode::NOT_MODIFIED
    );
    // restart, then kill with a named signal.
    assert_eq!(
        api.post("/containers/rt-sleep/restart?t=1").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(state(api, "rt-sleep").await["Status"], "running");
    assert_eq!(
        api.post("/containers/rt-sleep/kill?signal=SIGINT")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let w = api
        .post("/containers/rt-sleep/wait?condition=not-running")
        .await
        .json();
    assert_eq!(w["StatusCode"], 130);
    let a = api.post("/containers/rt-sleep/kill").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    assert_eq!(
        a.message(),
        format!(
            "Container {} is not running",
            state_id(api, "rt-sleep").await
        )
    );
    // Force removal of a running one.
    api.post("/containers/rt-sleep/start").await;
    assert_eq!(
        api.delete("/containers/rt-sleep?force=1").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/containers/rt-sleep/json").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.delete("/images/rt-life").await.status, StatusCode::OK);
}

async fn state_id(api: &Api, name: &str) -> String {
    api.get(format!("/containers/{name}/json")).await.json()["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The cgroup side through the runtime seam: pause and unpause (a signal
/// to a paused container waits for the thaw), stats, live updates.
async fn pause_stats_and_update(api: &Api) {
    crate::shapes::import_image(api, "rt-life").await;
    let id = create(api, "rt-pause", &["sleep", "1000"]).await;
    assert_eq!(
        api.post("/containers/rt-pause/start").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.post("/containers/rt-pause/pause").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(state(api, "rt-pause").await["Status"], "paused");
    let a = api.post("/containers/rt-pause/pause").await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.message(), format!("Container {id} is already paused"));
    assert_eq!(
        api.post("/containers/rt-pause/unpause").await.status,
        StatusCode::NO_CONTENT
    );
    let a = api.post("/containers/rt-pause/unpause").await;
    assert_eq!(a.message(), format!("Container {id} is not paused"));
    let s = api
        .get("/containers/rt-pause/stats?stream=0&one-shot=1")
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text());
    let s = s.json();
    for k in [
        "read",
        "cpu_stats",
        "memory_stats",
        "pids_stats",
        "blkio_stats",
        "name",
        "id",
    ] {
        assert!(s.get(k).is_some(), "stats have {k}: {s}");
    }
    let u = api
        .post_json("/containers/rt-pause/update", &json!({"Memory": 67108864}))
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text());
    assert_eq!(u.json(), json!({"Warnings": []}));
    let hc = api.get("/containers/rt-pause/json").await.json()["HostConfig"].clone();
    assert_eq!(hc["Memory"], 67108864);
    let top = api.get("/containers/rt-pause/top").await;
    assert_eq!(top.status, StatusCode::OK, "{}", top.text());
    let top = top.json();
    assert_eq!(top["Titles"], json!(["UID", "PID", "PPID", "CMD"]));
    assert_eq!(top["Processes"].as_array().map(Vec::len), Some(1), "{top}");
    // Paused, then stopped: the stop thaws it so the signal lands.
    api.post("/containers/rt-pause/pause").await;
    assert_eq!(
        api.post("/containers/rt-pause/stop?t=5").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(state(api, "rt-pause").await["ExitCode"], 143);
    assert_eq!(
        api.delete("/containers/rt-pause").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-life").await.status, StatusCode::OK);
}

/// `exec` through the runtime seam: created against a running container,
/// started detached, its exit code in exec inspect and its id in the
/// container's `ExecIDs`; Docker's errors for an empty command and for a
/// container that does not run.
async fn detached_execs(api: &Api) {
    crate::shapes::import_image(api, "rt-life").await;
    create(api, "rt-exec", &["sleep", "1000"]).await;
    assert_eq!(
        api.post("/containers/rt-exec/start").await.status,
        StatusCode::NO_CONTENT
    );
    let a = api
        .post_json("/containers/rt-exec/exec", &json!({"Cmd": ["false"]}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let id = a.json()["Id"].as_str().expect("Id").to_string();
    let inspect = || api.get(format!("/exec/{id}/json"));
    let before = inspect().await.json();
    assert_eq!(
        (&before["Running"], &before["ExitCode"]),
        (&json!(false), &json!(null)),
        "{before}"
    );
    let a = api
        .post_json(&format!("/exec/{id}/start"), &json!({"Detach": true}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let mut after = inspect().await.json();
    for _ in 0..100 {
        if after["ExitCode"].is_number() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        after = inspect().await.json();
    }
    assert_eq!(
        (&after["Running"], &after["ExitCode"]),
        (&json!(false), &json!(1)),
        "{after}"
    );
    let c = api.get("/containers/rt-exec/json").await.json();
    assert_eq!(c["ExecIDs"], json!([id]), "{c}");
    // Started twice: Docker's conflict.
    let again = api
        .post_json(&format!("/exec/{id}/start"), &json!({"Detach": true}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());

    let a = api
        .post_json("/containers/rt-exec/exec", &json!({"Cmd": []}))
        .await;
    assert_eq!(
        (a.status, a.message()),
        (StatusCode::BAD_REQUEST, "No exec command specified".into())
    );
    assert_eq!(
        api.post("/containers/rt-exec/kill").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.post("/containers/rt-exec/wait").await.status,
        StatusCode::OK
    );
    let a = api
        .post_json("/containers/rt-exec/exec", &json!({"Cmd": ["true"]}))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    assert!(a.message().ends_with("is not running"), "{}", a.text());
    assert_eq!(
        api.delete("/containers/rt-exec").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-life").await.status, StatusCode::OK);
}
