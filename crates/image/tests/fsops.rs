//! `docker cp` and `docker export` operations on a planted container root: paths
//! resolve inside the root, so symlinks such as `/evil -> /` and `/up -> ../../..`
//! never read or write host files (sentinels outside the root stay untouched).
//! Needs root (chown, devices); fails, never skips, without it.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use berth_image::fsops::{
    archive_path, export_root, extract_into, stat_path, ExtractOptions, FsError, PathStat,
};
use berth_image::ErrorKind;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tar::EntryType;

const CONTAINER_PASSWD: &[u8] =
    b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
const CONTAINER_GROUP: &[u8] = b"root:x:0:\nstaff:x:50:app\n";
const SENTINEL: &[u8] = b"host secret";

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "these tests need root: they chown files and create device nodes"
    );
}

/// `<t>/outside/sentinel` and `<t>/etc/passwd` beside a container root at
/// `<t>/a/b/root` holding symlinks that would escape if followed on the host.
struct Fixture {
    t: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        require_root();
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("outside")).unwrap();
        std::fs::write(t.path().join("outside/sentinel"), SENTINEL).unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/passwd"), SENTINEL).unwrap();
        let root = t.path().join("a/b/root");
        for d in ["etc", "data/sub", "proc/1", "empty"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("etc/passwd"), CONTAINER_PASSWD).unwrap();
        std::fs::write(root.join("etc/group"), CONTAINER_GROUP).unwrap();
        std::fs::write(root.join("data/a"), b"A").unwrap();
        std::fs::hard_link(root.join("data/a"), root.join("data/a2")).unwrap();
        std::fs::write(root.join("data/sub/b"), b"B").unwrap();
        std::fs::write(root.join("proc/1/status"), b"hidden").unwrap();
        symlink("/etc", root.join("data/l")).unwrap();
        symlink("/", root.join("evil")).unwrap();
        symlink("../../..", root.join("up")).unwrap();
        symlink("/etc/passwd", root.join("abs_passwd")).unwrap();
        symlink("../../outside/sentinel", root.join("escape")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        std::fs::set_permissions(root.join("data/a"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        Self { t, root }
    }

    /// Nothing outside the root changed.
    fn assert_host_untouched(&self) {
        let t = self.t.path();
        assert_eq!(std::fs::read(t.join("outside/sentinel")).unwrap(), SENTINEL);
        assert_eq!(std::fs::read(t.join("etc/passwd")).unwrap(), SENTINEL);
        assert_eq!(
            std::fs::metadata(t.join("outside/sentinel"))
                .unwrap()
                .nlink(),
            1
        );
        let mut top: Vec<String> = std::fs::read_dir(t)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        assert_eq!(top, ["a", "etc", "outside"]);
        assert_eq!(std::fs::read_dir(t.join("outside")).unwrap().count(), 1);
        assert_eq!(std::fs::read_dir(t.join("etc")).unwrap().count(), 1);
        assert_eq!(std::fs::read_dir(t.join("a")).unwrap().count(), 1);
        assert_eq!(std::fs::read_dir(t.join("a/b")).unwrap().count(), 1);
    }

    fn stat(&self, p: &str) -> Result<PathStat, FsError> {
        stat_path(&self.root, p)
    }

    fn archive(&self, p: &str) -> Result<Vec<Item>, FsError> {
        let mut out = Vec::new();
        archive_path(&self.root, p, &mut out)?;
        Ok(items(&out))
    }

    fn extract(&self, dest: &str, tar: &[u8], opts: &ExtractOptions) -> Result<(), FsError> {
        extract_into(&self.root, dest, &mut &tar[..], opts).map(|_| ())
    }
}

/// One archive entry: name, type, link target, data, uid, gid, mode.
#[derive(Debug, Clone)]
struct Item {
    name: String,
    kind: EntryType,
    link: String,
    data: Vec<u8>,
    uid: u64,
    mode: u32,
}

fn items(tar: &[u8]) -> Vec<Item> {
    let mut ar = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(Item {
            name: String::from_utf8(e.path_bytes().to_vec()).unwrap(),
            kind: e.header().entry_type(),
            link: e
                .link_name_bytes()
                .map(|l| String::from_utf8(l.to_vec()).unwrap())
                .unwrap_or_default(),
            data,
            uid: e.header().uid().unwrap(),
            mode: e.header().mode().unwrap(),
        });
    }
    out
}

fn names(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.name.as_str()).collect()
}

/// No archive entry carries host data.
fn assert_no_host_data(items: &[Item]) {
    let host_passwd = std::fs::read("/etc/passwd").unwrap();
    for i in items {
        assert_ne!(i.data, SENTINEL, "{} carries the sentinel", i.name);
        if !i.data.is_empty() && i.data != CONTAINER_PASSWD {
            assert_ne!(
                i.data, host_passwd,
                "{} carries the host's /etc/passwd",
                i.name
            );
        }
    }
}

/// Raw tar entries (names and link targets written as given, `..` included).
#[derive(Default)]
struct RawTar {
    out: Vec<u8>,
}

impl RawTar {
    fn entry(
        &mut self,
        name: &str,
        kind: EntryType,
        link: &str,
        data: &[u8],
        mode: u32,
    ) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(4242);
        h.set_gid(4343);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name, EntryType::Regular, "", data, 0o644)
    }
    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(name, EntryType::Directory, "", b"", mode)
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, EntryType::Symlink, target, b"", 0o777)
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, EntryType::Link, target, b"", 0o644)
    }
    fn finish(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.out);
        v.extend(std::iter::repeat_n(0u8, 1024));
        v
    }
}

fn kind(e: &FsError) -> ErrorKind {
    e.kind()
}

#[test]
fn stat_describes_entries_and_resolves_links_inside_the_root() {
    let f = Fixture::new();
    let st = f.stat("/etc/passwd").unwrap();
    assert_eq!(st.name, "passwd");
    assert_eq!(st.size, CONTAINER_PASSWD.len() as i64);
    assert_eq!(st.mode, 0o644);
    assert_eq!(st.link_target, "");
    assert!(st.mtime.ends_with('Z'), "{}", st.mtime);

    for (path, target) in [
        ("/evil", "/"),
        ("/up", "/"),
        ("abs_passwd", "/etc/passwd"),
        ("/escape", "/outside/sentinel"),
        ("/data/l", "/etc"),
    ] {
        let st = f.stat(path).unwrap();
        assert_eq!(st.mode & (1 << 27), 1 << 27, "{path} is a symlink");
        assert_eq!(st.link_target, target, "{path}");
    }
    assert_eq!(f.stat("/evil").unwrap().size, 1);

    // Through the links, the container's files, never the host's.
    for path in [
        "/evil/etc/passwd",
        "/up/etc/passwd",
        "/up/../../etc/passwd",
        "/evil/evil/up/etc/passwd",
    ] {
        let st = f.stat(path).unwrap();
        assert_eq!(st.size, CONTAINER_PASSWD.len() as i64, "{path}");
        assert_eq!(st.mode, 0o644, "{path}");
    }
    for path in [
        "/up/outside/sentinel",
        "/escape/",
        "/evil/outside",
        "/nope",
        "/data/nope/x",
    ] {
        let e = f.stat(path).unwrap_err();
        assert_eq!(kind(&e), ErrorKind::NotFound, "{path}: {e}");
    }
    assert_eq!(
        kind(&f.stat("/etc/passwd/x").unwrap_err()),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(&f.stat("/loop1/x").unwrap_err()),
        ErrorKind::InvalidArgument
    );

    let root = f.stat("/").unwrap();
    assert_eq!(root.name, "/");
    assert_eq!(root.mode >> 31, 1);
    assert_eq!(f.stat("/data/").unwrap().name, "data");
    assert_eq!(f.stat("/data/.").unwrap().name, ".");
    let followed = f.stat("/data/l/").unwrap();
    assert_eq!((followed.name.as_str(), followed.mode >> 31), ("l", 1));
    assert_eq!(followed.link_target, "");
    f.assert_host_untouched();
}

#[test]
fn archives_follow_dockers_naming() {
    let f = Fixture::new();
    let file = f.archive("/etc/passwd").unwrap();
    assert_eq!(names(&file), ["passwd"]);
    assert_eq!(file[0].data, CONTAINER_PASSWD);

    let dir = f.archive("/data").unwrap();
    assert_eq!(
        names(&dir),
        [
            "data/",
            "data/a",
            "data/a2",
            "data/l",
            "data/sub/",
            "data/sub/b"
        ]
    );
    assert_eq!(dir[1].data, b"A");
    assert_eq!(dir[1].mode, 0o100640);
    assert_eq!(
        (dir[2].kind, dir[2].link.as_str()),
        (EntryType::Link, "data/a")
    );
    assert_eq!(
        (dir[3].kind, dir[3].link.as_str()),
        (EntryType::Symlink, "/etc")
    );

    let contents = f.archive("/data/.").unwrap();
    assert_eq!(
        names(&contents),
        ["./", "./a", "./a2", "./l", "./sub/", "./sub/b"]
    );
    assert_eq!(contents[2].link, "./a");

    // A symlink is archived as itself; a trailing slash follows it.
    let link = f.archive("/data/l").unwrap();
    assert_eq!(names(&link), ["l"]);
    assert_eq!(link[0].kind, EntryType::Symlink);
    let followed = f.archive("/data/l/").unwrap();
    assert_eq!(names(&followed), ["l/", "l/group", "l/passwd"]);
    assert_eq!(followed[2].data, CONTAINER_PASSWD);

    let whole = f.archive("/").unwrap();
    assert_eq!(whole[0].name, "/");
    assert!(whole.iter().all(|i| i.name.starts_with('/')));
    assert!(whole.iter().any(|i| i.name == "/etc/passwd"));
    let evil = whole.iter().find(|i| i.name == "/evil").unwrap();
    assert_eq!((evil.kind, evil.link.as_str()), (EntryType::Symlink, "/"));
    assert_no_host_data(&whole);
    f.assert_host_untouched();
}

#[test]
fn archives_never_read_host_files() {
    let f = Fixture::new();
    for path in [
        "/evil/etc/passwd",
        "/up/etc/passwd",
        "../../../etc/passwd",
        "/up/up/etc/passwd",
    ] {
        let got = f.archive(path).unwrap();
        assert_eq!(names(&got), ["passwd"], "{path}");
        assert_eq!(got[0].data, CONTAINER_PASSWD, "{path}");
    }
    let through = f.archive("/evil/").unwrap();
    assert_eq!(through[0].name, "evil/");
    assert!(through.iter().any(|i| i.name == "evil/etc/passwd"));
    assert_no_host_data(&through);
    let up = f.archive("/up/").unwrap();
    assert_eq!(up[0].name, "up/");
    assert_no_host_data(&up);
    for path in [
        "/up/outside/sentinel",
        "/escape/",
        "/up/../../../outside/sentinel",
    ] {
        let e = f.archive(path).unwrap_err();
        assert_eq!(kind(&e), ErrorKind::NotFound, "{path}: {e}");
    }
    // The escaping link itself is fine to archive: it is only a name.
    let esc = f.archive("/escape").unwrap();
    assert_eq!(
        (esc[0].kind, esc[0].link.as_str()),
        (EntryType::Symlink, "../../outside/sentinel")
    );
    f.assert_host_untouched();
}

#[test]
fn extraction_is_contained_in_the_root() {
    let f = Fixture::new();
    let opts = ExtractOptions::default();

    // `..` entries are refused.
    let tar = RawTar::default()
        .file("../../../../outside/pwned", b"x")
        .finish();
    let e = f.extract("/data", &tar, &opts).unwrap_err();
    assert_eq!(kind(&e), ErrorKind::InvalidArgument, "{e}");
    // Absolute entries land below the destination.
    let tar = RawTar::default().file("/etc/abs", b"abs").finish();
    f.extract("/data", &tar, &opts).unwrap();
    assert_eq!(std::fs::read(f.root.join("data/etc/abs")).unwrap(), b"abs");

    // Destinations through escaping links stay in the root.
    let tar = RawTar::default().file("etc/via_evil", b"1").finish();
    f.extract("/evil", &tar, &opts).unwrap();
    assert_eq!(std::fs::read(f.root.join("etc/via_evil")).unwrap(), b"1");
    let tar = RawTar::default().file("via_up", b"2").finish();
    f.extract("/up/up", &tar, &opts).unwrap();
    assert_eq!(std::fs::read(f.root.join("via_up")).unwrap(), b"2");

    // Symlinks in the archive or the tree resolve inside the root.
    let tar = RawTar::default()
        .symlink("s", "/")
        .file("s/through_s", b"3")
        .symlink("u", "../../../../..")
        .file("u/through_u", b"4")
        .file("evil/../up/through_existing", b"5")
        .finish();
    f.extract("/data", &tar, &opts).unwrap();
    assert_eq!(std::fs::read(f.root.join("through_s")).unwrap(), b"3");
    assert_eq!(std::fs::read(f.root.join("through_u")).unwrap(), b"4");
    assert_eq!(
        std::fs::read(f.root.join("data/up/through_existing")).unwrap(),
        b"5"
    );

    // Hardlinks may not name anything outside the destination or the root.
    for target in ["../../outside/sentinel", "/../outside/sentinel"] {
        let tar = RawTar::default().hardlink("hl", target).finish();
        let e = f.extract("/", &tar, &opts).unwrap_err();
        assert_eq!(kind(&e), ErrorKind::InvalidArgument, "{target}: {e}");
    }
    for target in ["up/outside/sentinel", "evil/a/b/outside/sentinel"] {
        let tar = RawTar::default().hardlink("hl", target).finish();
        assert!(f.extract("/", &tar, &opts).is_err(), "{target}");
    }
    let tar = RawTar::default().hardlink("hl", "evil/etc/passwd").finish();
    f.extract("/", &tar, &opts).unwrap();
    assert_eq!(
        std::fs::metadata(f.root.join("hl")).unwrap().ino(),
        std::fs::metadata(f.root.join("etc/passwd")).unwrap().ino()
    );

    // Replacing an escaping symlink replaces the link, never its target.
    let tar = RawTar::default()
        .file("escape", b"replaced")
        .file("up", b"replaced")
        .finish();
    f.extract("/", &tar, &opts).unwrap();
    assert_eq!(std::fs::read(f.root.join("escape")).unwrap(), b"replaced");
    assert!(std::fs::metadata(f.t.path().join("a/b")).unwrap().is_dir());
    f.assert_host_untouched();
}

#[test]
fn extraction_options_follow_docker() {
    let f = Fixture::new();
    let plain = ExtractOptions::default();
    let strict = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        ..ExtractOptions::default()
    };
    let file_over_dir = RawTar::default().file("sub", b"file").finish();
    let e = f.extract("/data", &file_over_dir, &strict).unwrap_err();
    assert_eq!(kind(&e), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("cannot overwrite directory"), "{e}");
    let dir_over_file = RawTar::default().dir("a", 0o755).finish();
    let e = f.extract("/data", &dir_over_file, &strict).unwrap_err();
    assert!(
        e.to_string().contains("cannot overwrite non-directory"),
        "{e}"
    );
    f.extract("/data", &file_over_dir, &plain).unwrap();
    assert_eq!(std::fs::read(f.root.join("data/sub")).unwrap(), b"file");

    // Owners: the archive's ids, or the container user's with copy_uid_gid.
    let tar = RawTar::default()
        .dir("o/", 0o755)
        .file("o/f", b"x")
        .finish();
    f.extract("/", &tar, &plain).unwrap();
    let md = std::fs::metadata(f.root.join("o/f")).unwrap();
    assert_eq!((md.uid(), md.gid()), (4242, 4343));
    for (user, ids) in [
        ("app", (1000, 1000)),
        ("app:staff", (1000, 50)),
        ("1234", (1234, 0)),
        ("0:7", (0, 7)),
    ] {
        let opts = ExtractOptions {
            copy_uid_gid: true,
            user: user.into(),
            ..ExtractOptions::default()
        };
        f.extract("/", &tar, &opts).unwrap();
        let md = std::fs::metadata(f.root.join("o/f")).unwrap();
        assert_eq!((md.uid(), md.gid()), ids, "{user}");
        let md = std::fs::metadata(f.root.join("o")).unwrap();
        assert_eq!((md.uid(), md.gid()), ids, "{user}");
    }
    let unknown = ExtractOptions {
        copy_uid_gid: true,
        user: "nobody-here".into(),
        ..ExtractOptions::default()
    };
    let e = f.extract("/", &tar, &unknown).unwrap_err();
    assert_eq!(kind(&e), ErrorKind::InvalidArgument);
    assert!(
        e.to_string().contains("unable to find user nobody-here"),
        "{e}"
    );

    // The root entry leaves the destination alone; whiteout names are plain files.
    let before = std::fs::metadata(f.root.join("empty")).unwrap();
    let tar = RawTar::default()
        .dir("./", 0o700)
        .file(".wh.x", b"")
        .file(".wh..wh..opq", b"")
        .finish();
    f.extract("/empty", &tar, &plain).unwrap();
    let after = std::fs::metadata(f.root.join("empty")).unwrap();
    assert_eq!((after.mode(), after.uid()), (before.mode(), before.uid()));
    assert!(f.root.join("empty/.wh.x").is_file());
    assert!(f.root.join("empty/.wh..wh..opq").is_file());

    // Compressed archives are accepted; garbage and bad destinations are refused.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&RawTar::default().file("zipped", b"z").finish())
        .unwrap();
    f.extract("/", &gz.finish().unwrap(), &plain).unwrap();
    assert_eq!(std::fs::read(f.root.join("zipped")).unwrap(), b"z");
    let e = f
        .extract("/", b"this is not a tar archive at all", &plain)
        .unwrap_err();
    assert_eq!(kind(&e), ErrorKind::InvalidArgument, "{e}");
    let mut truncated = RawTar::default().file("t", &[7u8; 2000]).finish();
    truncated.truncate(1000);
    assert_eq!(
        kind(&f.extract("/", &truncated, &plain).unwrap_err()),
        ErrorKind::InvalidArgument
    );
    let e = f.extract("/nope", &tar, &plain).unwrap_err();
    assert_eq!(kind(&e), ErrorKind::NotFound);
    let e = f.extract("/etc/passwd", &tar, &plain).unwrap_err();
    assert!(matches!(e, FsError::ExtractPointNotDirectory { .. }), "{e}");
    // A destination that is a symlink to a directory is followed.
    f.extract(
        "/data/l",
        &RawTar::default().file("in_etc", b"e").finish(),
        &plain,
    )
    .unwrap();
    assert_eq!(std::fs::read(f.root.join("etc/in_etc")).unwrap(), b"e");
    f.assert_host_untouched();
}

#[test]
fn copy_round_trip_keeps_metadata() {
    let f = Fixture::new();
    let d = f.root.join("data/sub/b");
    std::os::unix::fs::chown(&d, Some(77), Some(88)).unwrap();
    xattr::set(&d, "user.k", b"v").unwrap();
    let mut tar = Vec::new();
    archive_path(&f.root, "/data", &mut tar).unwrap();
    std::fs::create_dir(f.root.join("copy")).unwrap();
    extract_into(&f.root, "/copy", &mut &tar[..], &ExtractOptions::default()).unwrap();
    let b = f.root.join("copy/data/sub/b");
    let (orig, copy) = (
        std::fs::metadata(&d).unwrap(),
        std::fs::metadata(&b).unwrap(),
    );
    assert_eq!((copy.uid(), copy.gid(), copy.mode()), (77, 88, orig.mode()));
    assert_eq!(copy.mtime(), orig.mtime());
    assert_eq!(xattr::get(&b, "user.k").unwrap().unwrap(), b"v");
    let a = std::fs::metadata(f.root.join("copy/data/a")).unwrap();
    assert_eq!(
        a.ino(),
        std::fs::metadata(f.root.join("copy/data/a2"))
            .unwrap()
            .ino()
    );
    assert_eq!(
        std::fs::read_link(f.root.join("copy/data/l")).unwrap(),
        Path::new("/etc")
    );
}

#[test]
fn export_writes_the_flat_filesystem() {
    let f = Fixture::new();
    let sock = f.root.join("data/sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        f.root.join("data/null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    let mut out = Vec::new();
    let sum = export_root(&f.root, &mut out, &["proc", "/sys/"]).unwrap();
    assert_eq!(sum.tar_size, out.len() as u64);
    let all = items(&out);
    assert_eq!(sum.entries, all.len() as u64);
    assert_eq!(
        names(&all),
        [
            "abs_passwd",
            "data/",
            "data/a",
            "data/a2",
            "data/l",
            "data/null",
            "data/sub/",
            "data/sub/b",
            "empty/",
            "escape",
            "etc/",
            "etc/group",
            "etc/passwd",
            "evil",
            "loop1",
            "loop2",
            "proc/",
            "up",
        ]
    );
    let null = all.iter().find(|i| i.name == "data/null").unwrap();
    assert_eq!(null.kind, EntryType::Char);
    let mut ar = tar::Archive::new(&out[..]);
    let e = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| &*e.path_bytes() == b"data/null")
        .unwrap();
    assert_eq!(
        (
            e.header().device_major().unwrap(),
            e.header().device_minor().unwrap()
        ),
        (Some(1), Some(3))
    );
    assert_eq!(all.iter().find(|i| i.name == "data/a").unwrap().uid, 0);
    assert_no_host_data(&all);

    // The same tree gives the same bytes.
    let mut again = Vec::new();
    export_root(&f.root, &mut again, &["proc", "/sys/"]).unwrap();
    assert_eq!(out, again);
    f.assert_host_untouched();
}

/// A mount undone on drop.
struct Mounted(PathBuf);

impl Mounted {
    fn new(fstype: &str, target: &Path) -> Self {
        std::fs::create_dir_all(target).unwrap();
        rustix::mount::mount(
            fstype,
            target,
            fstype,
            rustix::mount::MountFlags::empty(),
            None,
        )
        .unwrap_or_else(|e| panic!("mount {fstype} at {}: {e}", target.display()));
        Self(target.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Err(e) = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH) {
            eprintln!("unmount {}: {e}", self.0.display());
        }
    }
}

#[test]
fn kernel_filesystems_in_a_running_root_are_not_archived() {
    let f = Fixture::new();
    std::fs::remove_dir_all(f.root.join("proc")).unwrap();
    let _proc = Mounted::new("proc", &f.root.join("proc"));
    let _sys = Mounted::new("sysfs", &f.root.join("sys"));
    let _vol = Mounted::new("tmpfs", &f.root.join("vol"));
    std::fs::write(f.root.join("vol/data"), b"volume data").unwrap();

    let mut out = Vec::new();
    export_root(&f.root, &mut out, &[]).unwrap();
    let all = items(&out);
    let names = names(&all);
    assert!(
        names.contains(&"proc/") && names.contains(&"sys/"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("proc/") && *n != "proc/"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("sys/") && *n != "sys/"),
        "{names:?}"
    );
    assert!(
        names.contains(&"vol/data"),
        "other mounts are crossed: {names:?}"
    );
    let mut skipped = Vec::new();
    export_root(&f.root, &mut skipped, &["vol"]).unwrap();
    assert!(!items(&skipped).iter().any(|i| i.name == "vol/data"));

    assert_eq!(f.archive("/proc").unwrap().len(), 1);
    assert_eq!(names_of(&f.archive("/sys/.").unwrap()), ["./"]);
    let whole = f.archive("/").unwrap();
    let below = |i: &Item, dir: &str| i.name.starts_with(dir) && i.name != dir;
    assert!(whole.iter().any(|i| i.name == "/proc/"));
    assert!(!whole
        .iter()
        .any(|i| below(i, "/proc/") || below(i, "/sys/")));
    f.assert_host_untouched();
}

fn names_of(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.name.clone()).collect()
}
