//! `POST /build` through the router: compressed contexts, metadata-only
//! Dockerfiles, and a multi-stage plan run over the in-memory host (RUN
//! by the fake runtime, `COPY --from` over copied image trees).

use std::collections::BTreeMap;
use std::io::Read;

use axum::http::StatusCode;
use serde_json::Value;

use crate::api::Api;

crate::tests!(compressed_build_contexts, multi_stage_plan_over_fakes);

/// A build context holding only `Dockerfile`.
pub fn context_tar(dockerfile: &str) -> Vec<u8> {
    context_with(&[("Dockerfile", dockerfile)])
}

/// A build context of `(path, content)` files.
fn context_with(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, content.as_bytes())
            .expect("tar");
    }
    tar.into_inner().expect("tar")
}

/// The files (path to content) and directories (path to `"dir"`) of each
/// layer of a `docker save` archive of one image, lowest layer first.
fn saved_layers(archive: &[u8]) -> Vec<BTreeMap<String, String>> {
    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut outer = tar::Archive::new(archive);
    for entry in outer.entries().expect("save archive") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        members.insert(path, data);
    }
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).expect("manifest");
    let layers = manifest[0]["Layers"].as_array().expect("Layers");
    layers
        .iter()
        .map(|l| {
            let blob = &members[l.as_str().expect("layer path")];
            let mut files = BTreeMap::new();
            for entry in tar::Archive::new(blob.as_slice()).entries().expect("layer") {
                let mut entry = entry.expect("entry");
                let path = entry.path().expect("path").display().to_string();
                let path = path.trim_end_matches('/').to_string();
                let mut text = String::new();
                match entry.header().entry_type() {
                    tar::EntryType::Directory => text.push_str("dir"),
                    _ => {
                        entry.read_to_string(&mut text).expect("text");
                    }
                }
                files.insert(path, text);
            }
            files
        })
        .collect()
}

/// Two stages: the first COPYs from the context, RUNs (the fake runtime
/// writes a file into the step's writable layer) and sets WORKDIR; the
/// second takes the first's tree with `COPY --from`. Each step's layer
/// holds exactly its own files; the history names the steps.
async fn multi_stage_plan_over_fakes(api: &Api) {
    crate::shapes::import_image(api, "rt-plan-base").await;
    let dockerfile = "FROM rt-plan-base AS first\n\
                      COPY greeting.txt /srv/\n\
                      RUN [\"write\", \"/srv/ran\", \"by\", \"RUN\"]\n\
                      WORKDIR /srv/work\n\
                      FROM rt-plan-base\n\
                      COPY --from=first /srv /copied\n";
    let context = context_with(&[("Dockerfile", dockerfile), ("greeting.txt", "hi\n")]);
    let a = api
        .call(
            "POST",
            "/build?t=rt-plan&t=rt-plan-extra",
            Some("application/x-tar"),
            context,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(
        !a.text().contains("errorDetail")
            && a.text().contains("Successfully tagged rt-plan:latest"),
        "{}",
        a.text()
    );
    let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    };
    let base = files(&[("hello", "hello\n")]);

    // The first stage's image: built alone (`target=first`), every step
    // from the cache the whole build left.
    let first = api
        .call(
            "POST",
            "/build?t=rt-plan-first&target=first",
            Some("application/x-tar"),
            context_with(&[("Dockerfile", dockerfile), ("greeting.txt", "hi\n")]),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert!(first.text().contains("Using cache"), "{}", first.text());
    let saved = api.get("/images/rt-plan-first/get").await;
    assert_eq!(saved.status, StatusCode::OK);
    assert_eq!(
        saved_layers(&saved.body),
        [
            base.clone(),
            files(&[("srv", "dir"), ("srv/greeting.txt", "hi\n")]),
            files(&[("srv", "dir"), ("srv/ran", "by RUN\n")]),
            files(&[("srv", "dir"), ("srv/work", "dir")]),
        ]
    );
    let config = api.get("/images/rt-plan-first/json").await.json();
    assert_eq!(config["Config"]["WorkingDir"], "/srv/work", "{config}");

    let saved = api.get("/images/rt-plan/get").await;
    assert_eq!(saved.status, StatusCode::OK);
    assert_eq!(
        saved_layers(&saved.body),
        [
            base,
            files(&[
                ("copied", "dir"),
                ("copied/greeting.txt", "hi\n"),
                ("copied/ran", "by RUN\n"),
                ("copied/work", "dir"),
            ]),
        ]
    );
    let history = api.get("/images/rt-plan/history").await.json();
    let steps: Vec<&str> = history
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["CreatedBy"].as_str())
        .collect();
    assert!(
        steps[0].contains("COPY") && steps[0].contains("/copied"),
        "{steps:?}"
    );
    for name in ["rt-plan", "rt-plan-extra", "rt-plan-first", "rt-plan-base"] {
        let a = api.delete(format!("/images/{name}")).await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text());
    }
}

/// docker-py gzips the context when asked (`gzip=True`); dockerd reads
/// gzip, bzip2 and xz contexts as it reads plain ones.
async fn compressed_build_contexts(api: &Api) {
    crate::shapes::import_image(api, "rt-build-base").await;
    let plain = context_tar("FROM rt-build-base\nLABEL packed=yes\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &plain).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let a = api
        .call("POST", "/build?t=rt-gz", Some("application/x-tar"), gz)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(
        a.text().contains("Successfully tagged rt-gz:latest"),
        "{}",
        a.text()
    );
    let i = api.get("/images/rt-gz/json").await.json();
    assert_eq!(i["Config"]["Labels"]["packed"], "yes", "{i}");
    let a = api
        .call(
            "POST",
            "/build?t=rt-bad",
            Some("application/x-tar"),
            b"\x1f\x8bnot gzip".to_vec(),
        )
        .await;
    assert!(
        a.status == StatusCode::BAD_REQUEST || a.text().contains("errorDetail"),
        "a broken context is an error: {} {}",
        a.status,
        a.text()
    );
    for name in ["rt-gz", "rt-build-base"] {
        assert_eq!(
            api.delete(format!("/images/{name}")).await.status,
            StatusCode::OK,
            "{name}"
        );
    }
}
