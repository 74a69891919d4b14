//! Interoperability with podman and skopeo (both installed here and in CI): archives
//! they write load into the store, and archives the store writes load into them.
//! podman runs with a private storage root in a temp dir; both run in a private
//! mount namespace so their blob-info caches stay off the machine.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use berth_image::{ImageStore, ImportOptions};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn require(bin: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(bin);
        if p.is_file() {
            return p;
        }
    }
    panic!("{bin} is required for this test but was not found; install it (CI installs podman and skopeo)");
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs a command in a private mount namespace with tmpfs over `/var/lib` and `/run`,
/// so what podman and skopeo keep there (blob-info cache, network config dir) stays
/// off the machine. `mount -n` keeps libmount from writing `/run/mount/utab`.
fn isolated(bin: &Path, args: &[&std::ffi::OsStr], tmp: &Path) -> Vec<u8> {
    let script =
        "mount -n -t tmpfs tmpfs /var/lib && mount -n -t tmpfs tmpfs /run && exec \"$0\" \"$@\"";
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(bin)
        .args(args)
        .env("TMPDIR", tmp);
    run(&mut c)
}

/// podman with all its state in a temp dir, removed on drop.
struct Podman {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Self {
        let bin = require("podman");
        let dir = tempfile::tempdir().unwrap();
        for d in ["root", "run", "tmp"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        Self { bin, dir }
    }

    fn cmd(&self, args: &[&str]) -> Vec<u8> {
        let d = self.dir.path();
        let (root, run, tmp) = (d.join("root"), d.join("run"), d.join("tmp"));
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "--root".as_ref(),
            root.as_os_str(),
            "--runroot".as_ref(),
            run.as_os_str(),
            "--tmpdir".as_ref(),
            tmp.as_os_str(),
        ];
        for a in [
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "none",
        ] {
            all.push(a.as_ref());
        }
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        isolated(&self.bin, &all, &tmp)
    }
}

fn skopeo(args: &[&str], tmp: &Path) -> Vec<u8> {
    let bin = require("skopeo");
    let mut all: Vec<&std::ffi::OsStr> = vec!["--insecure-policy".as_ref()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    isolated(&bin, &all, tmp)
}

/// A busybox rootfs tar made from the host's static busybox.
fn busybox_rootfs() -> Vec<u8> {
    let busybox =
        std::fs::read("/bin/busybox").expect("/bin/busybox is required (package busybox-static)");
    let mut b = tar::Builder::new(Vec::new());
    for (dir, mode) in [("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777)] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, dir, std::io::empty()).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "bin/busybox", &busybox[..]).unwrap();
    for applet in ["sh", "ls", "echo", "cat"] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(1_700_000_000);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    let passwd = b"root:x:0:0:root:/root:/bin/sh\n";
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o644);
    h.set_size(passwd.len() as u64);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "etc/passwd", &passwd[..]).unwrap();
    b.into_inner().unwrap()
}

fn check_busybox(store: &ImageStore, name: &str) {
    let dirs = store.layer_dirs(name).unwrap();
    let top = dirs.last().unwrap();
    assert_eq!(
        std::fs::read(top.join("bin/busybox")).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );
    let md = std::fs::metadata(top.join("bin/busybox")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_link(top.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let tmp = std::fs::metadata(top.join("tmp")).unwrap();
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
}

#[test]
fn podman_and_skopeo_archives_load() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let podman = Podman::new();
    let rootfs = w.join("rootfs.tar");
    std::fs::write(&rootfs, busybox_rootfs()).unwrap();
    podman.cmd(&[
        "import",
        "--change",
        "CMD [\"/bin/sh\"]",
        rootfs.to_str().unwrap(),
        "localhost/bb:1",
    ]);
    let da = w.join("docker-archive.tar");
    podman.cmd(&[
        "save",
        "--format",
        "docker-archive",
        "-o",
        da.to_str().unwrap(),
        "localhost/bb:1",
    ]);
    let pod_oci = w.join("podman-oci.tar");
    podman.cmd(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        pod_oci.to_str().unwrap(),
        "localhost/bb:1",
    ]);
    let oci = w.join("oci-archive.tar");
    skopeo(
        &[
            "copy",
            &format!("docker-archive:{}", da.display()),
            &format!("oci-archive:{}:localhost/bb:oci", oci.display()),
        ],
        w,
    );

    let store_dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&store_dir.path().join("image")).unwrap();
    let loaded = store.load(&mut std::fs::File::open(&da).unwrap()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].tags, vec!["localhost/bb:1"]);
    let id = loaded[0].id.clone();
    check_busybox(&store, "localhost/bb:1");
    let cfg = store.config(&id).unwrap();
    assert_eq!(cfg.config.unwrap().cmd.unwrap(), vec!["/bin/sh"]);

    // The OCI copy has a gzip layer but the same config, hence the same image.
    let loaded = store.load(&mut std::fs::File::open(&oci).unwrap()).unwrap();
    assert_eq!(loaded[0].id, id);
    assert_eq!(loaded[0].tags, vec!["localhost/bb:oci"]);
    let loaded = store
        .load(&mut std::fs::File::open(&pod_oci).unwrap())
        .unwrap();
    assert_eq!(loaded[0].id, id);
    check_busybox(&store, &id);
    let info = store.resolve(&id).unwrap();
    assert_eq!(info.repo_tags, vec!["localhost/bb:1", "localhost/bb:oci"]);
}

#[test]
fn saved_archives_load_into_podman_and_skopeo() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let store_dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&store_dir.path().join("image")).unwrap();
    let rootfs = busybox_rootfs();
    let opts = ImportOptions {
        reference: Some("localhost/berth-bb:v1".into()),
        changes: vec!["CMD [\"/bin/sh\"]".into(), "ENV A=b".into()],
        message: Some("from berth".into()),
        platform: None,
    };
    let info = store.import(&mut &gzip(&rootfs)[..], &opts).unwrap();
    store.tag(&info.id, "berth-bb:latest").unwrap();
    let saved = w.join("saved.tar");
    let mut f = std::fs::File::create(&saved).unwrap();
    store
        .save(&["localhost/berth-bb:v1".into(), "berth-bb".into()], &mut f)
        .unwrap();
    drop(f);

    for transport in ["docker-archive", "oci-archive"] {
        let target = match transport {
            "docker-archive" => format!("docker-archive:{}", saved.display()),
            // Docker 25+ style: the ref name annotation is the bare tag.
            _ => format!("oci-archive:{}:v1", saved.display()),
        };
        let out = skopeo(&["inspect", &target], w);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["Layers"],
            serde_json::json!(info.layers),
            "{transport}: {v}"
        );
        assert_eq!(v["Architecture"], "amd64", "{transport}");
        assert_eq!(v["Os"], "linux", "{transport}");
        let config = skopeo(&["inspect", "--config", "--raw", &target], w);
        assert_eq!(
            digest(&config).to_string(),
            info.id,
            "{transport}: config bytes kept"
        );
    }

    let podman = Podman::new();
    let out = String::from_utf8(podman.cmd(&["load", "-i", saved.to_str().unwrap()])).unwrap();
    assert!(out.contains("berth-bb"), "podman load output: {out}");
    let inspect = podman.cmd(&["image", "inspect", "localhost/berth-bb:v1"]);
    let v: serde_json::Value = serde_json::from_slice(&inspect).unwrap();
    assert_eq!(format!("sha256:{}", v[0]["Id"].as_str().unwrap()), info.id);
    assert_eq!(v[0]["RootFS"]["Layers"], serde_json::json!(info.layers));
    assert_eq!(v[0]["Config"]["Env"][0], "A=b");
    // podman names short docker-archive tags under localhost/.
    assert!(out.contains("berth-bb:latest"), "podman load output: {out}");
    let inspect = podman.cmd(&["image", "inspect", "localhost/berth-bb:latest"]);
    let v: serde_json::Value = serde_json::from_slice(&inspect).unwrap();
    assert_eq!(format!("sha256:{}", v[0]["Id"].as_str().unwrap()), info.id);
}
