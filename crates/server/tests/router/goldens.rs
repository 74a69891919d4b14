//! One golden answer per resource: container (inspect and list entry),
//! image (inspect, list entry, history), network, volume, exec, `system
//! df`, and the keys of `info` and `version`. Ids, digests, times, fake
//! pids, how long a container has been up and the engine's temporary root
//! are replaced by placeholders first; everything else must match the file in `golden/` exactly. On a
//! mismatch the failure prints the new answer, to be reviewed and pasted.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::api::Api;

crate::tests!(golden_answers);

/// Keys whose numbers change from run to run.
const VOLATILE_NUMBERS: &[&str] = &["Created", "Pid"];

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `s` with the root, ids and times replaced.
fn normal_str(s: &str, root: &str) -> String {
    if berth_engine::time::parse(s).is_some() {
        return "<time>".into();
    }
    let s = s.replace(root, "<root>");
    // 64-hex ids and digests anywhere; a 12-hex short id standing alone.
    let mut out = String::new();
    let mut rest = s.as_str();
    let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    while let Some(i) = rest.find(lower_hex) {
        out.push_str(&rest[..i]);
        let run = rest[i..]
            .find(|c: char| !lower_hex(c))
            .unwrap_or(rest.len() - i);
        let word = &rest[i..i + run];
        out.push_str(if run == 64 { "<id>" } else { word });
        rest = &rest[i + run..];
    }
    out.push_str(rest);
    if out.len() == 12 && is_hex(&out) {
        return "<short>".into();
    }
    out
}

fn normalise(v: &mut Value, root: &str) {
    match v {
        Value::String(s) => *s = normal_str(s, root),
        Value::Array(a) => a.iter_mut().for_each(|x| normalise(x, root)),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if VOLATILE_NUMBERS.contains(&k.as_str()) && x.is_number() {
                    *x = json!("<n>");
                } else if k == "Status" && x.as_str().is_some_and(|s| s.starts_with("Up ")) {
                    // `Up Less than a second`, `Up 2 seconds`, ...
                    *x = json!("Up <for>");
                } else {
                    normalise(x, root);
                }
            }
        }
        _ => {}
    }
}

/// The 200 answer at `path`, normalised, against `golden` (its text).
async fn check(api: &Api, path: &str, golden: Golden, failures: &mut Vec<String>) {
    let a = api.get(path).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text());
    let mut got = a.json();
    normalise(&mut got, &api.root().display().to_string());
    compare(got, golden, failures);
}

/// A golden file: its name in `golden/` and its text.
type Golden = (&'static str, &'static str);

macro_rules! golden {
    ($name:literal) => {
        ($name, include_str!(concat!("golden/", $name)))
    };
}

fn compare(got: Value, (name, text): Golden, failures: &mut Vec<String>) {
    let want: Value = serde_json::from_str(text).expect("golden JSON");
    if got != want {
        failures.push(format!(
            "golden/{name} differs; the answer now:\n{}\n--- end of {name}",
            serde_json::to_string_pretty(&got).unwrap_or_default()
        ));
    }
}

/// The keys of the object at `path`.
async fn keys(api: &Api, path: &str) -> Value {
    let a = api.get(path).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text());
    json!(a.keys())
}

async fn golden_answers(api: &Api) {
    crate::shapes::import_image(api, "rt-golden").await;
    let a = api
        .post_json(
            "/networks/create",
            &json!({"Name": "rt-golden-net", "Labels": {"tier": "golden"},
                    "IPAM": {"Config": [{"Subnet": "10.231.7.0/24", "Gateway": "10.231.7.1"}]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a = api
        .post_json(
            "/volumes/create",
            &json!({"Name": "rt-golden-vol", "Labels": {"tier": "golden"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a = api
        .post_json(
            "/containers/create?name=rt-golden-c",
            &json!({
                "Image": "rt-golden",
                "Cmd": ["sleep", "1000"],
                "Env": ["TIER=golden"],
                "Labels": {"tier": "golden"},
                "HostConfig": {
                    "Binds": ["rt-golden-vol:/data"],
                    "NetworkMode": "rt-golden-net",
                    "Memory": 67108864
                }
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());

    let mut failures = Vec::new();
    let f = &mut failures;
    check(
        api,
        "/containers/rt-golden-c/json",
        golden!("container.json"),
        f,
    )
    .await;
    check(
        api,
        &format!(
            "/containers/json?all=1&{}",
            crate::api::filters(&[("name", "rt-golden-c")])
        ),
        golden!("containers.json"),
        f,
    )
    .await;
    check(api, "/images/rt-golden/json", golden!("image.json"), f).await;
    check(
        api,
        &format!(
            "/images/json?{}",
            crate::api::filters(&[("reference", "rt-golden")])
        ),
        golden!("images.json"),
        f,
    )
    .await;
    check(api, "/images/rt-golden/history", golden!("history.json"), f).await;
    check(api, "/networks/rt-golden-net", golden!("network.json"), f).await;
    check(api, "/volumes/rt-golden-vol", golden!("volume.json"), f).await;

    assert_eq!(
        api.post("/containers/rt-golden-c/start").await.status,
        StatusCode::NO_CONTENT
    );
    let a = api
        .post_json(
            "/containers/rt-golden-c/exec",
            &json!({"Cmd": ["true"], "Env": ["X=1"], "WorkingDir": "/data"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let exec = a.json()["Id"].as_str().expect("Id").to_string();
    check(api, &format!("/exec/{exec}/json"), golden!("exec.json"), f).await;
    check(api, "/system/df", golden!("df.json"), f).await;
    let info_keys = keys(api, "/info").await;
    compare(info_keys, golden!("info-keys.json"), f);
    let version_keys = keys(api, "/version").await;
    compare(version_keys, golden!("version-keys.json"), f);

    assert_eq!(
        api.delete("/containers/rt-golden-c?force=1").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/volumes/rt-golden-vol").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/networks/rt-golden-net").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.delete("/images/rt-golden").await.status, StatusCode::OK);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
