//! The container's log in Docker's `json-file` format.
//!
//! One JSON object per line: `{"log":"hello\n","stream":"stdout","time":"..."}`.
//! Output is split at `\n` (each `log` keeps its `\n`); a line longer than
//! 16 KiB is cut into partial entries without `\n`, as Docker does; a
//! trailing partial line is written without `\n` when its stream ends.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Longest `log` value; longer lines become several partial entries.
pub const MAX_ENTRY: usize = 16 * 1024;

/// Which of the container's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The name in the log's `stream` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

/// RFC 3339 UTC with nanoseconds, as in Docker's log files.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Appends one JSON line for `chunk` to `out`.
pub fn encode(stream: Stream, chunk: &[u8], time: &str, out: &mut Vec<u8>) {
    let log = String::from_utf8_lossy(chunk);
    let entry = Entry {
        log: &log,
        stream: stream.as_str(),
        time,
    };
    // Serialising a struct of strings into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, &entry).is_ok() {
        out.push(b'\n');
    }
}

/// Collects one stream's bytes into complete lines.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Takes `data`, appending an entry to `out` for each complete line
    /// (and for each [`MAX_ENTRY`] bytes without a newline).
    pub fn push(&mut self, stream: Stream, data: &[u8], time: &str, out: &mut Vec<u8>) {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            match rest.iter().position(|b| *b == b'\n') {
                Some(i) if i < MAX_ENTRY => {
                    encode(stream, &rest[..=i], time, out);
                    start += i + 1;
                }
                _ if rest.len() >= MAX_ENTRY => {
                    encode(stream, &rest[..MAX_ENTRY], time, out);
                    start += MAX_ENTRY;
                }
                _ => break,
            }
        }
        self.pending.drain(..start);
    }

    /// Flushes a trailing partial line (the stream has ended).
    pub fn finish(&mut self, stream: Stream, time: &str, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            encode(stream, &self.pending, time, out);
            self.pending.clear();
        }
    }
}

/// Appends a container's output to its log file.
#[derive(Debug)]
pub struct LogWriter {
    file: File,
    stdout: LineBuffer,
    stderr: LineBuffer,
    out: Vec<u8>,
}

impl LogWriter {
    /// Opens (creating, mode 0640) `path` for appending.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(path)?;
        Ok(Self {
            file,
            stdout: LineBuffer::default(),
            stderr: LineBuffer::default(),
            out: Vec::new(),
        })
    }

    fn buffer(&mut self, stream: Stream) -> &mut LineBuffer {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    fn flush_out(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let res = self.file.write_all(&self.out);
            self.out.clear();
            res?;
        }
        Ok(())
    }

    /// Logs bytes read from `stream`.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let time = timestamp(Utc::now());
        let mut out = std::mem::take(&mut self.out);
        self.buffer(stream).push(stream, data, &time, &mut out);
        self.out = out;
        self.flush_out()
    }

    /// Logs what is left of `stream`, which has ended.
    pub fn finish(&mut self, stream: Stream) -> io::Result<()> {
        let time = timestamp(Utc::now());
        let mut out = std::mem::take(&mut self.out);
        self.buffer(stream).finish(stream, &time, &mut out);
        self.out = out;
        self.flush_out()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(out: &[u8]) -> Vec<serde_json::Value> {
        String::from_utf8(out.to_vec())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn encodes_dockers_shape() {
        let mut out = Vec::new();
        encode(Stream::Stdout, b"hello\n", "T", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"T\"}\n"
        );
    }

    #[test]
    fn splits_lines_across_chunks() {
        let mut b = LineBuffer::default();
        let mut out = Vec::new();
        b.push(Stream::Stderr, b"a\nb", "T", &mut out);
        b.push(Stream::Stderr, b"c\n\nd", "T", &mut out);
        b.finish(Stream::Stderr, "T", &mut out);
        let logs: Vec<_> = lines(&out).iter().map(|v| v["log"].clone()).collect();
        assert_eq!(logs, vec!["a\n", "bc\n", "\n", "d"]);
        assert_eq!(lines(&out)[0]["stream"], "stderr");
    }

    #[test]
    fn long_lines_become_partial_entries() {
        let mut b = LineBuffer::default();
        let mut out = Vec::new();
        let mut data = vec![b'x'; MAX_ENTRY + 10];
        data.push(b'\n');
        b.push(Stream::Stdout, &data, "T", &mut out);
        let l = lines(&out);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0]["log"].as_str().unwrap().len(), MAX_ENTRY);
        assert_eq!(
            l[1]["log"].as_str().unwrap(),
            format!("{}\n", "x".repeat(10))
        );
    }

    #[test]
    fn timestamps_have_nanoseconds() {
        let t = DateTime::from_timestamp(1_795_737_600, 123_456_789).unwrap();
        assert_eq!(timestamp(t), "2026-11-27T00:00:00.123456789Z");
    }

    #[test]
    fn writer_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(Stream::Stdout, b"one\ntw").unwrap();
        w.finish(Stream::Stdout).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let l = lines(text.as_bytes());
        assert_eq!(l[0]["log"], "one\n");
        assert_eq!(l[1]["log"], "tw");
    }
}
