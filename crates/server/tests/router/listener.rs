//! The unix socket listener's own limits, on a socket of its own over the
//! shared engine: connections per client and the header (and idle)
//! timeout.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_server::Limits;

use crate::{tests, Api};

tests!(a_client_over_its_connection_limit_is_refused_and_slow_heads_are_closed);

/// Reads until the server closes; the text read.
fn read_to_close(s: &mut UnixStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn ping(socket: &Path) -> String {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        .expect("write");
    read_to_close(&mut s)
}

async fn a_client_over_its_connection_limit_is_refused_and_slow_heads_are_closed(api: &Api) {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("limits.sock");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        per_client: 3,
    };
    let (engine, path) = (api.engine.clone(), socket.clone());
    let served = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        berth_server::serve_unix_with(engine, &path, limits, shutdown).await
    });
    let sock = socket.clone();
    tokio::task::spawn_blocking(move || {
        for _ in 0..100 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Three idle connections (one with half a request head) hold this
        // process's places: a fourth is answered 429 and closed.
        let mut held: Vec<UnixStream> = (0..3)
            .map(|_| UnixStream::connect(&sock).expect("connect"))
            .collect();
        held[0]
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: b\r\n")
            .expect("half a head");
        let mut fourth = UnixStream::connect(&sock).expect("connect");
        let refused = read_to_close(&mut fourth);
        assert!(
            refused.starts_with("HTTP/1.1 429 ") && refused.contains("at most 3 at once"),
            "{refused}"
        );
        // The header timeout closes the idle ones and the slow head, which
        // frees the places.
        let t0 = Instant::now();
        for s in &mut held {
            let rest = read_to_close(s);
            assert!(!rest.contains("200 OK"), "a slow head was answered: {rest}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "idle connections were not closed by the header timeout"
        );
        drop(held);
        let answer = ping(&sock);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    })
    .await
    .expect("client thread");
    let _ = stop.send(());
    served
        .await
        .expect("listener task")
        .expect("listener ended cleanly");
}
