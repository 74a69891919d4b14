//! Keeping a monitor small once its container runs: an idle monitor drops
//! the pages it only needed to start.

/// Gives back what the setup used and an idle monitor no longer needs, so
/// it stays small: its mappings of program and library files (code, read-only
/// data; the pages stay in the page cache, shared, and what the poll loop
/// uses is mapped again on its next use, a minor fault per page), then the
/// heap memory freed since the start.
pub(crate) fn release_startup_memory() {
    if let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") {
        for (start, len) in pristine_file_mappings(&smaps) {
            // SAFETY: the range is a whole private, non-writable file mapping
            // without a single private (copied-on-write) page, so every page
            // equals the file's: MADV_DONTNEED only drops this process's page
            // table entries and later accesses read the same bytes back. The
            // process is single-threaded: nothing can change that meanwhile.
            unsafe {
                libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
            }
        }
    }
    // SAFETY: malloc_trim only walks glibc's own heap; no pointers given.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `(start, length)` of every private, non-writable file mapping in the
/// text of `/proc/self/smaps` that has no anonymous (copied) page.
fn pristine_file_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            let anon = kb.trim().trim_end_matches("kB").trim();
            if let (Some(m), "0") = (current.take(), anon) {
                out.push(m);
            }
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        // A mapping's header: `start-end perms offset dev inode [path]`.
        current = None;
        let path = f.nth(3).unwrap_or("");
        let p = perms.as_bytes();
        if p.len() == 4 && p[1] == b'-' && p[3] == b'p' && path.starts_with('/') && b > a {
            current = Some((a, b - a));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pristine_file_mappings() {
        let smaps = "\
55d0a0000000-55d0a0100000 r--p 00000000 fe:00 12 /usr/bin/berth
Rss:                 576 kB
Anonymous:             0 kB
55d0a0100000-55d0a0300000 r-xp 00100000 fe:00 12 /usr/bin/berth
Anonymous:             0 kB
55d0a0300000-55d0a0340000 r--p 00300000 fe:00 12 /usr/bin/berth
Anonymous:           272 kB
55d0a0340000-55d0a0341000 rw-p 00340000 fe:00 12 /usr/bin/berth
Anonymous:             0 kB
55d0a1000000-55d0a1021000 rw-p 00000000 00:00 0 [heap]
Anonymous:            48 kB
7f0000000000-7f0000100000 r-xp 00026000 fe:00 34 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000201000 r--s 00000000 fe:00 35 /shared
Anonymous:             0 kB
7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";
        assert_eq!(
            pristine_file_mappings(smaps),
            [
                (0x55d0_a000_0000, 0x10_0000),
                (0x55d0_a010_0000, 0x20_0000),
                (0x7f00_0000_0000, 0x10_0000)
            ]
        );
        // And on the real process: this test's own code is among them.
        let own = pristine_file_mappings(&std::fs::read_to_string("/proc/self/smaps").unwrap());
        let here = finds_pristine_file_mappings as fn() as usize;
        assert!(own.iter().any(|(a, l)| (*a..a + l).contains(&here)));
    }
}
