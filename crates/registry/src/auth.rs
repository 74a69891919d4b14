//! Basic authentication against an htpasswd file (bcrypt entries, as
//! `htpasswd -B` writes them). A verified user and password are remembered
//! (as a hash) so bcrypt runs once per credential, not per request.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl Htpasswd {
    /// Parses `user:hash` lines; blank lines and `#` comments are skipped.
    /// Only bcrypt hashes are accepted; any other line is an error naming it.
    pub fn parse(text: &str) -> Result<Htpasswd, String> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("htpasswd line {}: expected user:hash", n + 1))?;
            if !["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
                return Err(format!(
                    "htpasswd line {}: only bcrypt hashes are supported (htpasswd -B)",
                    n + 1
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Htpasswd, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Htpasswd::parse(&text)
    }

    /// Whether an `Authorization` header value holds valid credentials.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let key: [u8; 32] = Sha256::digest(format!("{user}:{password}:{hash}").as_bytes()).into();
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.contains(&key) {
            return true;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            verified.insert(key);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn verifies_bcrypt_entries() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::parse(&format!("# users\nalice:{hash}\n\n")).unwrap();
        assert!(h.check(Some(&header("alice", "s3cret"))));
        assert!(h.check(Some(&header("alice", "s3cret"))), "the cached path");
        assert!(!h.check(Some(&header("alice", "wrong"))));
        assert!(!h.check(Some(&header("bob", "s3cret"))));
        assert!(!h.check(Some("Bearer x")));
        assert!(!h.check(None));
        assert!(Htpasswd::parse("alice:{SHA}abc")
            .unwrap_err()
            .contains("only bcrypt"));
        assert!(Htpasswd::parse("nocolon").is_err());
    }
}
