//! Writing a container's output stream to our stdout and stderr: raw for a
//! TTY, else demultiplexed from Docker's 8-byte frames.

use berth_client::demux::{Demuxer, StreamKind};
use tokio::io::{AsyncWriteExt, Stderr, Stdout};

pub struct StdStreams {
    demux: Demuxer,
    tty: bool,
    stdout: Stdout,
    stderr: Stderr,
}

impl StdStreams {
    pub fn new(tty: bool) -> StdStreams {
        StdStreams {
            demux: Demuxer::default(),
            tty,
            stdout: tokio::io::stdout(),
            stderr: tokio::io::stderr(),
        }
    }

    /// Writes one chunk of the stream; incomplete frames wait for the next.
    /// Write errors (a closed pipe) are ignored, as docker does.
    pub async fn write(&mut self, chunk: &[u8]) {
        if self.tty {
            let _ = self.stdout.write_all(chunk).await;
        } else {
            self.demux.feed(chunk);
            while let Some((kind, payload)) = self.demux.next_frame() {
                let _ = match kind {
                    StreamKind::Stderr => self.stderr.write_all(&payload).await,
                    _ => self.stdout.write_all(&payload).await,
                };
            }
        }
        let _ = self.stdout.flush().await;
        let _ = self.stderr.flush().await;
    }
}
