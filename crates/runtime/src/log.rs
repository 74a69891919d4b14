//! The container's log in Docker's `json-file` format.
//!
//! One JSON object per line: `{"log":"hello\n","stream":"stdout","time":"..."}`.
//! Output is split at `\n` (each `log` keeps its `\n`); a line longer than
//! 16 KiB is cut into partial entries without `\n`, as Docker does; a
//! trailing partial line is written without `\n` when its stream ends.
//!
//! With a maximum size (Docker's `max-size`), a log that would grow past it
//! is rotated first: `<log>.1` becomes `<log>.2` and so on up to
//! `<log>.<max-files - 1>` (the oldest is dropped), `<log>` becomes
//! `<log>.1`, and a new `<log>` is started. With one file (`max-file=1`,
//! the default) the log is emptied instead.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    stdout: LineBuffer,
    stderr: LineBuffer,
    out: Vec<u8>,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// `<log>.<n>`.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_os_string();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

impl LogWriter {
    /// Opens (creating, mode 0640) `path` for appending, without rotation.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
            max_size: None,
            max_files: 1,
            stdout: LineBuffer::default(),
            stderr: LineBuffer::default(),
            out: Vec::new(),
        })
    }

    /// Rotates before the file would grow past `max_size` bytes, keeping at
    /// most `max_files` files (0 counts as 1).
    pub fn with_rotation(mut self, max_size: Option<u64>, max_files: u32) -> Self {
        self.max_size = max_size.filter(|m| *m > 0);
        self.max_files = max_files.max(1);
        self
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files < 2 {
            self.file.set_len(0)?;
        } else {
            for n in (1..self.max_files - 1).rev() {
                match std::fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1))
                {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }

    fn buffer(&mut self, stream: Stream) -> &mut LineBuffer {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// Writes the encoded entries, rotating between entries as needed.
    fn flush_out(&mut self) -> io::Result<()> {
        let out = std::mem::take(&mut self.out);
        let res = self.write_entries(&out);
        if out.capacity() <= 64 * 1024 {
            self.out = out;
            self.out.clear();
        }
        res
    }

    fn write_entries(&mut self, mut out: &[u8]) -> io::Result<()> {
        let Some(max) = self.max_size else {
            self.size += out.len() as u64;
            return self.file.write_all(out);
        };
        while !out.is_empty() {
            // Take whole entries (each ends with its only raw `\n`) while
            // they fit; a single entry larger than the maximum gets a file
            // of its own.
            let mut take = 0;
            for line in out.split_inclusive(|b| *b == b'\n') {
                if take > 0 && self.size + (take + line.len()) as u64 > max {
                    break;
                }
                if take == 0 && self.size > 0 && self.size + line.len() as u64 > max {
                    break;
                }
                take += line.len();
            }
            if take == 0 {
                self.rotate()?;
                continue;
            }
            self.file.write_all(&out[..take])?;
            self.size += take as u64;
            out = &out[take..];
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

    fn entries_in(path: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        lines(text.as_bytes())
            .iter()
            .map(|v| v["log"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn rotates_keeping_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut w = LogWriter::open(&p).unwrap().with_rotation(Some(300), 3);
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["c.log", "c.log.1", "c.log.2"]);
        let mut all = Vec::new();
        for name in ["c.log.2", "c.log.1", "c.log"] {
            let path = dir.path().join(name);
            assert!(std::fs::metadata(&path).unwrap().len() <= 300, "{name}");
            all.extend(entries_in(&path));
        }
        // The newest entries survive, in order, without gaps.
        let first: usize = all[0]["line ".len()..].trim().parse().unwrap();
        let want: Vec<String> = (first..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(all, want);
        assert!(first > 0, "nothing was dropped");
    }

    #[test]
    fn one_file_is_emptied_instead() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut w = LogWriter::open(&p).unwrap().with_rotation(Some(200), 1);
        for i in 0..20 {
            w.write(Stream::Stderr, format!("e{i}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(std::fs::metadata(&p).unwrap().len() <= 200);
        assert_eq!(entries_in(&p).last().unwrap(), "e19\n");
    }

    #[test]
    fn an_entry_larger_than_the_maximum_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut w = LogWriter::open(&p).unwrap().with_rotation(Some(50), 2);
        w.write(Stream::Stdout, b"a\n").unwrap();
        w.write(Stream::Stdout, &[b'x'; 100]).unwrap();
        w.finish(Stream::Stdout).unwrap();
        assert_eq!(entries_in(&rotated_path(&p, 1)), ["a\n"]);
        assert_eq!(entries_in(&p), ["x".repeat(100)]);
    }
}
