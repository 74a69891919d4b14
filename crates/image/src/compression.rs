//! Compression detection by magic bytes (gzip, zstd, xz, bzip2, plain) and
//! transparent decompression of tar streams.

use std::io::{self, BufReader, Cursor, Read};

const BUF_SIZE: usize = 256 * 1024;

/// How a stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
    /// xz (one or more streams).
    Xz,
    /// bzip2 (one or more streams).
    Bzip2,
}

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2: &[u8] = b"BZh";

impl Compression {
    /// Detects the compression from the first bytes of a stream.
    pub fn detect(prefix: &[u8]) -> io::Result<Self> {
        if prefix.starts_with(GZIP) {
            Ok(Self::Gzip)
        } else if prefix.starts_with(ZSTD) {
            Ok(Self::Zstd)
        } else if prefix.starts_with(XZ) {
            Ok(Self::Xz)
        } else if prefix.starts_with(BZIP2) {
            Ok(Self::Bzip2)
        } else {
            Ok(Self::None)
        }
    }
}

/// Peeks at the start of `r`, detects its compression and returns a reader of the
/// decompressed bytes.
pub fn decompress<'a, R: Read + 'a>(mut r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut prefix = [0u8; 6];
    let mut n = 0;
    while n < prefix.len() {
        match r.read(&mut prefix[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let c = Compression::detect(&prefix[..n])?;
    // One buffer for everything above: tar reads headers 512 bytes at a time.
    let whole = BufReader::with_capacity(BUF_SIZE, Cursor::new(prefix[..n].to_vec()).chain(r));
    let out: Box<dyn Read + 'a> = match c {
        Compression::None => Box::new(whole),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            flate2::bufread::MultiGzDecoder::new(whole),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            zstd::stream::read::Decoder::with_buffer(whole)?,
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            liblzma::bufread::XzDecoder::new_multi_decoder(whole),
        )),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            bzip2::bufread::MultiBzDecoder::new(whole),
        )),
    };
    Ok((c, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(c: Compression, data: &[u8]) -> Vec<u8> {
        match c {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    #[test]
    fn detects_and_decodes() {
        let data = b"hello world, hello world, hello world".repeat(100);
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Xz,
            Compression::Bzip2,
        ] {
            let enc = roundtrip(c, &data);
            let (got, mut r) = decompress(&enc[..]).unwrap();
            assert_eq!(got, c);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
        let (c, mut r) = decompress(&b"ab"[..]).unwrap();
        assert_eq!(c, Compression::None);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
    }

    #[test]
    fn flags_truncated_streams() {
        let enc = roundtrip(Compression::Xz, &b"y".repeat(10000));
        let (_, mut r) = decompress(&enc[..enc.len() / 2]).unwrap();
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        let enc = roundtrip(Compression::Gzip, &b"x".repeat(10000));
        let (_, mut r) = decompress(&enc[..enc.len() / 2]).unwrap();
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
    }
}
