//! Decoders for streamed answers: Docker's multiplexed stdout/stderr frames
//! (8-byte header: stream, 3 zero bytes, big-endian length) and JSON lines.

use bytes::{Buf, BytesMut};

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin,
    Stdout,
    Stderr,
    Systemerr,
}

/// Incremental frame decoder: feed bytes, take complete frames.
#[derive(Debug, Default)]
pub struct Demuxer {
    buf: BytesMut,
}

impl Demuxer {
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<(StreamKind, Vec<u8>)> {
        if self.buf.len() < 8 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + len {
            return None;
        }
        let kind = match self.buf[0] {
            0 => StreamKind::Stdin,
            2 => StreamKind::Stderr,
            3 => StreamKind::Systemerr,
            _ => StreamKind::Stdout,
        };
        self.buf.advance(8);
        let payload = self.buf.split_to(len).to_vec();
        Some((kind, payload))
    }
}

/// Incremental splitter of newline-delimited JSON messages.
#[derive(Debug, Default)]
pub struct JsonLines {
    buf: BytesMut,
}

impl JsonLines {
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn next_message<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Option<Result<T, serde_json::Error>> {
        loop {
            let pos = self.buf.iter().position(|&b| b == b'\n')?;
            let line = self.buf.split_to(pos + 1);
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            return Some(serde_json::from_slice(trimmed));
        }
    }

    /// A final message without a trailing newline.
    pub fn finish<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Option<Result<T, serde_json::Error>> {
        let rest = std::mem::take(&mut self.buf);
        let trimmed = rest.trim_ascii();
        (!trimmed.is_empty()).then(|| serde_json::from_slice(trimmed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demuxes_split_frames() {
        let mut d = Demuxer::default();
        d.feed(b"\x01\0\0\0\0\0\0\x03hi");
        assert_eq!(d.next_frame(), None);
        d.feed(b"\n\x02\0\0\0\0\0\0\x01!");
        assert_eq!(d.next_frame(), Some((StreamKind::Stdout, b"hi\n".to_vec())));
        assert_eq!(d.next_frame(), Some((StreamKind::Stderr, b"!".to_vec())));
        assert_eq!(d.next_frame(), None);
    }

    #[test]
    fn splits_json_lines() {
        let mut j = JsonLines::default();
        j.feed(b"{\"a\":1}\n\n{\"a\":");
        let v: serde_json::Value = j.next_message().unwrap().unwrap();
        assert_eq!(v["a"], 1);
        assert!(j.next_message::<serde_json::Value>().is_none());
        j.feed(b"2}");
        let v: serde_json::Value = j.finish().unwrap().unwrap();
        assert_eq!(v["a"], 2);
    }
}
