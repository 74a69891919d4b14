//! Image references: Docker's name grammar and normalisation (`busybox` is
//! `docker.io/library/busybox:latest`), and the "familiar" form used for display.
//!
//! Grammar (Docker's distribution reference):
//! - `reference := name [ ":" tag ] [ "@" digest ]`
//! - `name := [domain "/"] path-component ("/" path-component)*`, at most 255 characters
//! - `domain := host [":" port]`; host is dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`
//!   labels or a bracketed IPv6 address
//! - `path-component := [a-z0-9]+ (separator [a-z0-9]+)*`, separator is `.`, `_`, `__` or `-+`
//! - `tag := [\w][\w.-]{0,127}`; `digest := algorithm ":" hex` (sha256/sha384/sha512)
//!
//! Normalisation: the first `/`-separated component is a registry only if it contains
//! `.` or `:`, is `localhost`, or has an uppercase letter; otherwise the registry is
//! `docker.io`, and single-component names there get `library/` prepended.

use std::fmt;

/// The default registry.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
/// The tag added to references that have neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const NAME_MAX: usize = 255;

/// Why a reference did not parse. Messages follow Docker's wording.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// Anything that does not match the grammar.
    #[error("invalid reference format")]
    Format,
    /// A Docker Hub style name with uppercase letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// Uppercase letters in an already-normalised name.
    #[error("invalid reference format: repository name must be lowercase")]
    UppercaseName,
    /// Empty input.
    #[error("repository name must have at least one component")]
    Empty,
    /// Name longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    TooLong,
    /// A bare 64-hex string, which would be ambiguous with an image id.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    /// The digest part names an unsupported algorithm.
    #[error("unsupported digest algorithm")]
    DigestAlgorithm,
    /// The digest part has the wrong length or characters.
    #[error("invalid checksum digest length")]
    DigestLength,
    /// `docker tag` with a digest as target.
    #[error("refusing to create a tag with a digest reference")]
    TagWithDigest,
    /// A `repo` parameter (tag, import, commit) that carries a digest.
    #[error("cannot import digest reference")]
    RepoWithDigest,
    /// A `tag` parameter that is not a tag.
    #[error("invalid tag format")]
    TagFormat,
    /// A name equal to the digest algorithm, which reads as a digest.
    #[error("refusing to create an ambiguous tag using digest algorithm as name")]
    AmbiguousName,
}

/// A parsed, normalised image reference.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses a user-supplied name the way `docker` does (`ParseNormalizedNamed`):
    /// fills in `docker.io` and `library/`. Does not add a default tag.
    pub fn parse_normalized(s: &str) -> Result<Self, ReferenceError> {
        if is_hex64(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => &remainder[..],
        };
        let remote = remote.split('@').next().unwrap_or(remote);
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase(remote.to_string()));
        }
        Self::parse(&format!("{domain}/{remainder}"))
    }

    /// Parses a user-supplied name and adds `:latest` when it has neither tag nor
    /// digest; a tag next to a digest is dropped (Docker's `ParseDockerRef`).
    pub fn parse_docker(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_normalized(s)?;
        if r.digest.is_some() {
            r.tag = None;
        } else if r.tag.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parses a complete reference without normalisation: the first component is the
    /// domain only when it looks like one (`Parse` in Docker's library).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        match Self::parse_strict(s) {
            Ok(r) => Ok(r),
            Err(ReferenceError::Format) if s.to_lowercase() != s => {
                match Self::parse_strict(&s.to_lowercase()) {
                    Ok(_) => Err(ReferenceError::UppercaseName),
                    Err(_) => Err(ReferenceError::Format),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn parse_strict(s: &str) -> Result<Self, ReferenceError> {
        let (name_tag, digest) = match s.split_once('@') {
            Some((a, d)) => (a, Some(parse_digest(d)?)),
            None => (s, None),
        };
        // A tag is after the last ':' that is not followed by a '/'.
        let (name, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i + 1..].contains('/') => {
                (&name_tag[..i], Some(name_tag[i + 1..].to_string()))
            }
            _ => (name_tag, None),
        };
        if let Some(t) = &tag {
            if !is_tag(t) {
                return Err(ReferenceError::Format);
            }
        }
        let (domain, path) = split_domain(name)?;
        if name.len() > NAME_MAX {
            return Err(ReferenceError::TooLong);
        }
        Ok(Self {
            domain: domain.to_string(),
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// The registry host (with port), e.g. `docker.io` or `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:...`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// True when the reference has neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// This reference with its tag replaced (and digest removed).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::Format);
        }
        Ok(Self {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// This reference with a digest instead of a tag.
    pub fn with_digest(&self, digest: &str) -> Result<Self, ReferenceError> {
        Ok(Self {
            tag: None,
            digest: Some(parse_digest(digest)?),
            ..self.clone()
        })
    }

    /// The short repository name Docker shows: `busybox`, `user/app`, `localhost:5000/a`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The short form Docker shows: `busybox:latest`, `localhost:5000/a:1`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        push_suffix(&mut s, self);
        s
    }
}

fn push_suffix(s: &mut String, r: &Reference) {
    if let Some(t) = &r.tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = &r.digest {
        s.push('@');
        s.push_str(d);
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        push_suffix(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Docker's `splitDockerDomain`: decides whether the first component is a registry.
fn split_docker_domain(s: &str) -> (String, String) {
    let (mut domain, mut rest) = match s.find('/') {
        Some(i) if looks_like_domain(&s[..i]) => (s[..i].to_string(), s[i + 1..].to_string()),
        _ => (DEFAULT_DOMAIN.to_string(), s.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        rest = format!("{OFFICIAL_PREFIX}{rest}");
    }
    (domain, rest)
}

fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
}

/// Splits an unnormalised name into domain and path (the regex's greedy optional
/// domain: the first component is the domain if it matches the domain grammar and
/// there is more than one component).
fn split_domain(name: &str) -> Result<(&str, &str), ReferenceError> {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if is_domain(first) => (first, rest),
        _ => ("", name),
    };
    if path.is_empty() || !path.split('/').all(is_path_component) {
        return Err(ReferenceError::Format);
    }
    if domain.is_empty() {
        // Parse() keeps no domain for such names; callers always normalise first.
        return Err(ReferenceError::Format);
    }
    Ok((domain, path))
}

/// `host[:port]` where host is a DNS-like name or a bracketed IPv6 address.
pub(crate) fn is_domain(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return false;
        };
        let ip = &rest[..end];
        if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        if after.is_empty() {
            return true;
        }
        match after.strip_prefix(':') {
            Some(p) => ("x", Some(p)),
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty() && host.split('.').all(is_domain_label)
}

fn is_domain_label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
pub(crate) fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// The `repo` and `tag` parameters of tag, import and commit as one
/// reference (Docker's `RepoTagReference`): none for an empty `repo`, the
/// tag `latest` when none is given, a digest refused, and a name that is
/// only `sha256` refused as ambiguous.
pub fn repo_tag(repo: &str, tag: &str) -> Result<Option<Reference>, ReferenceError> {
    if repo.is_empty() {
        return Ok(None);
    }
    let r = Reference::parse_normalized(repo)?;
    if r.digest().is_some() {
        return Err(ReferenceError::RepoWithDigest);
    }
    let r = match (tag, r.tag()) {
        ("", Some(_)) => r,
        ("", None) => r.with_tag(DEFAULT_TAG)?,
        (t, _) if is_tag(t) => r.with_tag(t)?,
        _ => return Err(ReferenceError::TagFormat),
    };
    if r.familiar_name() == "sha256" {
        return Err(ReferenceError::AmbiguousName);
    }
    Ok(Some(r))
}

/// `[\w][\w.-]{0,127}`
pub fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

fn parse_digest(d: &str) -> Result<String, ReferenceError> {
    let (alg, hex) = d.split_once(':').ok_or(ReferenceError::Format)?;
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|p| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    if !alg_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ReferenceError::Format);
    }
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::DigestAlgorithm),
    };
    if hex.len() != want || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::DigestLength);
    }
    Ok(d.to_string())
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
