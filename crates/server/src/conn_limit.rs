//! Connections per client process. A client (known by its pid, from the
//! socket's peer credentials) may hold a bounded number of connections at
//! once ([`MAX_PER_CLIENT`] by default); past that, a new connection gets Docker's JSON error shape with
//! 429 and is closed, so one process cannot take every descriptor the
//! daemon has (a slowloris of idle connections) while other clients wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Far above what any Docker client opens (compose's parallel operations
/// use a few dozen); far below the daemon's descriptor limit.
pub const MAX_PER_CLIENT: usize = 256;

/// The answer to a connection over the limit of `max`, written before
/// anything is read from it.
pub fn refusal(max: usize) -> Vec<u8> {
    let body = format!(
        "{{\"message\":\"too many connections from this client (at most {max} at once)\"}}\n"
    );
    format!(
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Open connections by client pid.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    max: usize,
    open: Arc<Mutex<HashMap<i32, usize>>>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    open: Arc<Mutex<HashMap<i32, usize>>>,
    pid: i32,
}

impl ConnLimits {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::default(),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Admits a connection from `pid` (0 when the kernel did not say),
    /// or `None` when that client already holds the most it may.
    pub fn admit(&self, pid: i32) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(pid).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Admitted {
            open: self.open.clone(),
            pid,
        })
    }

    #[cfg(test)]
    fn count(&self, pid: i32) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&pid).copied().unwrap_or(0)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.pid) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.pid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_the_limit_and_others_are_unaffected() {
        let limits = ConnLimits::new(MAX_PER_CLIENT);
        let held: Vec<Admitted> = (0..MAX_PER_CLIENT)
            .map(|_| limits.admit(7).expect("under the limit"))
            .collect();
        assert!(limits.admit(7).is_none(), "one past the limit is refused");
        assert!(limits.admit(8).is_some(), "another client is not affected");
        drop(held);
        assert_eq!(limits.count(7), 0, "closed connections free their places");
        assert!(limits.admit(7).is_some());
    }

    #[test]
    fn the_refusal_is_a_complete_http_answer() {
        let text = String::from_utf8(refusal(256)).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 429 "));
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.parse().ok())
            .expect("a length");
        assert_eq!(len, body.len());
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert!(v["message"].as_str().is_some_and(|m| m.contains("256")));
    }
}
