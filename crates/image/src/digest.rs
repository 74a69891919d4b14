//! Content digests: the `sha256:<64 lowercase hex>` type used for blobs, image ids,
//! diff ids and chain ids, plus a streaming hasher.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

/// Errors from parsing or verifying a digest.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// The string is not `algorithm:hex`.
    #[error("invalid checksum digest format")]
    Format,
    /// The algorithm is not sha256.
    #[error("unsupported digest algorithm")]
    Algorithm,
    /// The hex part has the wrong length or is not lowercase hex.
    #[error("invalid checksum digest length")]
    Length,
    /// Content did not hash to the expected digest.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Mismatch {
        /// The digest that was expected.
        expected: String,
        /// The digest of the content.
        actual: String,
    },
}

/// A sha256 digest. Always stored as 64 lowercase hex characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    hex: String,
}

/// True if `s` is exactly 64 lowercase hex characters.
pub fn is_full_hex(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s)
}

/// True if `s` is non-empty and made only of lowercase hex characters.
pub fn is_lower_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let (alg, hex) = s.split_once(':').ok_or(DigestError::Format)?;
        if alg.is_empty() || hex.is_empty() {
            return Err(DigestError::Format);
        }
        if alg != "sha256" {
            return Err(DigestError::Algorithm);
        }
        Self::from_hex(hex)
    }

    /// Builds a digest from its 64 lowercase hex characters.
    pub fn from_hex(hex: &str) -> Result<Self, DigestError> {
        if !is_full_hex(hex) {
            return Err(DigestError::Length);
        }
        Ok(Self {
            hex: hex.to_string(),
        })
    }

    /// The sha256 digest of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self::from_sha(Sha256::digest(bytes).as_slice())
    }

    /// Hashes everything `r` yields; returns the digest and the byte count.
    pub fn of_reader(r: &mut dyn Read) -> io::Result<(Self, u64)> {
        let mut h = Hasher::new();
        let n = io::copy(r, &mut h)?;
        Ok((h.finish(), n))
    }

    fn from_sha(bytes: &[u8]) -> Self {
        Self {
            hex: hex::encode(bytes),
        }
    }

    /// The hex part, without `sha256:`.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as Docker shows ids.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// Checks that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), DigestError> {
        let actual = Self::of_bytes(bytes);
        self.expect(&actual)
    }

    /// Returns a mismatch error unless `actual` equals `self`.
    pub fn expect(&self, actual: &Digest) -> Result<(), DigestError> {
        if self == actual {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                expected: self.to_string(),
                actual: actual.to_string(),
            })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest(sha256:{})", self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A streaming sha256 hasher that also counts bytes. Usable as an `io::Write` sink.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest::from_sha(self.sha.finalize().as_slice())
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that hashes what passes through it and optionally copies it to a writer.
pub struct HashingReader<R, W = io::Sink> {
    inner: R,
    hasher: Hasher,
    tee: Option<W>,
}

impl<R: Read> HashingReader<R, io::Sink> {
    /// Hashes what is read from `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
            tee: None,
        }
    }
}

impl<R: Read, W: Write> HashingReader<R, W> {
    /// Hashes what is read from `inner` and writes a copy of it to `tee`.
    pub fn with_tee(inner: R, tee: W) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
            tee: Some(tee),
        }
    }

    /// Like [`HashingReader::with_tee`], with the copy optional.
    pub fn with_opt_tee(inner: R, tee: Option<W>) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
            tee,
        }
    }

    /// Reads `inner` to its end, so the digest covers all of it.
    pub fn drain(&mut self) -> io::Result<u64> {
        io::copy(self, &mut io::sink())
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// True if nothing was read yet.
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// The digest, byte count and the tee writer.
    pub fn finish(self) -> (Digest, u64, Option<W>) {
        let len = self.hasher.len();
        (self.hasher.finish(), len, self.tee)
    }
}

impl<R: Read, W: Write> Read for HashingReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(t) = self.tee.as_mut() {
            t.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parse_and_display() {
        let d = Digest::parse(&format!("sha256:{EMPTY}")).unwrap();
        assert_eq!(d.hex(), EMPTY);
        assert_eq!(d.to_string(), format!("sha256:{EMPTY}"));
        assert_eq!(d.short(), &EMPTY[..12]);
        assert_eq!(Digest::of_bytes(b""), d);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(Digest::parse("sha256"), Err(DigestError::Format));
        assert_eq!(Digest::parse(":abc"), Err(DigestError::Format));
        assert_eq!(
            Digest::parse(&format!("md5:{EMPTY}")),
            Err(DigestError::Algorithm)
        );
        assert_eq!(Digest::parse("sha256:abc"), Err(DigestError::Length));
        let upper = EMPTY.to_uppercase();
        assert_eq!(
            Digest::parse(&format!("sha256:{upper}")),
            Err(DigestError::Length)
        );
    }

    #[test]
    fn verify_and_stream() {
        let d = Digest::of_bytes(b"hello");
        assert!(d.verify(b"hello").is_ok());
        assert!(matches!(
            d.verify(b"hellp"),
            Err(DigestError::Mismatch { .. })
        ));
        let mut out = Vec::new();
        let mut r = HashingReader::with_tee(&b"hello"[..], &mut out);
        r.drain().unwrap();
        let (d2, n, _) = r.finish();
        assert_eq!((d2, n), (d, 5));
        assert_eq!(out, b"hello");
        let json = serde_json::to_string(&Digest::of_bytes(b"")).unwrap();
        assert_eq!(json, format!("\"sha256:{EMPTY}\""));
        let back: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.hex(), EMPTY);
    }
}
