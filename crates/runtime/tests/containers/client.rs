//! A blocking attach client for the tests, speaking the frame protocol.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_runtime::frame::{self, Kind};

/// How long any wait for output may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Client {
    sock: Option<UnixStream>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit frame's event, once received.
    pub exit: Option<serde_json::Value>,
    /// Where the next [`Client::wait_for`] starts looking in stdout.
    mark: usize,
    closed: bool,
}

impl Client {
    /// Connects, retrying while the monitor has not created the socket yet.
    pub fn connect(path: &Path) -> Client {
        let deadline = Instant::now() + TIMEOUT;
        let sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("connecting to {}: {e}", path.display()),
            }
        };
        sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        Client {
            sock: Some(sock),
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit: None,
            mark: 0,
            closed: false,
        }
    }

    fn sock(&mut self) -> &mut UnixStream {
        self.sock.as_mut().expect("client was dropped")
    }

    pub fn send(&mut self, kind: Kind, payload: &[u8]) {
        let mut bytes = Vec::new();
        frame::encode(kind, payload, &mut bytes);
        self.sock().write_all(&bytes).unwrap();
    }

    pub fn stdin(&mut self, data: &[u8]) {
        self.send(Kind::Stdin, data);
    }

    pub fn eof(&mut self) {
        self.send(Kind::StdinEof, b"");
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.send(Kind::Resize, &frame::resize_payload(rows, cols));
    }

    /// A second handle on the connection, for a writer thread.
    pub fn writer(&self) -> UnixStream {
        self.sock
            .as_ref()
            .expect("client was dropped")
            .try_clone()
            .unwrap()
    }

    /// Closes the connection without a word.
    pub fn hang_up(&mut self) {
        self.sock = None;
    }

    /// Reads one frame; false once the monitor closed the connection.
    fn read_frame(&mut self) -> bool {
        let mut header = [0u8; frame::HEADER_LEN];
        let sock = self.sock.as_mut().expect("client was dropped");
        match sock.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.closed = true;
                return false;
            }
            Err(e) => panic!(
                "reading a frame: {e}; stdout so far: {:?}",
                String::from_utf8_lossy(&self.stdout)
            ),
        }
        assert_eq!(header[1..4], [0, 0, 0], "bad frame header {header:?}");
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut payload = vec![0u8; len];
        sock.read_exact(&mut payload).unwrap();
        match header[0] {
            1 => self.stdout.extend(payload),
            2 => self.stderr.extend(payload),
            5 => {
                assert!(self.exit.is_none(), "two exit frames");
                self.exit = Some(serde_json::from_slice(&payload).unwrap());
            }
            k => panic!("unexpected frame kind {k} from the monitor"),
        }
        true
    }

    /// Reads until stdout, past what earlier waits matched, contains `needle`.
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = String::from_utf8_lossy(&self.stdout[self.mark..]).into_owned();
            if let Some(i) = text.find(needle) {
                self.mark += i + needle.len();
                return;
            }
            assert!(
                Instant::now() < deadline && !self.closed,
                "no {needle:?} in the output: {text:?}"
            );
            self.read_frame();
        }
    }

    /// Reads until the monitor closes the connection; returns the exit event.
    pub fn read_to_end(&mut self) -> serde_json::Value {
        while self.read_frame() {}
        self.exit
            .clone()
            .expect("connection closed without an exit frame")
    }

    /// Where the last [`Client::wait_for`] match ended in stdout.
    pub fn position(&self) -> usize {
        self.mark
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}
