//! Writing tar streams: ustar headers, with PAX records only for what ustar cannot
//! hold (long names and link targets, large ids and sizes, out-of-range times,
//! xattrs). Times are whole seconds, as Docker writes them, so the same tree gives
//! the same bytes. Entry data is copied to exactly the size in the header: a file
//! that shrinks while it is read is padded with zeros, one that grows is cut.

use std::io::{self, BufWriter, Read, Write};

const BLOCK: usize = 512;
const BUF_SIZE: usize = 128 * 1024;

/// The type of a tar entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    HardLink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::Regular => b'0',
            Kind::HardLink => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
        }
    }
}

/// One entry's header fields.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    pub name: &'a [u8],
    pub kind: Kind,
    /// Permission and type bits as `st_mode` holds them (Go's `FileInfoHeader`
    /// writes the same bits).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Bytes of data that follow (regular files only).
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Symlink or hardlink target.
    pub link: &'a [u8],
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Extended attributes, written as `SCHILY.xattr.<name>` PAX records.
    pub xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

impl<'a> Entry<'a> {
    /// An entry with no data, link, device or xattrs, owned by root.
    pub fn new(name: &'a [u8], kind: Kind, mode: u32, mtime: i64) -> Self {
        Self {
            name,
            kind,
            mode,
            uid: 0,
            gid: 0,
            size: 0,
            mtime,
            link: b"",
            dev_major: 0,
            dev_minor: 0,
            xattrs: &[],
        }
    }
}

/// A tar stream being written.
pub(crate) struct TarWriter<'w> {
    w: BufWriter<&'w mut dyn Write>,
    written: u64,
    buf: Vec<u8>,
}

/// Largest value an octal field of `width` bytes (with its NUL) holds.
fn octal_max(width: usize) -> u64 {
    (1u64 << (3 * (width as u32 - 1))) - 1
}

fn put_octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

fn put_bytes(field: &mut [u8], v: &[u8]) {
    field[..v.len()].copy_from_slice(v);
}

/// Splits a long name into ustar's prefix (<= 155 bytes) and name (<= 100 bytes)
/// at a slash.
fn split_ustar(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= 100 {
        return Some((b"", name));
    }
    let lo = name.len().saturating_sub(101);
    (lo..name.len().min(156))
        .filter(|i| name[*i] == b'/')
        .map(|i| (&name[..i], &name[i + 1..]))
        .find(|(p, n)| !n.is_empty() && n.len() <= 100 && p.len() <= 155)
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `len` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let base = key.len() + value.len() + 3;
    let mut len = base + 1;
    loop {
        let total = base + len.to_string().len();
        if total == len {
            break;
        }
        len = total;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

impl<'w> TarWriter<'w> {
    pub fn new(w: &'w mut dyn Write) -> Self {
        Self {
            w: BufWriter::with_capacity(BUF_SIZE, w),
            written: 0,
            buf: Vec::new(),
        }
    }

    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rem = (len % BLOCK as u64) as usize;
        if rem != 0 {
            self.write(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    /// Writes the header of `e` (preceded by a PAX header if needed).
    pub fn header(&mut self, e: &Entry<'_>) -> io::Result<()> {
        let mut pax: Vec<(&[u8], Vec<u8>)> = Vec::new();
        let mut block = [0u8; BLOCK];
        match split_ustar(e.name) {
            Some((prefix, name)) => {
                put_bytes(&mut block[0..100], name);
                put_bytes(&mut block[345..500], prefix);
            }
            None => {
                pax.push((b"path", e.name.to_vec()));
                put_bytes(&mut block[0..100], &e.name[..100]);
            }
        }
        if e.link.len() > 100 {
            pax.push((b"linkpath", e.link.to_vec()));
            put_bytes(&mut block[157..257], &e.link[..100]);
        } else {
            put_bytes(&mut block[157..257], e.link);
        }
        put_octal(&mut block[100..108], u64::from(e.mode & 0o7777777));
        for (range, key, v) in [(108..116, &b"uid"[..], e.uid), (116..124, b"gid", e.gid)] {
            if v > octal_max(8) {
                pax.push((key, v.to_string().into_bytes()));
                put_octal(&mut block[range], 0);
            } else {
                put_octal(&mut block[range], v);
            }
        }
        if e.size > octal_max(12) {
            pax.push((b"size", e.size.to_string().into_bytes()));
            put_octal(&mut block[124..136], 0);
        } else {
            put_octal(&mut block[124..136], e.size);
        }
        match u64::try_from(e.mtime) {
            Ok(t) if t <= octal_max(12) => put_octal(&mut block[136..148], t),
            _ => {
                pax.push((b"mtime", e.mtime.to_string().into_bytes()));
                put_octal(&mut block[136..148], 0);
            }
        }
        block[156] = e.kind.flag();
        put_bytes(&mut block[257..265], b"ustar\x0000");
        for (range, v) in [(329..337, e.dev_major), (337..345, e.dev_minor)] {
            if u64::from(v) > octal_max(8) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "device number {v} of {:?} does not fit a tar header",
                        String::from_utf8_lossy(e.name)
                    ),
                ));
            }
            put_octal(&mut block[range], u64::from(v));
        }
        let mut xattrs: Vec<&(Vec<u8>, Vec<u8>)> = e.xattrs.iter().collect();
        xattrs.sort();
        if !pax.is_empty() || !xattrs.is_empty() {
            self.pax_header(e.name, &pax, &xattrs)?;
        }
        checksum(&mut block);
        self.write(&block)
    }

    fn pax_header(
        &mut self,
        name: &[u8],
        records: &[(&[u8], Vec<u8>)],
        xattrs: &[&(Vec<u8>, Vec<u8>)],
    ) -> io::Result<()> {
        let mut body = Vec::new();
        let mut sorted: Vec<&(&[u8], Vec<u8>)> = records.iter().collect();
        sorted.sort();
        for (k, v) in sorted {
            pax_record(&mut body, k, v);
        }
        for (k, v) in xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend_from_slice(k);
            pax_record(&mut body, &key, v);
        }
        let trimmed = name.strip_suffix(b"/").unwrap_or(name);
        let base = trimmed.rsplit(|b| *b == b'/').next().unwrap_or(trimmed);
        let mut pax_name = b"PaxHeaders.0/".to_vec();
        pax_name.extend_from_slice(base);
        pax_name.truncate(100);
        let mut block = [0u8; BLOCK];
        put_bytes(&mut block[0..100], &pax_name);
        put_octal(&mut block[100..108], 0o644);
        put_octal(&mut block[108..116], 0);
        put_octal(&mut block[116..124], 0);
        put_octal(&mut block[124..136], body.len() as u64);
        put_octal(&mut block[136..148], 0);
        block[156] = b'x';
        put_bytes(&mut block[257..265], b"ustar\x0000");
        put_octal(&mut block[329..337], 0);
        put_octal(&mut block[337..345], 0);
        checksum(&mut block);
        self.write(&block)?;
        self.write(&body)?;
        self.pad(body.len() as u64)
    }

    /// Writes exactly `size` bytes of data from `r` and the block padding.
    /// Returns how many bytes `r` supplied (less than `size` if it ended early).
    pub fn data(&mut self, r: &mut dyn Read, size: u64) -> io::Result<u64> {
        if self.buf.is_empty() {
            self.buf = vec![0u8; BUF_SIZE];
        }
        let mut left = size;
        let mut supplied = 0;
        while left > 0 {
            let want = left.min(self.buf.len() as u64) as usize;
            let n = match r.read(&mut self.buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.w.write_all(&self.buf[..n])?;
            self.written += n as u64;
            left -= n as u64;
            supplied += n as u64;
        }
        if left > 0 {
            self.buf.fill(0);
            while left > 0 {
                let n = left.min(self.buf.len() as u64) as usize;
                self.w.write_all(&self.buf[..n])?;
                self.written += n as u64;
                left -= n as u64;
            }
        }
        self.pad(size)?;
        Ok(supplied)
    }

    /// Writes the end-of-archive marker (two zero blocks) and flushes; returns the
    /// total bytes written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.write(&[0u8; 2 * BLOCK])?;
        self.w.flush()?;
        Ok(self.written)
    }
}

fn checksum(block: &mut [u8; BLOCK]) {
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|b| u32::from(*b)).sum();
    let s = format!("{sum:06o}");
    block[148..154].copy_from_slice(s.as_bytes());
    block[154] = 0;
    block[155] = b' ';
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, type, uid, data, xattrs) of each entry.
    type ReadBack = (String, tar::EntryType, u64, Vec<u8>, Vec<(String, Vec<u8>)>);

    fn read_back(bytes: &[u8]) -> Vec<ReadBack> {
        let mut ar = tar::Archive::new(bytes);
        let mut out = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let mut xattrs = Vec::new();
            if let Some(p) = e.pax_extensions().unwrap() {
                for x in p {
                    let x = x.unwrap();
                    if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                        xattrs.push((k.to_string(), x.value_bytes().to_vec()));
                    }
                }
            }
            let name = String::from_utf8(e.path_bytes().to_vec()).unwrap();
            let kind = e.header().entry_type();
            let uid = e.header().uid().unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.push((name, kind, uid, data, xattrs));
        }
        out
    }

    #[test]
    fn empty_archive_is_two_zero_blocks() {
        let mut out = Vec::new();
        let n = TarWriter::new(&mut out).finish().unwrap();
        assert_eq!(n, 1024);
        assert_eq!(out, vec![0u8; 1024]);
    }

    #[test]
    fn ustar_fields_and_checksum_read_back() {
        let mut out = Vec::new();
        let mut t = TarWriter::new(&mut out);
        let mut e = Entry::new(b"dir/", Kind::Dir, 0o40755, 1_700_000_000);
        e.uid = 1000;
        t.header(&e).unwrap();
        let mut f = Entry::new(b"dir/file", Kind::Regular, 0o100644, 1_700_000_000);
        f.size = 5;
        t.header(&f).unwrap();
        assert_eq!(t.data(&mut &b"hello"[..], 5).unwrap(), 5);
        let mut l = Entry::new(b"dir/link", Kind::Symlink, 0o120777, 0);
        l.link = b"../x";
        t.header(&l).unwrap();
        t.finish().unwrap();
        assert_eq!(out.len() % 512, 0);
        let got = read_back(&out);
        assert_eq!(got[0].0, "dir/");
        assert_eq!(got[0].1, tar::EntryType::Directory);
        assert_eq!(got[0].2, 1000);
        assert_eq!(got[1].3, b"hello");
        assert_eq!(got[2].1, tar::EntryType::Symlink);
        let h = tar::Header::from_byte_slice(&out[..512]);
        assert_eq!(h.mode().unwrap(), 0o40755);
        assert!(h.as_ustar().is_some());
        assert_eq!(h.mtime().unwrap(), 1_700_000_000);
    }

    #[test]
    fn long_names_big_ids_and_xattrs_use_pax() {
        let long = format!("{}/{}", "d".repeat(150), "f".repeat(120));
        let split = format!("{}/{}", "p".repeat(120), "n".repeat(90));
        let target = "t".repeat(300);
        let xattrs = vec![
            (b"user.b".to_vec(), b"2".to_vec()),
            (b"user.a".to_vec(), vec![0, 1, 255]),
        ];
        let mut out = Vec::new();
        let mut t = TarWriter::new(&mut out);
        let mut e = Entry::new(long.as_bytes(), Kind::Regular, 0o100600, -5);
        e.uid = 5_000_000;
        e.xattrs = &xattrs;
        t.header(&e).unwrap();
        t.header(&Entry::new(split.as_bytes(), Kind::Fifo, 0o10600, 1))
            .unwrap();
        let mut l = Entry::new(b"l", Kind::Symlink, 0o120777, 1);
        l.link = target.as_bytes();
        t.header(&l).unwrap();
        t.finish().unwrap();
        let got = read_back(&out);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, long);
        assert_eq!(got[0].2, 5_000_000);
        assert_eq!(
            got[0].4,
            vec![
                ("user.a".to_string(), vec![0, 1, 255]),
                ("user.b".to_string(), b"2".to_vec())
            ]
        );
        assert_eq!(got[1].0, split);
        let mut ar = tar::Archive::new(&out[..]);
        let mut entries = ar.entries().unwrap();
        let mut first = entries.next().unwrap().unwrap();
        let mut mtime = None;
        for x in first.pax_extensions().unwrap().unwrap() {
            let x = x.unwrap();
            if x.key().unwrap() == "mtime" {
                mtime = Some(x.value().unwrap().to_string());
            }
        }
        assert_eq!(mtime.as_deref(), Some("-5"));
        let third = entries.nth(1).unwrap().unwrap();
        assert_eq!(third.link_name_bytes().unwrap().as_ref(), target.as_bytes());
    }

    #[test]
    fn data_is_exactly_the_header_size() {
        let mut out = Vec::new();
        let mut t = TarWriter::new(&mut out);
        let mut e = Entry::new(b"short", Kind::Regular, 0o100644, 0);
        e.size = 10;
        t.header(&e).unwrap();
        assert_eq!(t.data(&mut &b"abc"[..], 10).unwrap(), 3);
        let mut e = Entry::new(b"long", Kind::Regular, 0o100644, 0);
        e.size = 2;
        t.header(&e).unwrap();
        assert_eq!(t.data(&mut &b"abcdef"[..], 2).unwrap(), 2);
        t.finish().unwrap();
        let got = read_back(&out);
        assert_eq!(got[0].3, b"abc\0\0\0\0\0\0\0");
        assert_eq!(got[1].3, b"ab");
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        let mut v = Vec::new();
        pax_record(&mut v, b"path", b"x");
        assert_eq!(v, b"9 path=x\n");
        let mut v = Vec::new();
        // 98 bytes without the length: two digits would make 100, so three are needed.
        let val = vec![b'a'; 91];
        pax_record(&mut v, b"path", &val);
        assert_eq!(v.len(), 101);
        assert!(v.starts_with(b"101 path="));
    }

    #[test]
    fn oversized_device_numbers_are_refused() {
        let mut out = Vec::new();
        let mut t = TarWriter::new(&mut out);
        let mut e = Entry::new(b"dev", Kind::Char, 0o20600, 0);
        e.dev_major = u32::MAX;
        assert!(t.header(&e).is_err());
    }
}
