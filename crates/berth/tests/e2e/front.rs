//! Loopback HTTP fronts for registry tests: an accept loop stopped by a
//! flag, one request read per connection, and forwarding to a backend.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Serves connections on a loopback port with `handle`, one thread each,
/// until `stop` is set; the address.
pub fn serve(stop: Arc<AtomicBool>, handle: impl Fn(TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    listener.set_nonblocking(true).expect("nonblocking");
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let handle = handle.clone();
            std::thread::spawn(move || handle(stream));
        }
    });
    addr
}

/// One request (head and body).
pub struct Request {
    pub method: String,
    pub path: String,
    head: String,
    pub body: Vec<u8>,
}

impl Request {
    /// Reads a request; `None` when the client closed first.
    pub fn read(client: &mut TcpStream, timeout: Duration) -> std::io::Result<Option<Request>> {
        client.set_nonblocking(false)?;
        client.set_read_timeout(Some(timeout))?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut byte)? == 0 {
                return Ok(None);
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let request_line = head.lines().next().unwrap_or_default().to_string();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or("GET").to_string();
        let path = parts.next().unwrap_or("/").to_string();
        let mut req = Request {
            method,
            path,
            head,
            body: Vec::new(),
        };
        let length: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        req.body = vec![0u8; length];
        client.read_exact(&mut req.body)?;
        Ok(Some(req))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    }

    /// Sends the request to `backend` (HTTP/1.0, its `Accept` kept); the
    /// whole response.
    pub fn forward(&self, backend: &str) -> std::io::Result<Vec<u8>> {
        let mut upstream = TcpStream::connect(backend)?;
        write!(
            upstream,
            "{} {} HTTP/1.0\r\nHost: {backend}\r\nContent-Length: {}\r\n",
            self.method,
            self.path,
            self.body.len()
        )?;
        if let Some(accept) = self.header("accept") {
            write!(upstream, "Accept: {accept}\r\n")?;
        }
        write!(upstream, "\r\n")?;
        upstream.write_all(&self.body)?;
        let mut response = Vec::new();
        upstream.read_to_end(&mut response)?;
        Ok(response)
    }
}
