//! How much of a build's output its client has not taken yet. The route
//! that streams the output adds what it queues for the client and takes
//! off what the client's connection took; a RUN step waits before sending
//! more of its container's output while the backlog is over [`LIMIT`], so
//! a client that stops reading (without leaving: leaving cancels the
//! build) holds the step, not the daemon's memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Output queued for one client before RUN steps wait.
pub const LIMIT: usize = 4 << 20;

#[derive(Debug, Clone, Default)]
pub struct Backlog {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    queued: AtomicUsize,
    taken: Notify,
}

impl Backlog {
    /// `n` more bytes queued for the client.
    pub fn queued(&self, n: usize) {
        self.inner.queued.fetch_add(n, Ordering::AcqRel);
    }

    /// The client took `n` bytes.
    pub fn taken(&self, n: usize) {
        let _ = self
            .inner
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(n))
            });
        self.inner.taken.notify_waiters();
    }

    /// Bytes queued and not taken.
    pub fn pending(&self) -> usize {
        self.inner.queued.load(Ordering::Acquire)
    }

    /// Waits until the backlog is at most [`LIMIT`].
    pub async fn room(&self) {
        loop {
            let taken = self.inner.taken.notified();
            if self.pending() <= LIMIT {
                return;
            }
            taken.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_backlog_waits_for_the_client() {
        let b = Backlog::default();
        b.queued(LIMIT + 10);
        let waiting = tokio::spawn({
            let b = b.clone();
            async move { b.room().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "over the limit, a step waits");
        b.taken(20);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("room once the client took enough")
            .expect("task");
        b.taken(usize::MAX);
        assert_eq!(b.pending(), 0, "taking more than queued leaves none");
    }
}
