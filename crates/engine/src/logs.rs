//! Reading and following a container's json-file log, framed for the API.
//!
//! The monitor appends one JSON object per line: `{"log","stream","time"}`.
//! `logs` and `attach` both read that file; following polls for new lines and
//! wakes at once when the container's state changes.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::container::{Container, ContainerService, ReaderGuard, Snapshot};
use crate::Error;

/// One parsed log line.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// What to read and how to frame it.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    /// Only the last N lines of what exists when reading starts.
    pub tail: Option<usize>,
    pub timestamps: bool,
    /// Unix seconds; entries before/after are skipped.
    pub since: Option<f64>,
    pub until: Option<f64>,
}

/// Where a reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    End,
}

/// Frames an entry: the 8-byte stdcopy header (stream 1 or 2, big-endian
/// length) unless the container has a TTY, then raw bytes.
pub fn frame(entry: &LogEntry, timestamps: bool, tty: bool) -> Bytes {
    let mut payload = String::new();
    if timestamps {
        payload.push_str(&entry.time);
        payload.push(' ');
    }
    payload.push_str(&entry.log);
    let mut out = BytesMut::with_capacity(payload.len() + 8);
    if !tty {
        out.put_u8(if entry.stream == "stderr" { 2 } else { 1 });
        out.put_slice(&[0, 0, 0]);
        out.put_u32(payload.len() as u32);
    }
    out.put_slice(payload.as_bytes());
    out.freeze()
}

fn wanted(entry: &LogEntry, opts: &LogOptions) -> bool {
    let stream_ok = match entry.stream.as_str() {
        "stderr" => opts.stderr,
        _ => opts.stdout,
    };
    if !stream_ok {
        return false;
    }
    if opts.since.is_none() && opts.until.is_none() {
        return true;
    }
    let Some(t) = crate::time::parse(&entry.time) else {
        return true;
    };
    let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9;
    opts.since.is_none_or(|s| secs >= s) && opts.until.is_none_or(|u| secs <= u)
}

/// Parses complete lines from `reader`, returning entries and how many bytes
/// they spanned (a trailing partial line is left for the next read).
fn read_entries(reader: &mut impl BufRead) -> std::io::Result<(Vec<LogEntry>, u64)> {
    let mut entries = Vec::new();
    let mut consumed = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        consumed += n as u64;
        if let Ok(e) = serde_json::from_slice::<LogEntry>(&line) {
            entries.push(e);
        }
    }
    Ok((entries, consumed))
}

/// Entries of the rotated files next to `path`, oldest first.
fn read_rotated(path: &std::path::Path) -> Vec<LogEntry> {
    let mut files = Vec::new();
    for n in 1.. {
        let p = std::path::PathBuf::from(format!("{}.{n}", path.display()));
        if !p.exists() {
            break;
        }
        files.push(p);
    }
    let mut out = Vec::new();
    for p in files.iter().rev() {
        if let Ok(f) = std::fs::File::open(p) {
            if let Ok((entries, _)) = read_entries(&mut BufReader::new(f)) {
                out.extend(entries);
            }
        }
    }
    out
}

struct Follower {
    path: PathBuf,
    offset: u64,
}

impl Follower {
    fn read_new(&mut self) -> std::io::Result<Vec<LogEntry>> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Rotated or truncated: start over.
            self.offset = 0;
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut reader = BufReader::new(file.by_ref());
        let (entries, consumed) = read_entries(&mut reader)?;
        self.offset += consumed;
        Ok(entries)
    }
}

impl ContainerService {
    /// Streams framed log output. Without `follow` the stream ends at the end
    /// of the file; with it, when the container stops (logs) or, for
    /// `attach` (`StartAt::End`), when the container exits after attaching.
    pub fn log_stream(
        &self,
        name_or_id: &str,
        opts: LogOptions,
        start: StartAt,
    ) -> Result<mpsc::Receiver<Bytes>, Error> {
        let c = self.get(name_or_id)?;
        let driver = c.record().host_config.log_config.kind.clone();
        if !crate::container::log_driver::LogDriver::parse(&driver)?.readable() {
            return Err(Error::NotImplemented(
                crate::container::log_driver::NOT_READABLE.into(),
            ));
        }
        let (tx, rx) = mpsc::channel(64);
        let tty = c.record().config.tty;
        // Where to start and what "finished" means are fixed now, not when
        // the task first runs: a fast container may exit before that.
        let first = c.subscribe().borrow().clone();
        let offset = match start {
            StartAt::End => std::fs::metadata(c.paths.log())
                .map(|m| m.len())
                .unwrap_or(0),
            StartAt::Beginning => 0,
        };
        let guard = c.reader();
        tokio::spawn(follow(c, guard, first, offset, opts, start, tty, tx));
        Ok(rx)
    }
}

#[allow(clippy::too_many_arguments)]
async fn follow(
    c: Arc<Container>,
    _guard: ReaderGuard,
    first: Snapshot,
    offset: u64,
    opts: LogOptions,
    start: StartAt,
    tty: bool,
    tx: mpsc::Sender<Bytes>,
) {
    let mut state = c.subscribe();
    let mut follower = Follower {
        path: c.paths.log(),
        offset,
    };
    // Rotated files (`<log>.N` oldest ... `<log>.1`) come before the live one.
    let rotated = if start == StartAt::Beginning {
        let path = c.paths.log();
        tokio::task::spawn_blocking(move || read_rotated(&path))
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut first_batch = true;
    loop {
        let snapshot = state.borrow_and_update().clone();
        let finished = match start {
            StartAt::End => snapshot.exits > first.exits || snapshot.removed,
            StartAt::Beginning => !opts.follow || !snapshot.status.is_running() || snapshot.removed,
        };
        let res = tokio::task::spawn_blocking(move || {
            let entries = follower.read_new();
            (follower, entries)
        })
        .await;
        let Ok((f, Ok(read))) = res else { return };
        follower = f;
        let older: &[LogEntry] = if first_batch { &rotated } else { &[] };
        let mut entries: Vec<&LogEntry> = older
            .iter()
            .chain(read.iter())
            .filter(|e| wanted(e, &opts))
            .collect();
        if first_batch {
            if let Some(n) = opts.tail {
                let skip = entries.len().saturating_sub(n);
                entries.drain(..skip);
            }
            first_batch = false;
        }
        for e in entries {
            if tx.send(frame(e, opts.timestamps, tty)).await.is_err() {
                return;
            }
        }
        if finished {
            return;
        }
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    // The container is gone; read what is left once more.
                    if let Ok(Ok(rest)) = tokio::task::spawn_blocking(move || follower.read_new()).await {
                        for e in rest.iter().filter(|e| wanted(e, &opts)) {
                            if tx.send(frame(e, opts.timestamps, tty)).await.is_err() {
                                return;
                            }
                        }
                    }
                    return;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_stdout_and_stderr() {
        let e = LogEntry {
            log: "hi\n".into(),
            stream: "stderr".into(),
            time: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(&frame(&e, false, false)[..], b"\x02\0\0\0\0\0\0\x03hi\n");
        assert_eq!(&frame(&e, true, true)[..], b"2026-01-01T00:00:00Z hi\n");
    }

    #[test]
    fn partial_lines_wait() {
        let data = b"{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"t\"}\n{\"log\":\"b";
        let (entries, consumed) = read_entries(&mut &data[..]).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            consumed as usize,
            data.iter().position(|&b| b == b'\n').unwrap() + 1
        );
    }

    #[test]
    fn filters_streams_and_time() {
        let e = LogEntry {
            log: "x".into(),
            stream: "stdout".into(),
            time: "2026-01-01T00:00:10Z".into(),
        };
        let base = LogOptions {
            stdout: true,
            ..Default::default()
        };
        assert!(wanted(&e, &base));
        assert!(!wanted(
            &e,
            &LogOptions {
                stdout: false,
                stderr: true,
                ..Default::default()
            }
        ));
        let t = crate::time::parse("2026-01-01T00:00:10Z")
            .unwrap()
            .timestamp() as f64;
        assert!(!wanted(
            &e,
            &LogOptions {
                since: Some(t + 1.0),
                ..base.clone()
            }
        ));
        assert!(wanted(
            &e,
            &LogOptions {
                until: Some(t),
                ..base
            }
        ));
    }
}
