//! Request bodies are read to the end before the answer goes out, as a
//! client still writing expects: a handler that answers without reading
//! all of its body (an error found early, an archive whose tar ended
//! before the client's padding) would otherwise have the connection
//! closed under a client that is still sending, which sees a broken pipe
//! instead of the answer.
//!
//! The body each handler sees is wrapped: when the handler drops it
//! unfinished, the rest is read and thrown away, and [`handle`] waits for
//! that before sending the answer, up to a bound in bytes and time. A body
//! a handler keeps (a stream it is still reading as it answers) is not
//! waited for.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;

/// Past this much unread body the connection is given up instead.
const MAX_DRAIN_BYTES: u64 = 1 << 30;
/// Nor is a client that stops sending waited for longer than this.
const MAX_DRAIN_TIME: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The handler holds the body.
    Held,
    /// Dropped unfinished; the rest is being read.
    Draining,
    /// Read to the end (or given up on).
    Done,
}

struct Guarded {
    inner: Option<BodyDataStream>,
    ended: bool,
    state: Arc<watch::Sender<State>>,
}

impl Stream for Guarded {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let next = inner.poll_next_unpin(cx);
        if matches!(next, Poll::Ready(None)) {
            self.ended = true;
        }
        next
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let Some(mut rest) = self.inner.take().filter(|_| !self.ended) else {
            let _ = self.state.send(State::Done);
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let _ = self.state.send(State::Done);
            return;
        };
        let _ = self.state.send(State::Draining);
        let state = self.state.clone();
        runtime.spawn(async move {
            let drain = async {
                let mut seen = 0u64;
                while let Some(Ok(chunk)) = rest.next().await {
                    seen += chunk.len() as u64;
                    if seen > MAX_DRAIN_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(MAX_DRAIN_TIME, drain).await;
            let _ = state.send(State::Done);
        });
    }
}

/// Wraps `body`; the returned waiter tells when a dropped body was read out.
pub fn guard(body: Body) -> (Body, Waiter) {
    let (tx, rx) = watch::channel(State::Held);
    let guarded = Guarded {
        inner: Some(body.into_data_stream()),
        ended: false,
        state: Arc::new(tx),
    };
    (Body::from_stream(guarded), Waiter(rx))
}

/// Waits for a body its handler dropped unfinished.
pub struct Waiter(watch::Receiver<State>);

impl Waiter {
    /// Returns once the body is read out, or at once when the handler
    /// still holds it or read it all.
    pub async fn settled(mut self) {
        if *self.0.borrow() == State::Held {
            return;
        }
        let _ = self.0.wait_for(|s| *s == State::Done).await;
    }
}
