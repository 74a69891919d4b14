//! A pull interrupted by a daemon crash: the daemon is killed (SIGKILL)
//! while one layer is half-way through a throttled download; the next pull
//! completes, leaves nothing half-written, and downloads no blob it had
//! already received in full.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{stderr, Ctx, TestFn};
use crate::registry::Registry;

pub const TESTS: &[(&str, TestFn)] = &[(
    "pull_resumes_after_daemon_kill",
    pull_resumes_after_daemon_kill,
)];

/// What the counting front saw.
#[derive(Default)]
struct Seen {
    /// Completed blob responses by digest.
    completed: Mutex<HashMap<String, u32>>,
    /// Blob GETs started, by digest.
    started: Mutex<HashMap<String, u32>>,
    /// Bytes of the throttled blob sent so far.
    throttled_sent: AtomicU64,
}

/// A plain HTTP front of a registry that counts blob downloads and sends
/// one chosen blob slowly.
struct CountingFront {
    addr: String,
    seen: Arc<Seen>,
    slow: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
}

impl CountingFront {
    fn start(backend: String) -> CountingFront {
        let seen = Arc::new(Seen::default());
        let slow = Arc::new(Mutex::new(None::<String>));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, sl) = (seen.clone(), slow.clone());
        let addr = crate::front::serve(stop.clone(), move |stream| {
            let _ = forward(stream, &backend, &s, &sl);
        });
        CountingFront {
            addr,
            seen,
            slow,
            stop,
        }
    }

    fn completed(&self, digest: &str) -> u32 {
        let c = self.seen.completed.lock().expect("lock");
        c.get(digest).copied().unwrap_or(0)
    }

    fn started(&self, digest: &str) -> u32 {
        let c = self.seen.started.lock().expect("lock");
        c.get(digest).copied().unwrap_or(0)
    }
}

impl Drop for CountingFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        *self.slow.lock().expect("lock") = None;
    }
}

/// Forwards one request (the connection is closed after it).
fn forward(
    mut client: TcpStream,
    backend: &str,
    seen: &Seen,
    slow: &Mutex<Option<String>>,
) -> std::io::Result<()> {
    let Some(req) = crate::front::Request::read(&mut client, Duration::from_secs(10))? else {
        return Ok(());
    };
    let (method, path) = (req.method.clone(), req.path.clone());
    let blob = (method == "GET")
        .then(|| path.split("/blobs/").nth(1).map(str::to_string))
        .flatten();
    if let Some(d) = &blob {
        *seen
            .started
            .lock()
            .expect("lock")
            .entry(d.clone())
            .or_default() += 1;
    }
    let response = req.forward(backend)?;
    let throttle = blob.is_some() && *slow.lock().expect("lock") == blob;
    if throttle {
        for piece in response.chunks(64 * 1024) {
            client.write_all(piece)?;
            seen.throttled_sent
                .fetch_add(piece.len() as u64, Ordering::Relaxed);
            if slow.lock().expect("lock").is_some() {
                // Time must pass here: the throttle that keeps the slow
                // blob in flight while the daemon is killed.
                std::thread::sleep(Duration::from_millis(40));
            }
        }
    } else {
        client.write_all(&response)?;
    }
    client.flush()?;
    if let Some(d) = blob {
        *seen.completed.lock().expect("lock").entry(d).or_default() += 1;
    }
    Ok(())
}

/// The layer blobs of a manifest in the registry, lowest first.
fn layer_digests(registry: &str, repo: &str, tag: &str) -> Vec<String> {
    let mut s = TcpStream::connect(registry).expect("registry");
    write!(
        s,
        "GET /v2/{repo}/manifests/{tag} HTTP/1.0\r\nAccept: application/vnd.docker.distribution.manifest.v2+json\r\n\r\n"
    )
    .expect("request");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("response");
    let text = String::from_utf8_lossy(&out).into_owned();
    let (_, body) = text.split_once("\r\n\r\n").expect("a body");
    let m: serde_json::Value = serde_json::from_str(body).expect("manifest json");
    let mut v: Vec<String> = m["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest").to_string())
        .collect();
    v.push(m["config"]["digest"].as_str().expect("config").to_string());
    v
}

fn pull_resumes_after_daemon_kill(ctx: &Ctx) {
    let backend = Registry::start(&ctx.dir.path().join("resume-registry"), None);
    // busybox, a 6 MB random layer, then a small one.
    let _ = ctx.berth(&["rm", "-f", "resume-a", "resume-b"]);
    ctx.ok(&[
        "run",
        "--name",
        "resume-a",
        "busybox",
        "sh",
        "-c",
        "head -c 6000000 /dev/urandom > /big",
    ]);
    ctx.ok(&["commit", "resume-a", "resume-big:1"]);
    ctx.ok(&[
        "run",
        "--name",
        "resume-b",
        "resume-big:1",
        "sh",
        "-c",
        "echo small > /small",
    ]);
    let remote = format!("{}/resume/app:1", backend.addr);
    ctx.ok(&["commit", "resume-b", &remote]);
    ctx.ok(&["rm", "resume-a", "resume-b"]);
    ctx.ok(&["push", &remote]);
    let sums = ctx.ok(&["run", "--rm", &remote, "md5sum", "/big"]);
    ctx.ok(&["rmi", &remote, "resume-big:1"]);

    let digests = layer_digests(&backend.addr, "resume/app", "1");
    assert_eq!(digests.len(), 4, "busybox, big, small, config: {digests:?}");
    let (big, small, config) = (&digests[1], &digests[2], &digests[3]);
    let front = CountingFront::start(backend.addr.clone());
    *front.slow.lock().expect("lock") = Some(big.clone());
    let via_front = format!("{}/resume/app:1", front.addr);

    let mut pull = std::process::Command::new(crate::harness::berth_bin())
        .args(["-H", &format!("unix://{}", ctx.socket.display())])
        .args(["pull", "-q", &via_front])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("berth pull");
    // Half way: the small layer and the config are in, the big one is streaming.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(front.completed(small) == 1
        && front.completed(config) == 1
        && front.seen.throttled_sent.load(Ordering::Relaxed) > 1_000_000)
    {
        assert!(
            Instant::now() < deadline,
            "the pull did not get half way (small {}, config {}, big {} bytes)",
            front.completed(small),
            front.completed(config),
            front.seen.throttled_sent.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        front.completed(big),
        0,
        "the big layer must still be in flight"
    );
    ctx.kill_daemon();
    let _ = pull.wait();
    *front.slow.lock().expect("lock") = None;
    ctx.start_daemon();

    let listed = ctx.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        !listed.contains("resume/app"),
        "a killed pull left an image: {listed}"
    );
    let downloads = ctx.root.join("image/downloads");
    let partials: Vec<_> = std::fs::read_dir(&downloads)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".partial"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        partials.is_empty(),
        "half-written downloads left: {partials:?}"
    );

    let out = ctx.berth(&["pull", &via_front]);
    assert!(
        out.status.success(),
        "the second pull failed: {}",
        stderr(&out)
    );
    for (what, d) in [("small layer", small), ("config", config)] {
        assert_eq!(
            front.started(d),
            1,
            "the {what} {d} was downloaded again after the crash"
        );
    }
    assert_eq!(
        front.completed(big),
        1,
        "the big layer is downloaded in full once"
    );
    assert_eq!(
        front.started(&digests[0]),
        0,
        "busybox's layer is present and must not be downloaded"
    );
    let again = ctx.ok(&[
        "run",
        "--rm",
        &via_front,
        "sh",
        "-c",
        "md5sum /big; cat /small",
    ]);
    assert!(
        again.starts_with(sums.trim()) && again.contains("small"),
        "the pulled image differs: {again} vs {sums}"
    );
    let left: Vec<_> = std::fs::read_dir(&downloads)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "downloads left after the pull: {left:?}");

    // The pulled gzip blobs are what a push sends (nothing is recompressed),
    // and what `save` decompresses.
    let second = Registry::start(&ctx.dir.path().join("resume-registry-2"), None);
    let copy = format!("{}/copy/app:1", second.addr);
    ctx.ok(&["tag", &via_front, &copy]);
    ctx.ok(&["push", &copy]);
    assert_eq!(
        layer_digests(&second.addr, "copy/app", "1")[1..3],
        digests[1..3],
        "the pushed layers are the pulled blobs"
    );
    let archive = ctx.dir.path().join("resume-saved.tar");
    ctx.ok(&["save", "-o", archive.to_str().expect("utf8"), &copy]);
    ctx.ok(&["rmi", &via_front, &copy]);
    ctx.ok(&["load", "-i", archive.to_str().expect("utf8")]);
    let loaded = ctx.ok(&["run", "--rm", &copy, "sh", "-c", "md5sum /big; cat /small"]);
    assert_eq!(loaded, again, "the saved archive holds the same layers");
    ctx.ok(&["rmi", &copy]);
    let _ = std::fs::remove_file(&archive);
}
