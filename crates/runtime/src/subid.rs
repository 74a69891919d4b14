//! Subordinate ids (`/etc/subuid`, `/etc/subgid`) and the id mapping a
//! rootless daemon's user namespace gets from them, as rootless Docker and
//! Podman build it: the user's own id becomes 0, and the user's
//! subordinate ranges follow from 1 in file order. With no ranges, the
//! mapping is the user's id alone (then only files owned by root inside
//! the container can exist). Pure: the file's text comes in; the result
//! is what `newuidmap`/`newgidmap` take.

/// One line of a `uid_map`/`gid_map`: `size` ids from `inside` map to ids
/// from `outside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub size: u32,
}

/// Why a subordinate id file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubidError {
    /// A line is not `owner:start:count` with numbers.
    #[error("line {line} of {file}: expected owner:start:count, found {text:?}")]
    Malformed {
        file: String,
        line: usize,
        text: String,
    },
    /// A range runs past the largest id.
    #[error("line {line} of {file}: the range {start}+{count} runs past the largest id")]
    Overflow {
        file: String,
        line: usize,
        start: u32,
        count: u32,
    },
}

/// The ranges `file` (its name, for errors; `text`, its content) gives the
/// user named `name` with id `id`, in file order. Lines naming the user by
/// name or by number count; empty lines and `#` comments are skipped.
pub fn ranges_for(
    file: &str,
    text: &str,
    name: &str,
    id: u32,
) -> Result<Vec<(u32, u32)>, SubidError> {
    let mut out = Vec::new();
    let id_text = id.to_string();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = || SubidError::Malformed {
            file: file.to_string(),
            line: i + 1,
            text: raw.to_string(),
        };
        let mut f = line.split(':');
        let (Some(owner), Some(start), Some(count), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(malformed());
        };
        let start: u32 = start.parse().map_err(|_| malformed())?;
        let count: u32 = count.parse().map_err(|_| malformed())?;
        if owner != name && owner != id_text {
            continue;
        }
        if count == 0 {
            continue;
        }
        if start.checked_add(count - 1).is_none() {
            return Err(SubidError::Overflow {
                file: file.to_string(),
                line: i + 1,
                start,
                count,
            });
        }
        out.push((start, count));
    }
    Ok(out)
}

/// The mapping of a remapped root daemon's containers (`--userns-remap`):
/// the remap user's subordinate `ranges` one after another from id 0, as
/// Docker maps them. Ranges that would run past the largest id are cut.
pub fn remap_mapping(ranges: &[(u32, u32)]) -> Vec<IdRange> {
    consecutive(0, ranges)
}

/// The mapping for a user with id `id` and subordinate `ranges`: `id` as
/// 0, then the ranges from 1. Ranges that would push an inside id past
/// the largest are cut short.
pub fn user_mapping(id: u32, ranges: &[(u32, u32)]) -> Vec<IdRange> {
    let mut out = vec![IdRange {
        inside: 0,
        outside: id,
        size: 1,
    }];
    out.extend(consecutive(1, ranges));
    out
}

/// `ranges` (start, count) one after another inside from `first`, cut
/// where they would run past the largest id.
fn consecutive(first: u32, ranges: &[(u32, u32)]) -> Vec<IdRange> {
    let mut out = Vec::new();
    let mut next = first;
    for &(start, count) in ranges {
        let size = count.min(u32::MAX - next);
        if size == 0 {
            break;
        }
        out.push(IdRange {
            inside: next,
            outside: start,
            size,
        });
        next += size;
    }
    out
}

/// The arguments after the pid for `newuidmap PID ...`/`newgidmap`:
/// `inside outside size` for each range.
pub fn map_args(mapping: &[IdRange]) -> Vec<String> {
    mapping
        .iter()
        .flat_map(|r| [r.inside, r.outside, r.size])
        .map(|n| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "\
# ranges for the build users
ann:100000:65536
1001:200000:65536

bob:300000:65536
ann:500000:1000
ann:600000:0
";

    #[test]
    fn remapped_containers_map_the_ranges_from_zero() {
        let r = |inside, outside, size| IdRange {
            inside,
            outside,
            size,
        };
        assert_eq!(
            remap_mapping(&[(100000, 65536), (500000, 1000)]),
            [r(0, 100000, 65536), r(65536, 500000, 1000)]
        );
        assert_eq!(
            remap_mapping(&[(1, u32::MAX - 1), (5, 10)]),
            [r(0, 1, u32::MAX - 1), r(u32::MAX - 1, 5, 1)]
        );
        assert!(remap_mapping(&[]).is_empty());
    }

    #[test]
    fn ranges_by_name_and_by_number_in_file_order() {
        assert_eq!(
            ranges_for("/etc/subuid", SUBUID, "ann", 1000).unwrap(),
            [(100000, 65536), (500000, 1000)]
        );
        // A user listed by number.
        assert_eq!(
            ranges_for("/etc/subuid", SUBUID, "cat", 1001).unwrap(),
            [(200000, 65536)]
        );
        assert!(ranges_for("/etc/subuid", SUBUID, "dan", 1002)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            ranges_for("/etc/subuid", "ann:100000\n", "ann", 1000)
                .unwrap_err()
                .to_string(),
            "line 1 of /etc/subuid: expected owner:start:count, found \"ann:100000\""
        );
        assert!(ranges_for("/etc/subgid", "x:1:2\nann:a:2\n", "ann", 1000).is_err());
        assert!(ranges_for("/etc/subgid", "ann:1:2:3\n", "ann", 1000).is_err());
        assert_eq!(
            ranges_for("/etc/subgid", "ann:4294967295:2\n", "ann", 1000)
                .unwrap_err()
                .to_string(),
            "line 1 of /etc/subgid: the range 4294967295+2 runs past the largest id"
        );
    }

    #[test]
    fn mapping_golden() {
        let m = user_mapping(1000, &[(100000, 65536), (500000, 1000)]);
        assert_eq!(
            map_args(&m),
            ["0", "1000", "1", "1", "100000", "65536", "65537", "500000", "1000"]
        );
        // No ranges: the user alone.
        assert_eq!(map_args(&user_mapping(1000, &[])), ["0", "1000", "1"]);
        // Inside ids never pass the largest.
        let m = user_mapping(1000, &[(1, u32::MAX), (5, 10)]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].size, u32::MAX - 1);
    }
}
