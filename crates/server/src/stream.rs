//! Bridges between async HTTP bodies and the engine's blocking readers and
//! writers, and streamed JSON answers.

use std::io::{Read, Write};

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// A blocking `Read` over a request body, fed by a task that pulls chunks.
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    current: Bytes,
}

impl BodyReader {
    pub fn new(body: Body) -> BodyReader {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let item =
                    chunk.map_err(|e| std::io::Error::other(format!("reading request body: {e}")));
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

/// A blocking `Write` whose bytes become a response body.
pub struct BodyWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl BodyWriter {
    pub fn new() -> (BodyWriter, Body) {
        let (tx, rx) = mpsc::channel(8);
        (
            BodyWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
            body_from(rx),
        )
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A response body that yields what the channel receives.
pub fn body_from(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Body::from_stream(stream)
}

/// One JSON message of a streamed answer, newline-terminated.
pub fn json_line<T: serde::Serialize>(msg: &T) -> Bytes {
    let mut v =
        serde_json::to_vec(msg).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes());
    v.push(b'\n');
    Bytes::from(v)
}
