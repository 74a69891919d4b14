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

use super::{Container, ContainerService, ReaderGuard, Snapshot};
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

/// How much of a log one read takes at most, so a huge log is sent in
/// pieces rather than held whole.
const BATCH_BYTES: u64 = 1 << 20;

/// Parses complete lines from `reader`, returning entries and how many bytes
/// they spanned (a trailing partial line is left for the next read). Stops
/// once `limit` bytes were consumed.
fn read_entries(reader: &mut impl BufRead, limit: u64) -> std::io::Result<(Vec<LogEntry>, u64)> {
    let mut entries = Vec::new();
    let mut consumed = 0u64;
    let mut line = Vec::new();
    while consumed < limit {
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

/// Complete lines of a file read from its end: each with its offset.
struct Backwards<R> {
    file: R,
    /// `buf` holds the bytes from `pos` up to the end of the next line to
    /// hand out (its newline included).
    pos: u64,
    buf: Vec<u8>,
}

const BACK_CHUNK: u64 = 64 << 10;

impl<R: Read + Seek> Backwards<R> {
    /// Starts at the file's last newline: a partial last line is not one.
    fn new(mut file: R) -> std::io::Result<Self> {
        let len = file.seek(SeekFrom::End(0))?;
        let mut b = Backwards {
            file,
            pos: len,
            buf: Vec::new(),
        };
        loop {
            if let Some(k) = b.buf.iter().rposition(|&c| c == b'\n') {
                b.buf.truncate(k + 1);
                return Ok(b);
            }
            if b.pos == 0 {
                b.buf.clear();
                return Ok(b);
            }
            b.read_chunk()?;
        }
    }

    fn read_chunk(&mut self) -> std::io::Result<()> {
        let start = self.pos.saturating_sub(BACK_CHUNK);
        let mut chunk = vec![0u8; (self.pos - start) as usize];
        self.file.seek(SeekFrom::Start(start))?;
        self.file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&self.buf);
        self.buf = chunk;
        self.pos = start;
        Ok(())
    }

    /// The line before the last one handed out, with its offset.
    fn prev(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        loop {
            if self.buf.is_empty() {
                return Ok(None);
            }
            let body = &self.buf[..self.buf.len() - 1];
            if let Some(k) = body.iter().rposition(|&c| c == b'\n') {
                let line = self.buf.split_off(k + 1);
                return Ok(Some((self.pos + k as u64 + 1, line)));
            }
            if self.pos == 0 {
                let line = std::mem::take(&mut self.buf);
                return Ok(Some((0, line)));
            }
            self.read_chunk()?;
        }
    }
}

/// Where the last `n` entries `keep` accepts begin in the log at `path`,
/// read from its end; `None` when it holds fewer (or does not exist).
fn tail_start(
    path: &std::path::Path,
    n: usize,
    keep: &dyn Fn(&LogEntry) -> bool,
) -> std::io::Result<Option<u64>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if n == 0 {
        return Ok(Some(file.metadata()?.len()));
    }
    let mut lines = Backwards::new(file)?;
    let mut found = 0;
    while let Some((offset, line)) = lines.prev()? {
        if serde_json::from_slice::<LogEntry>(&line).is_ok_and(|e| keep(&e)) {
            found += 1;
            if found == n {
                return Ok(Some(offset));
            }
        }
    }
    Ok(None)
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
            if let Ok((entries, _)) = read_entries(&mut BufReader::new(f), u64::MAX) {
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
    /// The next complete entries, at most [`BATCH_BYTES`] of them; and
    /// whether more were left.
    fn read_new(&mut self) -> std::io::Result<(Vec<LogEntry>, bool)> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false)),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Rotated or truncated: start over.
            self.offset = 0;
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut reader = BufReader::new(file.by_ref());
        let (entries, consumed) = read_entries(&mut reader, BATCH_BYTES)?;
        self.offset += consumed;
        Ok((entries, consumed >= BATCH_BYTES))
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
        if !super::log_driver::LogDriver::parse(&driver)?.readable() {
            return Err(Error::NotImplemented(
                super::log_driver::NOT_READABLE.into(),
            ));
        }
        // A few batches ahead of the reader: a reader that stops holds at most
        // this many (each at most 1 MiB), not the log.
        let (tx, rx) = mpsc::channel(4);
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
    // With a tail the live file alone may hold enough entries: start at
    // them, read backwards, instead of reading it all.
    let mut tail = opts.tail;
    if let (StartAt::Beginning, Some(n)) = (start, tail) {
        let (path, o) = (c.paths.log(), opts.clone());
        let found = tokio::task::spawn_blocking(move || tail_start(&path, n, &|e| wanted(e, &o)))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        if let Some(offset) = found {
            follower.offset = offset;
            tail = None;
        }
    }
    // Rotated files (`<log>.N` oldest ... `<log>.1`) come before the live
    // one, unless the tail was found in it.
    let rotated = if start == StartAt::Beginning && !(opts.tail.is_some() && tail.is_none()) {
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
        // A tail not found in the live file alone is taken from all of it.
        let limit_free = first_batch && tail.is_some();
        let keep = opts.clone();
        let res = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            let read = loop {
                match follower.read_new() {
                    Ok((entries, more)) => {
                        all.extend(entries.into_iter().filter(|e| wanted(e, &keep)));
                        if !(more && limit_free) {
                            break Ok(more);
                        }
                    }
                    Err(e) => break Err(e),
                }
            };
            (follower, read.map(|more| (all, more)))
        })
        .await;
        let Ok((f, Ok((read, more)))) = res else {
            return;
        };
        follower = f;
        let older: &[LogEntry] = if first_batch { &rotated } else { &[] };
        let mut entries: Vec<&LogEntry> = older
            .iter()
            .chain(read.iter())
            .filter(|e| wanted(e, &opts))
            .collect();
        if first_batch {
            if let Some(n) = tail {
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
        if more {
            // The rest of a long log first, before deciding anything.
            continue;
        }
        if finished {
            return;
        }
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    // The container is gone; read what is left once more.
                    loop {
                        let Ok(Ok(((rest, more), f))) = tokio::task::spawn_blocking(move || {
                            let read = follower.read_new();
                            read.map(|r| (r, follower))
                        })
                        .await
                        else {
                            return;
                        };
                        follower = f;
                        for e in rest.iter().filter(|e| wanted(e, &opts)) {
                            if tx.send(frame(e, opts.timestamps, tty)).await.is_err() {
                                return;
                            }
                        }
                        if !more {
                            return;
                        }
                    }
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

    fn line(i: usize, stream: &str) -> String {
        format!(
            "{{\"log\":\"line {i}\\n\",\"stream\":\"{stream}\",\"time\":\"2026-01-01T00:00:00Z\"}}\n"
        )
    }

    /// A tail is found from the file's end, through chunk boundaries, for
    /// the streams asked for; a partial last line is not counted.
    #[test]
    fn tail_reads_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let mut text = String::new();
        let mut offsets = Vec::new();
        for i in 0..5000 {
            offsets.push(text.len() as u64);
            text.push_str(&line(i, if i % 10 == 0 { "stderr" } else { "stdout" }));
        }
        text.push_str("{\"log\":\"partial");
        std::fs::write(&path, &text).unwrap();
        assert!(text.len() as u64 > 4 * BACK_CHUNK);
        let all = |_: &LogEntry| true;
        assert_eq!(tail_start(&path, 1, &all).unwrap(), Some(offsets[4999]));
        assert_eq!(tail_start(&path, 3000, &all).unwrap(), Some(offsets[2000]));
        assert_eq!(tail_start(&path, 5000, &all).unwrap(), Some(0));
        assert_eq!(tail_start(&path, 5001, &all).unwrap(), None);
        let stderr = |e: &LogEntry| e.stream == "stderr";
        assert_eq!(tail_start(&path, 2, &stderr).unwrap(), Some(offsets[4980]));
        assert_eq!(tail_start(&path, 0, &all).unwrap(), Some(text.len() as u64));
        assert_eq!(tail_start(&dir.path().join("none"), 1, &all).unwrap(), None);
        std::fs::write(&path, "no newline at all").unwrap();
        assert_eq!(tail_start(&path, 1, &all).unwrap(), None);
    }

    /// Reads take at most a batch; the rest follows.
    #[test]
    fn reads_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let text: String = (0..40_000).map(|i| line(i, "stdout")).collect();
        std::fs::write(&path, &text).unwrap();
        assert!(text.len() as u64 > 2 * BATCH_BYTES);
        let mut f = Follower { path, offset: 0 };
        let mut total = 0;
        let mut rounds = 0;
        loop {
            let (entries, more) = f.read_new().unwrap();
            total += entries.len();
            rounds += 1;
            if !more {
                break;
            }
        }
        assert_eq!(total, 40_000);
        assert!(rounds >= 3, "{rounds}");
    }

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
        let (entries, consumed) = read_entries(&mut &data[..], u64::MAX).unwrap();
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
