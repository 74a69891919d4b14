//! Known attacks on container engines, one test each, named after the CVE
//! or the attack: descriptors leaking into containers, overwriting the
//! runtime binary through `/proc/<pid>/exe`, symlink swaps racing mounts
//! and `cp`, archives that climb out of their root, decompression bombs, a
//! hostile registry, billion-laughs YAML, and a container trying the usual
//! ways out with default capabilities and with none.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{berth_bin, stderr, stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "cve_2024_21626_no_daemon_descriptor_reaches_a_container",
        cve_2024_21626_no_daemon_descriptor_reaches_a_container,
    ),
    (
        "cve_2019_5736_containers_cannot_overwrite_the_berth_binary",
        cve_2019_5736_containers_cannot_overwrite_the_berth_binary,
    ),
    (
        "cve_2021_30465_mount_target_swapped_for_a_symlink_stays_inside",
        cve_2021_30465_mount_target_swapped_for_a_symlink_stays_inside,
    ),
    (
        "volume_subpath_swapped_for_a_symlink_stays_inside",
        volume_subpath_swapped_for_a_symlink_stays_inside,
    ),
    (
        "cve_2018_15664_cp_racing_a_symlink_swap_stays_inside",
        cve_2018_15664_cp_racing_a_symlink_swap_stays_inside,
    ),
    (
        "cve_2019_14271_cp_runs_nothing_from_the_container",
        cve_2019_14271_cp_runs_nothing_from_the_container,
    ),
    (
        "tar_breakout_in_add_stays_inside",
        tar_breakout_in_add_stays_inside,
    ),
    (
        "decompression_bomb_costs_disk_not_memory",
        decompression_bomb_costs_disk_not_memory,
    ),
    (
        "hostile_registry_is_refused_in_bounded_time_and_memory",
        hostile_registry_is_refused_in_bounded_time_and_memory,
    ),
    (
        "billion_laughs_compose_file_is_refused",
        billion_laughs_compose_file_is_refused,
    ),
    (
        "escape_attempts_fail_with_default_and_no_capabilities",
        escape_attempts_fail_with_default_and_no_capabilities,
    ),
];

/// runc's CVE-2024-21626 leaked a descriptor of the host's cgroup
/// directory into the container, reachable as `/proc/self/fd/N` (as the
/// working directory, it gave the container the host's filesystem). A
/// container's process, and an exec'd one, hold only their standard
/// streams; a working directory under `/proc/self/fd` is refused. The
/// daemon holds such a descriptor itself (9, on the host's `/`, inherited
/// not close-on-exec: `Ctx::start_daemon_with`), so the defence is what
/// stops it, not the luck of every descriptor being opened close-on-exec.
fn cve_2024_21626_no_daemon_descriptor_reaches_a_container(ctx: &Ctx) {
    let pid = ctx.daemon_pid().expect("the daemon runs");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/fd/9")).ok(),
        Some(std::path::PathBuf::from("/")),
        "the daemon inherited descriptor 9 on the host's /"
    );
    // `; true`: the shell must not exec `ls`, whose own directory
    // descriptor would show.
    let list = "ls /proc/$$/fd; true";
    let fds = ctx.ok(&["run", "--rm", "busybox", "sh", "-c", list]);
    let fds: Vec<&str> = fds.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"], "descriptors in a container");
    let id = ctx
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    let fds = ctx.ok(&["exec", &id, "sh", "-c", list]);
    let fds: Vec<&str> = fds.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"], "descriptors in an exec");
    // A program only the host has (a static one, so it would run in the
    // container), named through the descriptor: the kernel would find it
    // and `/proc/<pid>/exe` would then be a host file.
    let host_only = ctx.dir.path().join("host-only/busybox");
    std::fs::create_dir_all(ctx.dir.path().join("host-only")).expect("a host-only directory");
    std::fs::copy("/bin/busybox", &host_only).expect("a host-only program");
    let host_only = host_only
        .to_string_lossy()
        .trim_start_matches('/')
        .to_string();
    for n in 3..12 {
        let program = format!("/proc/self/fd/{n}/{host_only}");
        let out = ctx.berth(&[
            "run",
            "--rm",
            "--entrypoint",
            &program,
            "busybox",
            "echo",
            "ran",
        ]);
        assert!(
            !stdout(&out).contains("ran"),
            "the container ran the host's {program}"
        );
        let out = ctx.berth(&["exec", &id, &program, "echo", "ran"]);
        assert!(
            !stdout(&out).contains("ran"),
            "an exec ran the host's {program}"
        );
        if n == 9 {
            assert!(
                stderr(&out).contains("magic link"),
                "refused as such: {}",
                stderr(&out)
            );
        }
        let wd = format!("/proc/self/fd/{n}");
        let out = ctx.berth(&["run", "--rm", "-w", &wd, "busybox", "ls", "../../.."]);
        let listing = stdout(&out);
        assert!(
            !(out.status.success() && listing.contains("work") && listing.contains("root")),
            "-w {wd} reached the host: {listing}"
        );
        let out = ctx.berth(&["exec", "-w", &wd, &id, "ls", "../../.."]);
        assert!(
            !(out.status.success() && stdout(&out).contains("work")),
            "exec -w {wd} reached the host: {}",
            stdout(&out)
        );
    }
    // A working directory to be made, through the descriptor: made inside
    // the container if anywhere, never on the host.
    let made = ctx.dir.path().join("made-by-a-container");
    let wd = format!(
        "/proc/self/fd/9/{}",
        made.to_string_lossy().trim_start_matches('/')
    );
    ctx.berth(&["run", "--rm", "-w", &wd, "busybox", "true"]);
    assert!(
        !made.exists(),
        "a container made {} on the host",
        made.display()
    );
    ctx.ok(&["rm", "-f", &id]);
}

/// runc's CVE-2019-5736: a container process opened the runtime's binary
/// through `/proc/<runtime pid>/exe` while the runtime joined it, and
/// wrote over it. A container that tries to open and write every
/// `/proc/*/exe` it can see while execs join it never reaches the berth
/// binary (the processes that join it are not dumpable until they exec
/// the container's program, so their `exe` link is closed to it), writes
/// nothing, and the berth binary is unchanged.
fn cve_2019_5736_containers_cannot_overwrite_the_berth_binary(ctx: &Ctx) {
    let before = std::fs::read(berth_bin()).expect("berth binary");
    let id = ctx
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "while :; do for p in /proc/[0-9]*; do \
               case $(readlink $p/exe 2>/dev/null) in \
                 *berth*) echo $p >> /opened;; esac; \
               if echo pwned 2>/dev/null >> $p/exe; then echo $p >> /wrote; fi; \
             done; done",
        ])
        .trim()
        .to_string();
    for _ in 0..30 {
        ctx.ok(&["exec", &id, "true"]);
    }
    let opened = ctx.berth(&["exec", &id, "cat", "/opened"]);
    assert!(
        !opened.status.success() || stdout(&opened).trim().is_empty(),
        "the container reached the berth binary through: {}",
        stdout(&opened)
    );
    let wrote = ctx.berth(&["exec", &id, "cat", "/wrote"]);
    assert!(
        !wrote.status.success() || stdout(&wrote).trim().is_empty(),
        "the container wrote to executables: {}",
        stdout(&wrote)
    );
    ctx.ok(&["rm", "-f", &id]);
    let after = std::fs::read(berth_bin()).expect("berth binary");
    assert!(before == after, "the berth binary changed");
}

/// CVE-2021-30465: a mount target inside a shared volume was swapped for a
/// symlink to `/` between its check and the mount. One container swaps a
/// directory and a symlink to `/` in a loop while others mount a volume at
/// that path: the mounts land inside containers, never on the host.
fn cve_2021_30465_mount_target_swapped_for_a_symlink_stays_inside(ctx: &Ctx) {
    let mounts_before = host_mounts_outside(ctx);
    let swapper = ctx
        .ok(&[
            "run",
            "-d",
            "-v",
            "race-shared:/shared",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /shared/d; while :; do mv /shared/d /shared/d2; ln -s / /shared/d; \
             rm /shared/d; mv /shared/d2 /shared/d; done",
        ])
        .trim()
        .to_string();
    for _ in 0..20 {
        let _ = ctx.berth(&[
            "run",
            "--rm",
            "-v",
            "race-shared:/mnt",
            "-v",
            "race-inner:/mnt/d/inner",
            "busybox",
            "true",
        ]);
    }
    ctx.ok(&["rm", "-f", &swapper]);
    assert_eq!(
        host_mounts_outside(ctx),
        mounts_before,
        "a racing mount landed on the host"
    );
    assert!(
        !Path::new("/inner").exists(),
        "a directory was made at the host's /inner"
    );
    ctx.ok(&["volume", "rm", "race-shared", "race-inner"]);
}

/// The source side of the same race: a volume's subpath swapped for a
/// symlink to the host's `/` while containers bind it. The bind is made
/// from the subpath opened inside the volume, so no container ever sees
/// the host's files through it.
fn volume_subpath_swapped_for_a_symlink_stays_inside(ctx: &Ctx) {
    let marker = ctx.dir.path().join("subpath-host-marker");
    std::fs::write(&marker, "host\n").expect("marker");
    let swapper = ctx
        .ok(&[
            "run",
            "-d",
            "-v",
            "subpath-race:/v",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /v/sub; touch /v/sub/inside; while :; do mv /v/sub /v/sub2; \
             ln -s / /v/sub; rm /v/sub; mv /v/sub2 /v/sub; done",
        ])
        .trim()
        .to_string();
    let probe = format!("test -e {} && echo HOST; true", marker.display());
    let mut host_seen = 0;
    for _ in 0..25 {
        let out = ctx.berth(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=subpath-race,dst=/m,volume-subpath=sub",
            "busybox",
            "sh",
            "-c",
            &probe.replace(" -e ", " -e /m"),
        ]);
        if stdout(&out).contains("HOST") {
            host_seen += 1;
        }
    }
    ctx.ok(&["rm", "-f", &swapper]);
    ctx.ok(&["volume", "rm", "subpath-race"]);
    assert_eq!(
        host_seen, 0,
        "containers saw the host's / through the subpath"
    );
}

/// The host's mount points outside this test run's directory.
fn host_mounts_outside(ctx: &Ctx) -> Vec<String> {
    let ours = ctx.dir.path().to_string_lossy().into_owned();
    let mut v: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| !m.starts_with(&ours) && !m.starts_with("/run/netns") && !m.starts_with("/tmp"))
        .collect();
    v.sort();
    v
}

/// CVE-2018-15664: `docker cp` resolved a path, then a container swapped a
/// directory on it for a symlink to the host's `/` before the copy. A
/// container swapping in a loop never makes `cp` read or write the host.
fn cve_2018_15664_cp_racing_a_symlink_swap_stays_inside(ctx: &Ctx) {
    let secret_dir = ctx.dir.path().join("swap-secret");
    std::fs::create_dir_all(&secret_dir).expect("secret dir");
    std::fs::write(secret_dir.join("f"), "host secret\n").expect("secret");
    let secret = secret_dir.to_string_lossy().into_owned();
    let id = ctx
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            &format!(
                "mkdir -p /w/d {secret}; echo inside > /w/d/f; while :; do mv /w/d /w/d2; \
                 ln -s {secret} /w/d; rm /w/d; mv /w/d2 /w/d; done"
            ),
        ])
        .trim()
        .to_string();
    let out_dir = ctx.dir.path().join("swap-out");
    std::fs::create_dir_all(&out_dir).expect("out dir");
    let target = out_dir.join("f");
    let payload = ctx.dir.path().join("swap-payload");
    std::fs::write(&payload, "from the host cp\n").expect("payload");
    for _ in 0..40 {
        let _ = std::fs::remove_file(&target);
        let _ = ctx.berth(&["cp", &format!("{id}:/w/d/f"), &target.to_string_lossy()]);
        if let Ok(got) = std::fs::read_to_string(&target) {
            assert_ne!(got, "host secret\n", "cp read the host's file");
        }
        let _ = ctx.berth(&["cp", &payload.to_string_lossy(), &format!("{id}:/w/d/f")]);
        assert_eq!(
            std::fs::read_to_string(secret_dir.join("f")).expect("secret"),
            "host secret\n",
            "cp wrote into the host"
        );
    }
    ctx.ok(&["rm", "-f", &id]);
}

/// CVE-2019-14271: `docker cp` ran a helper inside the container that
/// loaded the container's `libnss_*.so`, running its code as root on the
/// host. A container with a hostile `nsswitch.conf` and NSS library whose
/// constructor would leave a mark on the host: `cp` in and out works and
/// no mark appears.
fn cve_2019_14271_cp_runs_nothing_from_the_container(ctx: &Ctx) {
    let work = ctx.dir.path().join("nss");
    std::fs::create_dir_all(&work).expect("work");
    let mark = work.join("pwned");
    let src = work.join("evil.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void evil(void) {{\n\
             FILE *f = fopen(\"{}\", \"w\"); if (f) {{ fputs(\"pwned\", f); fclose(f); }} }}\n",
            mark.display()
        ),
    )
    .expect("source");
    let lib = work.join("libnss_files.so.2");
    let cc = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .expect("gcc (installed by scripts/deps.sh)");
    assert!(cc.status.success(), "gcc: {}", stderr(&cc));
    let id = ctx
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    ctx.ok(&[
        "exec",
        &id,
        "mkdir",
        "-p",
        "/lib/x86_64-linux-gnu",
        "/lib64",
    ]);
    for dest in [
        "/lib/libnss_files.so.2",
        "/lib/x86_64-linux-gnu/libnss_files.so.2",
        "/lib64/libnss_files.so.2",
    ] {
        ctx.ok(&["cp", &lib.to_string_lossy(), &format!("{id}:{dest}")]);
    }
    ctx.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "printf 'passwd: files\\ngroup: files\\n' > /etc/nsswitch.conf; echo data > /f",
    ]);
    let out = work.join("f");
    ctx.ok(&["cp", &format!("{id}:/f"), &out.to_string_lossy()]);
    ctx.ok(&["cp", &out.to_string_lossy(), &format!("{id}:/g")]);
    ctx.ok(&[
        "cp",
        "-a",
        &format!("{id}:/etc"),
        &work.join("etc").to_string_lossy(),
    ]);
    assert!(!mark.exists(), "code from the container ran on the host");
    ctx.ok(&["rm", "-f", &id]);
}

/// A tar with `..`, absolute names, a symlink then a file through it and a
/// hard link out of the root, `ADD`ed in a build: nothing lands outside
/// the image (the build either refuses the archive or keeps it inside).
fn tar_breakout_in_add_stays_inside(ctx: &Ctx) {
    let canary_dir = ctx.dir.path().join("add-canary");
    std::fs::create_dir_all(&canary_dir).expect("canary");
    std::fs::write(canary_dir.join("canary"), "untouched\n").expect("canary");
    let canary = canary_dir.to_string_lossy().into_owned();
    // One archive per trick, each in a build of its own: an archive the
    // extractor refuses stops its build before any later entry is tried.
    let tricks = [
        format!("add('../../../../../../..{canary}/dotdot')"),
        format!("add('{canary}/absolute')"),
        format!(
            "add('esc', kind=tarfile.SYMTYPE, link='{canary}')\nadd('esc/through-link', b'pwned')"
        ),
        format!(
            "add('up', kind=tarfile.SYMTYPE, link='../../../../../../../..{canary}')\n\
             add('up/canary', b'pwned')"
        ),
        format!("add('hard', kind=tarfile.LNKTYPE, link='../../../../../..{canary}/canary')"),
    ];
    for (i, trick) in tricks.iter().enumerate() {
        let work = ctx.dir.path().join(format!("add-breakout-{i}"));
        std::fs::create_dir_all(&work).expect("work");
        let script = format!(
            "import io, tarfile\n\
             t = tarfile.open('{tar}', 'w')\n\
             def add(name, data=b'x', kind=None, link=''):\n    \
               i = tarfile.TarInfo(name)\n    \
               if kind: i.type = kind; i.linkname = link\n    \
               else: i.size = len(data)\n    \
               t.addfile(i, None if kind else io.BytesIO(data))\n\
             {trick}\n\
             t.close()\n",
            tar = work.join("evil.tar").display(),
        );
        run_python(&script);
        std::fs::write(
            work.join("Dockerfile"),
            "FROM busybox\nADD evil.tar /x/\nRUN ls -la /x /x/esc/ /x/up/ || true\n",
        )
        .expect("Dockerfile");
        let _ = ctx.berth(&["build", "-t", "add-breakout", &work.to_string_lossy()]);
        let mut left: Vec<String> = std::fs::read_dir(&canary_dir)
            .expect("canary dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["canary"],
            "files appeared beside the canary: {trick}"
        );
        assert_eq!(
            std::fs::read_to_string(canary_dir.join("canary")).expect("canary"),
            "untouched\n",
            "{trick}"
        );
        let _ = ctx.berth(&["rmi", "add-breakout"]);
    }
}

/// Runs a Python script that writes a test's archive; it must succeed.
fn run_python(script: &str) {
    let made = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3");
    assert!(made.status.success(), "{}", stderr(&made));
}

/// A gzip of 130 KB that expands to a 128 MB layer, loaded: it costs the disk
/// it expands to, streamed, never the daemon's memory.
fn decompression_bomb_costs_disk_not_memory(ctx: &Ctx) {
    let work = ctx.dir.path().join("bomb");
    std::fs::create_dir_all(&work).expect("work");
    let script = format!(
        "import gzip, hashlib, io, json, tarfile\n\
         layer = io.BytesIO()\n\
         with tarfile.open(fileobj=layer, mode='w') as t:\n    \
           i = tarfile.TarInfo('zeros'); i.size = 128 << 20\n    \
           class Z(io.RawIOBase):\n        \
             def readable(self):\n            \
               return True\n        \
             def readinto(self, b):\n            \
               b[:] = bytes(len(b)); return len(b)\n    \
           t.addfile(i, io.BufferedReader(Z()))\n\
         raw = layer.getvalue()\n\
         diff = 'sha256:' + hashlib.sha256(raw).hexdigest()\n\
         cfg = json.dumps({{'architecture': 'amd64', 'os': 'linux', 'rootfs': {{'type': 'layers', 'diff_ids': [diff]}}}}).encode()\n\
         with tarfile.open('{out}', 'w:gz') as t:\n    \
           def put(name, data):\n        \
             i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n    \
           put('config.json', cfg)\n    \
           put('layer.tar', raw)\n    \
           put('manifest.json', json.dumps([{{'Config': 'config.json', 'RepoTags': ['bomb:1'], 'Layers': ['layer.tar']}}]).encode())\n",
        out = work.join("bomb.tar.gz").display(),
    );
    run_python(&script);
    let size = std::fs::metadata(work.join("bomb.tar.gz"))
        .expect("bomb")
        .len();
    assert!(size < 1 << 20, "the bomb is small: {size} bytes");
    let before = ctx.daemon_rss_kib();
    ctx.reset_daemon_peak();
    ctx.ok(&["load", "-i", &work.join("bomb.tar.gz").to_string_lossy()]);
    let peak = ctx.daemon_peak_rss_kib();
    eprintln!("    daemon RSS {before} KiB before loading the bomb, at most {peak} KiB while");
    assert!(
        peak < 100 * 1024,
        "loading a bomb took the daemon to {peak} KiB"
    );
    ctx.ok(&["rmi", "bomb:1"]);
}

/// A registry answering with what a hostile one would: a redirect loop, a
/// manifest without end, a manifest larger than any real one, a blob
/// longer than its descriptor says, an answer that never comes. Each pull
/// fails with an error, in bounded time, the daemon's memory bounded.
fn hostile_registry_is_refused_in_bounded_time_and_memory(ctx: &Ctx) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || hostile_answer(conn));
        }
    });
    let started = Instant::now();
    let before = ctx.daemon_rss_kib();
    ctx.reset_daemon_peak();
    for (repo, want) in [
        ("loop", "blob"),
        ("endless", "larger than"),
        ("huge", "larger than"),
        ("longblob", "larger than"),
        ("bigconfig", "refused"),
    ] {
        let t0 = Instant::now();
        let out = ctx.berth(&["pull", &format!("{addr}/{repo}:x")]);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!out.status.success(), "{repo}: the pull succeeded: {text}");
        assert!(text.contains(want), "{repo}: {text}");
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{repo} took {:?}",
            t0.elapsed()
        );
    }
    let peak = ctx.daemon_peak_rss_kib();
    eprintln!(
        "    hostile registry: 5 pulls refused in {:?}; daemon RSS {before} KiB, at most {peak} KiB while",
        started.elapsed()
    );
    assert!(peak < 100 * 1024, "the daemon grew to {peak} KiB");
    assert_eq!(
        ctx.ok(&["images", "-q", "--filter", &format!("reference={addr}/*")]),
        "",
        "nothing of a refused pull is stored"
    );
}

const CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn manifest_with(config_size: u64) -> String {
    format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
         \"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\
         \"digest\":\"{CONFIG_DIGEST}\",\"size\":{config_size}}},\"layers\":[]}}"
    )
}

/// One answer of the hostile registry, by path.
fn hostile_answer(mut conn: std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).unwrap_or(0);
    let request = String::from_utf8_lossy(&buf[..n]).into_owned();
    let path = request.split(' ').nth(1).unwrap_or("/").to_string();
    let head = |status: &str, extra: &str, len: Option<usize>| {
        let len = len.map_or("Transfer-Encoding: chunked\r\n".to_string(), |l| {
            format!("Content-Length: {l}\r\n")
        });
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Type: application/vnd.oci.image.manifest.v1+json\r\n{len}Connection: close\r\n\r\n"
        )
    };
    let manifest = manifest_with(100);
    let _ = if path == "/v2/" {
        conn.write_all(head("200 OK", "", Some(2)).as_bytes())
            .and_then(|()| conn.write_all(b"{}"))
    } else if path.contains("/blobs/") && path.starts_with("/v2/loop/") {
        conn.write_all(head("302 Found", &format!("Location: {path}\r\n"), Some(0)).as_bytes())
    } else if path.contains("/blobs/") {
        // Longer than any descriptor says.
        conn.write_all(head("200 OK", "", Some(1 << 20)).as_bytes())
            .and_then(|()| conn.write_all(&vec![b'x'; 1 << 20]))
    } else if path.starts_with("/v2/endless/") {
        conn.write_all(head("200 OK", "", None).as_bytes())
            .and_then(|()| loop {
                conn.write_all(b"10000\r\n")?;
                conn.write_all(&[b' '; 0x10000])?;
                conn.write_all(b"\r\n")?;
            })
    } else if path.starts_with("/v2/huge/") {
        conn.write_all(head("200 OK", "", Some(100 << 20)).as_bytes())
            .and_then(|()| {
                for _ in 0..100 {
                    conn.write_all(&[b' '; 1 << 20])?;
                }
                Ok(())
            })
    } else if path.starts_with("/v2/bigconfig/") {
        let m = manifest_with(1 << 40);
        conn.write_all(head("200 OK", "", Some(m.len())).as_bytes())
            .and_then(|()| conn.write_all(m.as_bytes()))
    } else {
        conn.write_all(head("200 OK", "", Some(manifest.len())).as_bytes())
            .and_then(|()| conn.write_all(manifest.as_bytes()))
    };
}

/// Nine levels of YAML aliases, each nine times the last (a billion
/// laughs): `compose config` refuses the file quickly instead of
/// expanding it.
fn billion_laughs_compose_file_is_refused(ctx: &Ctx) {
    let work = ctx.dir.path().join("laughs");
    std::fs::create_dir_all(&work).expect("work");
    let mut yaml = String::from(
        "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        yaml.push_str(&format!(
            "x-{1}: &{1} [*{0},*{0},*{0},*{0},*{0},*{0},*{0},*{0},*{0}]\n",
            w[0], w[1]
        ));
    }
    yaml.push_str("services:\n  s:\n    image: busybox\n    command: *i\n");
    let file = work.join("compose.yaml");
    std::fs::write(&file, yaml).expect("compose file");
    let t0 = Instant::now();
    let out = Command::new(berth_bin())
        .args(["compose", "-f", &file.to_string_lossy(), "config"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("compose config");
    let elapsed = t0.elapsed();
    assert!(!out.status.success(), "the file was expanded");
    let err = stderr(&out);
    assert!(
        err.contains("budget breached") && err.contains("compose.yaml"),
        "the error names the file and the limit: {err}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// The usual ways out, tried from inside with Docker's default
/// capabilities and with `--cap-drop ALL`: every one fails.
fn escape_attempts_fail_with_default_and_no_capabilities(ctx: &Ctx) {
    let attempts = [
        "mount -t tmpfs none /mnt",
        "mount -o remount,rw /proc/sys",
        "echo 1 > /proc/sys/kernel/sysrq",
        "echo c > /proc/sysrq-trigger",
        "mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda",
        "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem",
        "head -c 1 /dev/kmsg",
        "ip link add evil type dummy",
        "nsenter -t 1 -m -- true",
        "unshare -m -- true",
        "chroot / true && test -e /proc/1/root/.dockerenv",
        "ls /sys/firmware/ | grep -q .",
        "cat /proc/kcore | head -c 1 | grep -q .",
        "echo > /sys/kernel/uevent_helper",
        "mount -t cgroup -o memory none /mnt",
        "swapoff -a",
        "hostname pwned",
        "echo /tmp/evil > /proc/sys/kernel/core_pattern",
        "echo /tmp/evil > /proc/sys/kernel/modprobe",
    ];
    let script = attempts
        .iter()
        .map(|a| format!("if ({a}) >/dev/null 2>&1; then echo \"ESCAPED: {a}\"; fi"))
        .collect::<Vec<_>>()
        .join("\n");
    // Put back should an attempt succeed, so a failing run leaves the
    // machine as it was.
    struct CorePattern(Option<String>);
    impl Drop for CorePattern {
        fn drop(&mut self) {
            if let Some(before) = &self.0 {
                let now = std::fs::read_to_string("/proc/sys/kernel/core_pattern");
                if now.as_deref().ok() != Some(before.as_str()) {
                    let _ = std::fs::write("/proc/sys/kernel/core_pattern", before);
                }
            }
        }
    }
    let _core_pattern = CorePattern(std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok());
    for extra in [&[][..], &["--cap-drop", "ALL"][..]] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sh", "-c", &script]);
        let out = ctx.berth(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let escaped = stdout(&out);
        assert!(escaped.is_empty(), "with {extra:?}:\n{escaped}");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_ne!(host.trim(), "pwned");
}
