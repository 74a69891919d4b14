//! `/_ping`, `/version`, `/info`, `/system/df`, and berth's own
//! `/system/check` (no Docker client calls it: Docker has no such route).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_api::system::{Platform, VersionComponent, VersionInfo};
use berth_api::ApiVersion;
use berth_engine::Engine;
use serde_json::json;

use crate::error::{ApiError, ApiResult};

pub fn router() -> Router<Engine> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/system/df", get(df))
        .route("/system/check", axum::routing::post(check))
        .route("/auth", axum::routing::post(auth))
}

/// `POST /system/check?deep=1&repair=1`: `{"Problems": [{"Object",
/// "Message", "Repaired"}]}`.
async fn check(
    State(engine): State<Engine>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let params = crate::params::Params::parse(q.as_deref());
    let opts = berth_engine::check::CheckOptions {
        deep: params.flag("deep"),
        repair: params.flag("repair"),
    };
    match berth_engine::check::check(&engine, opts).await {
        Ok(problems) => Json(berth_api::system::CheckReport {
            problems: problems
                .into_iter()
                .map(|p| berth_api::system::Problem {
                    object: p.object,
                    message: p.message,
                    repaired: p.repaired,
                })
                .collect(),
        })
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn ping() -> Response {
    let mut r = (StatusCode::OK, "OK").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn version_info() -> VersionInfo {
    let version = env!("CARGO_PKG_VERSION").to_string();
    VersionInfo {
        platform: Platform {
            name: "Berth Engine".into(),
        },
        components: vec![VersionComponent {
            name: "Engine".into(),
            version: version.clone(),
            details: json!({
                "ApiVersion": ApiVersion::CURRENT.to_string(),
                "MinAPIVersion": ApiVersion::MIN.to_string(),
                "Os": "linux",
                "Arch": "amd64",
                "KernelVersion": kernel_version(),
            }),
        }],
        version,
        api_version: ApiVersion::CURRENT.to_string(),
        min_api_version: ApiVersion::MIN.to_string(),
        git_commit: option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown").into(),
        go_version: "n/a (Rust)".into(),
        os: "linux".into(),
        arch: std::env::consts::ARCH
            .replace("x86_64", "amd64")
            .replace("aarch64", "arm64"),
        kernel_version: kernel_version(),
        build_time: String::new(),
    }
}

async fn version() -> Json<VersionInfo> {
    Json(version_info())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<u64>().ok())
                })
        })
        .map_or(0, |kb| kb * 1024)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

async fn info(State(engine): State<Engine>) -> Response {
    let (total, running, stopped) = engine.containers.counts();
    let images = engine.images.list().await.map(|l| l.len()).unwrap_or(0);
    let paths = &engine.config.paths;
    let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let rootless = engine.config.rootless.as_ref();
    let cg = berth_engine::system::cgroup_features(&engine.config);
    let mut security = vec!["name=seccomp,profile=builtin"];
    if rootless.is_some() {
        security.push("name=rootless");
    }
    if engine.config.userns_remap.is_some() {
        security.push("name=userns");
    }
    if berth_engine::system::cgroup_version() == "2" {
        security.push("name=cgroupns");
    }
    let mut driver_status = vec![list(&["Backing Filesystem", "extfs"])];
    let fuse = engine.config.fuse_overlay;
    match (fuse, rootless.is_some()) {
        (true, _) => driver_status.push(list(&["Mount", "fuse-overlayfs"])),
        (false, true) => driver_status.push(list(&[
            "Mount",
            "kernel overlayfs in the user namespace (userxattr)",
        ])),
        (false, false) => {}
    }
    let info = berth_api::system::Info {
        id: engine.id.to_string(),
        containers: total as i64,
        containers_running: running as i64,
        containers_paused: 0,
        containers_stopped: stopped as i64,
        images: images as i64,
        driver: if fuse { "fuse-overlayfs" } else { "overlay" }.into(),
        driver_status,
        plugins: berth_api::system::Plugins {
            volume: list(&["local"]),
            network: list(&["bridge", "host", "null"]),
            authorization: None,
            log: list(&["json-file", "local"]),
        },
        memory_limit: cg.memory_limit,
        swap_limit: cg.swap_limit,
        cpu_cfs_period: cg.cpu_cfs_period,
        cpu_cfs_quota: cg.cpu_cfs_quota,
        cpu_shares: cg.cpu_shares,
        cpu_set: cg.cpuset,
        pids_limit: cg.pids_limit,
        oom_kill_disable: cg.oom_kill_disable,
        ipv4_forwarding: berth_engine::system::ipv4_forwarding(),
        debug: false,
        n_fd: 0,
        n_goroutines: 0,
        system_time: berth_engine::time::now(),
        logging_driver: "json-file".into(),
        cgroup_driver: "cgroupfs".into(),
        cgroup_version: berth_engine::system::cgroup_version().into(),
        n_events_listener: 0,
        kernel_version: kernel_version(),
        operating_system: os_name(),
        os_version: String::new(),
        os_type: "linux".into(),
        architecture: std::env::consts::ARCH.into(),
        index_server_address: "https://index.docker.io/v1/".into(),
        registry_config: berth_api::system::RegistryConfig {
            index_configs: Default::default(),
            insecure_registry_cidrs: list(&["127.0.0.0/8"]),
            mirrors: Vec::new(),
        },
        ncpu: std::thread::available_parallelism().map_or(1, |n| n.get() as i64),
        mem_total: i64::try_from(mem_total()).unwrap_or(i64::MAX),
        docker_root_dir: paths.root.display().to_string(),
        name: hostname(),
        labels: Vec::new(),
        experimental_build: false,
        server_version: env!("CARGO_PKG_VERSION").into(),
        runtimes: [("berth".to_string(), json!({"path": "berth __monitor"}))].into(),
        default_runtime: "berth".into(),
        swarm: berth_api::system::SwarmInfo {
            local_node_state: "inactive".into(),
            ..Default::default()
        },
        live_restore_enabled: false,
        isolation: String::new(),
        init_binary: String::new(),
        security_options: security.into_iter().map(str::to_string).collect(),
        warnings: rootless
            .map(|r| r.warnings.clone())
            .filter(|w| !w.is_empty()),
        extra: Default::default(),
    };
    Json(info).into_response()
}

/// `GET /system/df`: images, containers, volumes and their sizes.
async fn df(State(engine): State<Engine>) -> ApiResult<Response> {
    let usage = engine.disk_usage().await?;
    use berth_api::system::{ContainerUsage, DiskUsage, UsageData, VolumeUsage};
    let images = usage
        .images
        .iter()
        .map(|u| berth_api::image::ImageSummary {
            shared_size: 0,
            containers: u.containers as i64,
            ..crate::routes::images::summary(&u.image)
        })
        .collect();
    let containers = usage
        .containers
        .into_iter()
        .map(|u| ContainerUsage {
            container: u.container,
            size_rw: i64::try_from(u.size_rw).unwrap_or(i64::MAX),
        })
        .collect();
    let volumes = usage
        .volumes
        .into_iter()
        .map(|u| VolumeUsage {
            volume: u.volume,
            usage_data: UsageData {
                size: i64::try_from(u.size).unwrap_or(i64::MAX),
                ref_count: u.ref_count as i64,
            },
        })
        .collect();
    Ok(Json(DiskUsage {
        layers_size: i64::try_from(usage.layers_size).unwrap_or(i64::MAX),
        images,
        containers,
        volumes,
        build_cache: Vec::new(),
    })
    .into_response())
}

/// `POST /auth`: checks credentials against the registry (`docker login`).
async fn auth(
    State(engine): State<Engine>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let req: berth_api::auth::AuthConfig = match crate::json_body::read_or_default(&headers, &body)
    {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match berth_engine::login::login(
        &engine.images,
        &req.serveraddress,
        &req.username,
        &req.password,
    )
    .await
    {
        Ok(()) => Json(berth_api::auth::AuthResponse {
            status: "Login Succeeded".into(),
            identity_token: String::new(),
        })
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
