//! Reading the host's mount table (`/proc/self/mountinfo`): whether a path
//! is a mount point, and the propagation of the mount holding a path. The
//! parsing is pure; [`read`] is the one place that touches the file.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One line of mountinfo, the fields berth needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mount_point: PathBuf,
    /// In a peer group (`shared:N`).
    pub shared: bool,
    /// Receives propagation from a master (`master:N`).
    pub slave: bool,
}

/// The host's mount table, read now.
pub fn read() -> Vec<Entry> {
    parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            let optional = fields.get(6..sep)?;
            Some(Entry {
                mount_point: unescape(fields.get(4)?),
                shared: optional.iter().any(|f| f.starts_with("shared:")),
                slave: optional.iter().any(|f| f.starts_with("master:")),
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Whether `path` is itself a mount point in `table`.
pub fn is_mount_point(table: &[Entry], path: &Path) -> bool {
    table.iter().any(|e| e.mount_point == path)
}

/// The mount holding `path` (the last-mounted longest ancestor), if any.
pub fn containing(table: &[Entry], path: &Path) -> Option<Entry> {
    let mut best: Option<&Entry> = None;
    for e in table.iter().filter(|e| path.starts_with(&e.mount_point)) {
        let longer =
            best.is_none_or(|b| e.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len());
        if longer {
            best = Some(e);
        }
    }
    best.cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 27 0:50 / /run rw - tmpfs tmpfs rw
41 27 0:51 / /mnt/a\\040b rw master:3 - tmpfs tmpfs rw
42 41 0:52 / /mnt/a\\040b/in rw shared:7 master:3 - tmpfs tmpfs rw
bogus line
";

    #[test]
    fn parses_propagation_and_escapes() {
        let t = parse(INFO);
        assert_eq!(t.len(), 4);
        assert_eq!(
            t[2],
            Entry {
                mount_point: PathBuf::from("/mnt/a b"),
                shared: false,
                slave: true
            }
        );
        assert!(t[3].shared && t[3].slave);
        assert!(t[0].shared && !t[1].shared && !t[1].slave);
    }

    #[test]
    fn finds_the_containing_mount() {
        let t = parse(INFO);
        let at = |p: &str| containing(&t, Path::new(p)).map(|e| e.mount_point);
        assert_eq!(at("/run/x"), Some(PathBuf::from("/run")));
        assert_eq!(at("/runner"), Some(PathBuf::from("/")));
        assert_eq!(at("/mnt/a b/in/deep"), Some(PathBuf::from("/mnt/a b/in")));
        assert!(is_mount_point(&t, Path::new("/run")));
        assert!(!is_mount_point(&t, Path::new("/run/x")));
    }
}
