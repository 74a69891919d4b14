//! Container ids and generated names.

/// A new 64-hex-digit id.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source only fails on broken systems; fall back to time
    // and pid mixing, which still yields distinct ids per process.
    if getrandom::fill(&mut bytes).is_err() {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
            ^ u128::from(std::process::id());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8 ^ i as u8;
        }
    }
    hex::encode(bytes)
}

/// The 12-character short form of an id.
pub fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "clever", "daring", "eager", "fancy", "gentle", "happy", "jolly", "keen",
    "lucid", "merry", "nimble", "proud", "quiet", "rapid", "sharp", "steady", "swift", "tidy",
    "upbeat", "vivid", "witty", "zesty", "bold", "bright", "cosy", "deft", "fresh", "grand",
];

const NOUNS: &[&str] = &[
    "anchor",
    "barge",
    "beacon",
    "buoy",
    "cabin",
    "canal",
    "cargo",
    "dock",
    "ferry",
    "galley",
    "harbor",
    "hull",
    "jetty",
    "keel",
    "lantern",
    "mast",
    "marina",
    "oar",
    "pier",
    "quay",
    "rudder",
    "sail",
    "schooner",
    "skiff",
    "tide",
    "tugboat",
    "wharf",
    "yacht",
    "compass",
    "lighthouse",
];

/// A random `adjective_noun` name for a container created without `--name`.
pub fn random_name() -> String {
    let mut bytes = [0u8; 2];
    let _ = getrandom::fill(&mut bytes);
    format!(
        "{}_{}",
        ADJECTIVES[usize::from(bytes[0]) % ADJECTIVES.len()],
        NOUNS[usize::from(bytes[1]) % NOUNS.len()]
    )
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    name.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_distinct() {
        let a = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_id());
        assert_eq!(short(&a).len(), 12);
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }

    #[test]
    fn names() {
        assert!(valid_name("web"));
        assert!(valid_name("my_app.1-x"));
        assert!(!valid_name("w"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("we/b"));
        assert!(random_name().contains('_'));
    }
}
