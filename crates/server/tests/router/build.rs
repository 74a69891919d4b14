//! `POST /build` answers that need no container: compressed contexts and
//! metadata-only Dockerfiles.

use axum::http::StatusCode;

use crate::api::Api;

crate::tests!(compressed_build_contexts);

/// A build context holding only `Dockerfile`.
pub fn context_tar(dockerfile: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .expect("tar");
    tar.into_inner().expect("tar")
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
