//! The attach socket's wire format.
//!
//! Both directions carry frames of `[kind: u8][0, 0, 0][len: u32 BE][payload]`.
//! A client sends [`Kind::Stdin`] data, [`Kind::StdinEof`] and
//! [`Kind::Resize`] (payload: rows `u16` BE, cols `u16` BE); the monitor
//! sends [`Kind::Stdout`], [`Kind::Stderr`] (with a terminal everything is
//! stdout) and, last, [`Kind::Exit`] whose payload is the final
//! [`crate::monitor::MonitorEvent`] as JSON, after which it closes the
//! connection.
//!
//! [`Decoder`] takes a client's bytes in whatever pieces they arrive and
//! hands out stdin data as it comes, so a large frame is never buffered.

/// Length of a frame header.
pub const HEADER_LEN: usize = 8;
/// Largest payload accepted for a frame that is not stdin data.
pub const MAX_CONTROL_PAYLOAD: u32 = 4096;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Client to monitor: bytes for the process's stdin.
    Stdin = 0,
    /// Monitor to client: the process's stdout (or terminal) output.
    Stdout = 1,
    /// Monitor to client: the process's stderr.
    Stderr = 2,
    /// Client to monitor: this client's stdin has ended.
    StdinEof = 3,
    /// Client to monitor: the terminal's new size.
    Resize = 4,
    /// Monitor to client: the process has ended; the payload is the event.
    Exit = 5,
}

/// The header of a frame of `kind` with `len` payload bytes.
pub fn header(kind: Kind, len: u32) -> [u8; HEADER_LEN] {
    let l = len.to_be_bytes();
    [kind as u8, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// Appends a whole frame to `out`. Payloads longer than `u32::MAX` are
/// split over several frames.
pub fn encode(kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    if payload.is_empty() {
        out.extend_from_slice(&header(kind, 0));
    }
    for chunk in payload.chunks(u32::MAX as usize) {
        out.extend_from_slice(&header(kind, chunk.len() as u32));
        out.extend_from_slice(chunk);
    }
}

/// The payload of a resize frame.
pub fn resize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let r = rows.to_be_bytes();
    let c = cols.to_be_bytes();
    [r[0], r[1], c[0], c[1]]
}

/// What a client asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// Bytes for stdin (part of a frame; a frame may arrive in pieces).
    Stdin(&'a [u8]),
    /// The client's stdin ended.
    StdinEof,
    /// New terminal size.
    Resize { rows: u16, cols: u16 },
}

/// A client broke the protocol; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame header bytes 1-3 must be zero")]
    Padding,
    #[error("frame kind {0} cannot be sent to the monitor")]
    WrongDirection(u8),
    #[error("control frame of kind {kind} is {len} bytes long")]
    TooLong { kind: u8, len: u32 },
}

#[derive(Debug)]
enum State {
    Header {
        got: usize,
        bytes: [u8; HEADER_LEN],
    },
    Stdin {
        left: u32,
    },
    Control {
        kind: u8,
        left: u32,
        payload: Vec<u8>,
    },
    Skip {
        left: u32,
    },
}

/// Incremental decoder of one client's frames.
#[derive(Debug)]
pub struct Decoder {
    state: State,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            state: State::Header {
                got: 0,
                bytes: [0; HEADER_LEN],
            },
        }
    }
}

impl Decoder {
    /// Feeds bytes read from the client, calling `on` for each request.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        on: &mut dyn FnMut(Request<'_>),
    ) -> Result<(), ProtocolError> {
        while !data.is_empty() {
            match &mut self.state {
                State::Header { got, bytes } => {
                    let n = (HEADER_LEN - *got).min(data.len());
                    bytes[*got..*got + n].copy_from_slice(&data[..n]);
                    *got += n;
                    data = &data[n..];
                    if *got == HEADER_LEN {
                        let h = *bytes;
                        self.start_frame(h, on)?;
                    }
                }
                State::Stdin { left } => {
                    let n = (*left as usize).min(data.len());
                    *left -= n as u32;
                    let done = *left == 0;
                    on(Request::Stdin(&data[..n]));
                    data = &data[n..];
                    if done {
                        *self = Self::default();
                    }
                }
                State::Control {
                    kind,
                    left,
                    payload,
                } => {
                    let n = (*left as usize).min(data.len());
                    payload.extend_from_slice(&data[..n]);
                    *left -= n as u32;
                    data = &data[n..];
                    if *left == 0 {
                        let (kind, payload) = (*kind, std::mem::take(payload));
                        *self = Self::default();
                        control(kind, &payload, on);
                    }
                }
                State::Skip { left } => {
                    let n = (*left as usize).min(data.len());
                    *left -= n as u32;
                    data = &data[n..];
                    if *left == 0 {
                        *self = Self::default();
                    }
                }
            }
        }
        Ok(())
    }

    fn start_frame(
        &mut self,
        h: [u8; HEADER_LEN],
        on: &mut dyn FnMut(Request<'_>),
    ) -> Result<(), ProtocolError> {
        if h[1..4] != [0, 0, 0] {
            return Err(ProtocolError::Padding);
        }
        let kind = h[0];
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        *self = Self::default();
        if kind == Kind::Stdin as u8 {
            if len > 0 {
                self.state = State::Stdin { left: len };
            } else {
                // An empty stdin frame still says "this client uses stdin".
                on(Request::Stdin(&[]));
            }
        } else if kind == Kind::StdinEof as u8 || kind == Kind::Resize as u8 {
            if len > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::TooLong { kind, len });
            }
            if len == 0 {
                control(kind, &[], on);
            } else {
                self.state = State::Control {
                    kind,
                    left: len,
                    payload: Vec::with_capacity(len as usize),
                };
            }
        } else if [Kind::Stdout, Kind::Stderr, Kind::Exit]
            .iter()
            .any(|k| *k as u8 == kind)
        {
            return Err(ProtocolError::WrongDirection(kind));
        } else if len > 0 {
            // Unknown kinds are skipped, so newer clients can talk to this
            // monitor.
            self.state = State::Skip { left: len };
        }
        Ok(())
    }
}

fn control(kind: u8, payload: &[u8], on: &mut dyn FnMut(Request<'_>)) {
    if kind == Kind::StdinEof as u8 {
        on(Request::StdinEof);
    } else if let [r0, r1, c0, c1] = *payload {
        on(Request::Resize {
            rows: u16::from_be_bytes([r0, r1]),
            cols: u16::from_be_bytes([c0, c1]),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Got {
        Data(Vec<u8>),
        Eof,
        Size(u16, u16),
    }

    fn decode_in_pieces(bytes: &[u8], piece: usize) -> Result<Vec<Got>, ProtocolError> {
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for chunk in bytes.chunks(piece) {
            d.feed(chunk, &mut |r| match r {
                Request::Stdin(b) => match got.last_mut() {
                    Some(Got::Data(v)) if !b.is_empty() => v.extend_from_slice(b),
                    _ => got.push(Got::Data(b.to_vec())),
                },
                Request::StdinEof => got.push(Got::Eof),
                Request::Resize { rows, cols } => got.push(Got::Size(rows, cols)),
            })?;
        }
        Ok(got)
    }

    #[test]
    fn header_layout() {
        assert_eq!(header(Kind::Stderr, 0x0102_0304), [2, 0, 0, 0, 1, 2, 3, 4]);
        let mut out = Vec::new();
        encode(Kind::Exit, b"{}", &mut out);
        assert_eq!(out, [5, 0, 0, 0, 0, 0, 0, 2, b'{', b'}']);
        out.clear();
        encode(Kind::Stdout, b"", &mut out);
        assert_eq!(out, [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn decodes_any_split() {
        let mut bytes = Vec::new();
        encode(Kind::Stdin, b"hello", &mut bytes);
        encode(Kind::Resize, &resize_payload(30, 100), &mut bytes);
        encode(Kind::Stdin, b" world", &mut bytes);
        encode(Kind::StdinEof, b"", &mut bytes);
        for piece in [1, 2, 3, 7, 64] {
            let got = decode_in_pieces(&bytes, piece).unwrap();
            let mut data = Vec::new();
            let mut rest = Vec::new();
            for g in got {
                match g {
                    Got::Data(d) => data.extend(d),
                    other => rest.push(other),
                }
            }
            assert_eq!(data, b"hello world", "piece {piece}");
            assert_eq!(rest, vec![Got::Size(30, 100), Got::Eof], "piece {piece}");
        }
    }

    #[test]
    fn empty_stdin_frame_is_reported() {
        let mut bytes = Vec::new();
        encode(Kind::Stdin, b"", &mut bytes);
        assert_eq!(
            decode_in_pieces(&bytes, 8).unwrap(),
            vec![Got::Data(vec![])]
        );
    }

    #[test]
    fn skips_unknown_and_rejects_bad_frames() {
        let mut bytes = vec![9, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
        encode(Kind::StdinEof, b"", &mut bytes);
        assert_eq!(decode_in_pieces(&bytes, 4).unwrap(), vec![Got::Eof]);
        assert_eq!(
            decode_in_pieces(&[0, 1, 0, 0, 0, 0, 0, 0], 8),
            Err(ProtocolError::Padding)
        );
        assert_eq!(
            decode_in_pieces(&header(Kind::Stdout, 1), 8),
            Err(ProtocolError::WrongDirection(1))
        );
        assert_eq!(
            decode_in_pieces(&header(Kind::Resize, 1 << 20), 8),
            Err(ProtocolError::TooLong {
                kind: 4,
                len: 1 << 20
            })
        );
        // A resize frame of the wrong length is ignored.
        let mut bytes = Vec::new();
        encode(Kind::Resize, &[0, 1], &mut bytes);
        assert_eq!(decode_in_pieces(&bytes, 8).unwrap(), vec![]);
    }
}
