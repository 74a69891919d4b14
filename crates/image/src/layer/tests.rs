//! Layer unpacking tests: containment, whiteouts, metadata, and the layer store.

use super::*;
use crate::error::ErrorKind;
use crate::layout::Layout;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use tar::{EntryType, Header};

/// Builds tars entry by entry, writing names and link targets raw (the `tar`
/// builder refuses `..`, which is exactly what these tests need).
#[derive(Default)]
struct Tar {
    out: Vec<u8>,
}

impl Tar {
    fn raw(
        &mut self,
        name: &str,
        kind: EntryType,
        link: &str,
        data: &[u8],
        mode: u32,
    ) -> &mut Self {
        let mut h = Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(name, EntryType::Regular, "", data, 0o644)
    }
    fn dir(&mut self, name: &str) -> &mut Self {
        self.raw(name, EntryType::Directory, "", b"", 0o755)
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(name, EntryType::Symlink, target, b"", 0o777)
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(name, EntryType::Link, target, b"", 0o644)
    }
    fn finish(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.out);
        v.extend(std::iter::repeat_n(0u8, 1024));
        v
    }
}

/// A scratch area: `root/` to unpack into and `outside/` holding a sentinel.
struct Scratch {
    _t: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("a").join("b").join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("sentinel"), b"untouched").unwrap();
        Self {
            _t: t,
            root,
            outside,
        }
    }
    fn unpack(&self, tar: &[u8]) -> Result<UnpackStats, LayerError> {
        unpack(&mut &tar[..], &self.root, &UnpackOptions::default())
    }
    /// Nothing was written next to or above the root, and the sentinel is intact.
    fn assert_outside_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sentinel")]);
        assert_eq!(
            std::fs::read(self.outside.join("sentinel")).unwrap(),
            b"untouched"
        );
        assert_eq!(
            std::fs::metadata(self.outside.join("sentinel"))
                .unwrap()
                .nlink(),
            1
        );
        let parent = self.root.parent().unwrap();
        let siblings: Vec<_> = std::fs::read_dir(parent).unwrap().collect();
        assert_eq!(siblings.len(), 1, "something written beside the root");
        for up in [parent, parent.parent().unwrap()] {
            assert_eq!(
                std::fs::read_dir(up).unwrap().count(),
                1,
                "something written in {up:?}"
            );
        }
    }
}

#[test]
fn dotdot_entry_is_refused() {
    let s = Scratch::new();
    let tar = Tar::default()
        .file("../../../outside/sentinel", b"pwned")
        .finish();
    let err = s.unpack(&tar).unwrap_err();
    assert!(matches!(err, LayerError::Breakout { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let tar = Tar::default().file("../etc/passwd", b"pwned").finish();
    assert!(matches!(s.unpack(&tar), Err(LayerError::Breakout { .. })));
    s.assert_outside_untouched();
}

#[test]
fn absolute_paths_are_contained() {
    let s = Scratch::new();
    let abs = s.outside.join("sentinel");
    let tar = Tar::default()
        .file("/abs/path", b"x")
        .file(abs.to_str().unwrap(), b"pwned")
        .file("/../../escaped", b"y")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(s.root.join("abs/path")).unwrap(), b"x");
    let inside = s.root.join(abs.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(inside).unwrap(), b"pwned");
    assert_eq!(std::fs::read(s.root.join("escaped")).unwrap(), b"y");
    s.assert_outside_untouched();
}

#[test]
fn symlink_to_absolute_dir_cannot_redirect_writes() {
    let s = Scratch::new();
    // x -> /etc, then x/passwd: /etc does not exist inside the root.
    let tar = Tar::default()
        .symlink("x", "/etc")
        .file("x/passwd", b"pwned")
        .finish();
    let r = s.unpack(&tar);
    assert!(r.is_err() || s.root.join("etc/passwd").is_file());
    assert_ne!(std::fs::read("/etc/passwd").unwrap(), b"pwned");
    // y -> the real outside dir, then writes through it land inside the root.
    let s = Scratch::new();
    let target = s.outside.to_str().unwrap().to_string();
    let inner = s.root.join(s.outside.strip_prefix("/").unwrap());
    let tar = Tar::default()
        .dir(inner.strip_prefix(&s.root).unwrap().to_str().unwrap())
        .symlink("y", &target)
        .file("y/pwned", b"pwned")
        .file("y/sentinel", b"pwned")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(inner.join("pwned")).unwrap(), b"pwned");
    assert_eq!(std::fs::read_link(s.root.join("y")).unwrap(), s.outside);
    s.assert_outside_untouched();
}

#[test]
fn symlink_climbing_out_is_contained() {
    let s = Scratch::new();
    let tar = Tar::default()
        .symlink("x", "../../..")
        .file("x/escaped", b"pwned")
        .file("x/outside/sentinel", b"pwned")
        .symlink("d/link", "../../../../outside")
        .file("d/link/new", b"pwned")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(s.root.join("escaped")).unwrap(), b"pwned");
    assert_eq!(
        std::fs::read(s.root.join("outside/sentinel")).unwrap(),
        b"pwned"
    );
    assert_eq!(std::fs::read(s.root.join("outside/new")).unwrap(), b"pwned");
    s.assert_outside_untouched();
}

#[test]
fn symlink_replaced_by_file_is_not_followed() {
    let s = Scratch::new();
    let target = s.outside.join("sentinel");
    let tar = Tar::default()
        .symlink("f", target.to_str().unwrap())
        .file("f", b"pwned")
        .symlink("d", s.outside.to_str().unwrap())
        .dir("d")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(s.root.join("f")).unwrap(), b"pwned");
    assert!(s.root.join("d").symlink_metadata().unwrap().is_dir());
    s.assert_outside_untouched();
}

#[test]
fn hardlinks_outside_are_refused() {
    let s = Scratch::new();
    let tar = Tar::default()
        .hardlink("h", "../../outside/sentinel")
        .finish();
    let err = s.unpack(&tar).unwrap_err();
    assert!(matches!(err, LayerError::LinkOutside { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let tar = Tar::default()
        .hardlink("h", "/../../outside/sentinel")
        .finish();
    assert!(matches!(
        s.unpack(&tar),
        Err(LayerError::LinkOutside { .. })
    ));
    // Through a symlink: resolves inside the root, where the target does not exist.
    let tar = Tar::default()
        .symlink("d", s.outside.to_str().unwrap())
        .hardlink("h2", "d/sentinel")
        .finish();
    assert!(s.unpack(&tar).is_err());
    // An absolute target names a file inside the root.
    let tar = Tar::default()
        .file("etc/f", b"x")
        .hardlink("h3", "/etc/f")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::metadata(s.root.join("h3")).unwrap().nlink(), 2);
    s.assert_outside_untouched();
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let s = Scratch::new();
    let tar = Tar::default()
        .dir("etc")
        .file("etc/.wh.gone", b"")
        .dir("opaque")
        .file("opaque/.wh..wh..opq", b"")
        .file("opaque/kept", b"k")
        .file("new/.wh..wh..opq", b"")
        .file(".wh..wh.plnk", b"")
        .finish();
    s.unpack(&tar).unwrap();
    let md = std::fs::symlink_metadata(s.root.join("etc/gone")).unwrap();
    assert!(md.file_type().is_char_device());
    assert_eq!(md.rdev(), 0);
    assert!(!s.root.join("etc/.wh.gone").exists());
    assert_eq!(
        xattr::get(s.root.join("opaque"), "trusted.overlay.opaque").unwrap(),
        Some(b"y".to_vec())
    );
    assert_eq!(
        xattr::get(s.root.join("new"), "trusted.overlay.opaque").unwrap(),
        Some(b"y".to_vec())
    );
    assert!(s.root.join("opaque/kept").is_file());
    assert!(!s.root.join("opaque/.wh..wh..opq").exists());
    assert!(!s.root.join(".wh..wh.plnk").exists());
    // A whiteout naming ".." is refused rather than removing the parent.
    let s = Scratch::new();
    let tar = Tar::default().dir("a").file("a/.wh...", b"").finish();
    assert!(s.unpack(&tar).is_err());
    assert!(s.root.join("a").is_dir());
    s.assert_outside_untouched();
}

/// Layers applied one over another into one tree: a whiteout removes what
/// an earlier layer wrote (a directory with its contents), an opaque
/// directory loses the earlier layers' entries and keeps its own.
#[test]
fn applied_whiteouts_flatten_layers() {
    let s = Scratch::new();
    let apply = UnpackOptions {
        whiteouts: Whiteouts::Apply,
        ..Default::default()
    };
    let base = Tar::default()
        .file("a", b"a")
        .dir("gone")
        .file("gone/inner", b"i")
        .dir("d")
        .file("d/x", b"x")
        .file("d/y", b"y")
        .dir("e")
        .file("e/kept", b"k")
        .finish();
    let top = Tar::default()
        .file(".wh.a", b"")
        .file(".wh.gone", b"")
        .dir("d")
        .file("d/.wh..wh..opq", b"")
        .file("d/z", b"z")
        .file("e/.wh.absent", b"")
        .finish();
    for layer in [&base, &top] {
        unpack(&mut &layer[..], &s.root, &apply).unwrap();
    }
    let mut tree: Vec<String> = walkdir(&s.root);
    tree.sort();
    assert_eq!(tree, ["d", "d/z", "e", "e/kept"]);
    assert_eq!(std::fs::read(s.root.join("d/z")).unwrap(), b"z");
    assert_eq!(
        xattr::get(s.root.join("d"), "trusted.overlay.opaque").unwrap(),
        None
    );
    s.assert_outside_untouched();
}

/// Every path below `root`, relative to it.
fn walkdir(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

#[test]
fn keeps_ownership_modes_xattrs_times_and_special_files() {
    let s = Scratch::new();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Directory);
    h.set_mode(0o750);
    h.set_uid(1001);
    h.set_gid(1002);
    h.set_mtime(1_000_000_000);
    h.set_size(0);
    b.append_data(&mut h, "dir", &b""[..]).unwrap();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o4755);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1);
    h.set_size(5);
    b.append_data(&mut h, "dir/suid", &b"hello"[..]).unwrap();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Char);
    h.set_mode(0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_size(0);
    h.set_mtime(2);
    b.append_data(&mut h, "dev/null", &b""[..]).unwrap();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Fifo);
    h.set_mode(0o620);
    h.set_size(0);
    h.set_mtime(3);
    b.append_data(&mut h, "fifo", &b""[..]).unwrap();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Symlink);
    h.set_mode(0o777);
    h.set_uid(7);
    h.set_gid(8);
    h.set_size(0);
    h.set_mtime(4);
    b.append_link(&mut h, "link", "dir/suid").unwrap();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "hard", "dir/suid").unwrap();
    let tar = b.into_inner().unwrap();
    let stats = s.unpack(&tar).unwrap();
    assert_eq!(stats.size, 5);

    let md = std::fs::metadata(s.root.join("dir/suid")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 5678));
    assert_eq!(md.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(md.mtime(), 1);
    assert_eq!(md.nlink(), 2);
    let md = std::fs::metadata(s.root.join("dir")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1001, 1002));
    assert_eq!(md.permissions().mode() & 0o7777, 0o750);
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_000_000_000, 0));
    let md = std::fs::symlink_metadata(s.root.join("dev/null")).unwrap();
    assert!(md.file_type().is_char_device());
    assert_eq!(md.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(md.permissions().mode() & 0o7777, 0o666);
    let md = std::fs::symlink_metadata(s.root.join("fifo")).unwrap();
    assert!(md.file_type().is_fifo());
    assert_eq!(md.permissions().mode() & 0o7777, 0o620);
    let md = std::fs::symlink_metadata(s.root.join("link")).unwrap();
    assert!(md.file_type().is_symlink());
    assert_eq!((md.uid(), md.gid(), md.mtime()), (7, 8, 4));
    assert_eq!(
        std::fs::read_link(s.root.join("link")).unwrap(),
        Path::new("dir/suid")
    );
}

#[test]
fn pax_xattrs_and_nanosecond_mtime() {
    let s = Scratch::new();
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([
        ("SCHILY.xattr.user.test", &b"hello"[..]),
        ("SCHILY.xattr.trusted.t", &b"tv"[..]),
        ("mtime", &b"1234567890.5"[..]),
    ])
    .unwrap();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o600);
    h.set_size(1);
    b.append_data(&mut h, "x", &b"x"[..]).unwrap();
    s.unpack(&b.into_inner().unwrap()).unwrap();
    let p = s.root.join("x");
    assert_eq!(
        xattr::get(&p, "user.test").unwrap(),
        Some(b"hello".to_vec())
    );
    assert_eq!(xattr::get(&p, "trusted.t").unwrap(), Some(b"tv".to_vec()));
    let md = std::fs::metadata(&p).unwrap();
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_234_567_890, 500_000_000));
}

#[test]
fn later_entries_replace_earlier_ones() {
    let s = Scratch::new();
    let tar = Tar::default()
        .file("a", b"1")
        .file("a", b"2")
        .dir("d")
        .file("d/x", b"x")
        .file("d", b"now a file")
        .file("f", b"file")
        .dir("f")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(s.root.join("a")).unwrap(), b"2");
    assert_eq!(std::fs::read(s.root.join("d")).unwrap(), b"now a file");
    assert!(s.root.join("f").is_dir());
}

#[test]
fn truncated_and_garbage_tars_fail() {
    let s = Scratch::new();
    let tar = Tar::default().file("big", &vec![7u8; 5000]).finish();
    let err = s.unpack(&tar[..3000]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let garbage = vec![0x55u8; 2048];
    assert!(s.unpack(&garbage).is_err());
}

#[test]
fn chain_ids_follow_the_oci_definition() {
    let a = Digest::of_bytes(b"a");
    let b = Digest::of_bytes(b"b");
    let ids = chain_ids(&[a.clone(), b.clone()]);
    assert_eq!(ids[0], a);
    assert_eq!(ids[1], Digest::of_bytes(format!("{a} {b}").as_bytes()));
    assert!(chain_ids(&[]).is_empty());
}

fn store() -> (tempfile::TempDir, Layout, LayerStore, ContentStore) {
    let t = tempfile::tempdir().unwrap();
    let layout = Layout::new(t.path());
    layout.create().unwrap();
    let ls = LayerStore::new(layout.clone());
    let cs = ContentStore::new(layout.clone());
    (t, layout, ls, cs)
}

#[test]
fn prepare_commit_and_drop() {
    let (_t, layout, ls, cs) = store();
    let tar = Tar::default().file("hello", b"world").finish();
    let diff_id = Digest::of_bytes(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();

    // Wrong diff id: nothing left behind.
    let wrong = Digest::of_bytes(b"nope");
    let err = ls
        .prepare(None, &mut &gz[..], Some(&wrong), KeepTar::Copy, &cs)
        .err()
        .unwrap();
    assert!(matches!(err, LayerError::DiffIdMismatch { .. }));
    assert_eq!(std::fs::read_dir(layout.layers_dir()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(layout.blobs_dir()).unwrap().count(), 0);

    // Dropped without commit: nothing left behind.
    let p = ls
        .prepare(None, &mut &gz[..], Some(&diff_id), KeepTar::Copy, &cs)
        .unwrap();
    drop(p);
    assert_eq!(std::fs::read_dir(layout.layers_dir()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(layout.blobs_dir()).unwrap().count(), 0);

    let p = ls
        .prepare(None, &mut &gz[..], Some(&diff_id), KeepTar::Copy, &cs)
        .unwrap();
    assert_eq!(p.record().size, 5);
    let c = p.commit().unwrap();
    assert!(c.layer_dir.is_some() && c.blobs.len() == 1);
    assert!(ls.exists(&diff_id));
    assert_eq!(
        std::fs::read(ls.diff_dir(&diff_id).join("hello")).unwrap(),
        b"world"
    );
    assert_eq!(cs.read(&diff_id).unwrap(), tar);
    assert_eq!(ls.record(&diff_id).unwrap().diff_id, diff_id);
    assert_eq!(ls.list().unwrap(), vec![diff_id.clone()]);
    let md = std::fs::metadata(ls.diff_dir(&diff_id)).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o755);

    // Same layer again: commit keeps the existing one.
    let p = ls
        .prepare(None, &mut &tar[..], None, KeepTar::Copy, &cs)
        .unwrap();
    let c = p.commit().unwrap();
    assert!(c.layer_dir.is_none() && c.blobs.is_empty());

    // A second layer on top gets a chain id.
    let tar2 = Tar::default().file("two", b"2").finish();
    let p = ls
        .prepare(Some(&diff_id), &mut &tar2[..], None, KeepTar::Copy, &cs)
        .unwrap();
    let chain = p.record().chain_id.clone();
    p.commit().unwrap();
    assert_eq!(
        chain,
        chain_ids(&[diff_id.clone(), Digest::of_bytes(&tar2)])[1]
    );

    ls.remove(&chain).unwrap();
    assert!(!ls.exists(&chain));
    ls.remove(&chain).unwrap();
}

#[test]
fn adopts_plain_input_files() {
    let (t, _layout, ls, cs) = store();
    let tar = Tar::default().file("a", b"b").finish();
    let staged = t.path().join("tmp").join("staged");
    std::fs::write(&staged, &tar).unwrap();
    let mut f = std::fs::File::open(&staged).unwrap();
    let p = ls
        .prepare(
            None,
            &mut f,
            None,
            KeepTar::AdoptIfPlain(staged.clone()),
            &cs,
        )
        .unwrap();
    p.commit().unwrap();
    assert!(!staged.exists());
    assert_eq!(cs.read(&Digest::of_bytes(&tar)).unwrap(), tar);
}
