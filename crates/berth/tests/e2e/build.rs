//! `berth build` and `docker build` (legacy builder) against the daemon:
//! the shared build fixture (multi-stage, debian and busybox), the cache
//! rules, `.dockerignore`, and broken Dockerfiles.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{stderr, stdout, wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("build_fixture_and_cache", build_fixture_and_cache),
    (
        "build_dockerignore_and_copy_rules",
        build_dockerignore_and_copy_rules,
    ),
    ("build_failures_leave_nothing", build_failures_leave_nothing),
    (
        "killed_build_leaves_no_step_container",
        killed_build_leaves_no_step_container,
    ),
    (
        "build_stops_when_its_client_goes",
        build_stops_when_its_client_goes,
    ),
    (
        "build_output_waits_for_a_client_that_stops_reading",
        build_output_waits_for_a_client_that_stops_reading,
    ),
    (
        "docker_cli_builds_the_fixture",
        docker_cli_builds_the_fixture,
    ),
    ("build_instruction_corpus", build_instruction_corpus),
    ("build_heredocs", build_heredocs),
    ("build_run_host_settings", build_run_host_settings),
    ("build_add_from_url", build_add_from_url),
    (
        "independent_stages_run_together",
        independent_stages_run_together,
    ),
    ("build_add_exclude_parents", build_add_exclude_parents),
    ("build_run_mounts_and_secrets", build_run_mounts_and_secrets),
    (
        "reproducible_builds_with_source_date_epoch",
        reproducible_builds_with_source_date_epoch,
    ),
    (
        "builder_prune_and_intermediate_images",
        builder_prune_and_intermediate_images,
    ),
    ("build_cache_from_an_image", build_cache_from_an_image),
];

/// The fixture copied into a writable directory of the test.
fn fixture(ctx: &Ctx, name: &str) -> PathBuf {
    let dest = ctx.dir.path().join(name);
    let _ = std::fs::remove_dir_all(&dest);
    let src = crate::harness::repo_root().join("crates/berth/tests/fixtures/build-fixture");
    let out = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&dest)
        .output()
        .expect("cp");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(&dest)
        .output()
        .expect("chmod");
    assert!(out.status.success());
    dest
}

/// `debian:bookworm` in the daemon (imported once).
fn debian(ctx: &Ctx) {
    if ctx
        .berth(&["image", "inspect", "debian:bookworm"])
        .status
        .success()
    {
        return;
    }
    let tar = crate::network::debian_rootfs(ctx);
    ctx.ok(&["import", tar.to_str().expect("utf8"), "debian:bookworm"]);
}

fn build_in(ctx: &Ctx, dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    all.push(dir.to_str().expect("utf8"));
    ctx.berth(&all)
}

fn built_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap_or_else(|| panic!("no image built:\n{out}"))
        .trim()
        .to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn build_fixture_and_cache(ctx: &Ctx) {
    debian(ctx);
    let dir = fixture(ctx, "build-fixture");
    let first = build_in(ctx, &dir, &["-t", "fixture:1"]);
    assert!(
        first.status.success(),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    let out = stdout(&first);
    assert!(
        out.contains("Step 11/11 : CMD [\"cat\", \"/app/data/SUMS\"]"),
        "{out}"
    );
    assert!(out.contains("Successfully tagged fixture:1"), "{out}");
    assert!(out.contains("-rw-r--r--"), "RUN output is shown: {out}");
    let id = built_id(&out);

    // The image prints SUMS: the upper-cased sources' sha256.
    let sums = ctx.ok(&["run", "--rm", "fixture:1"]);
    for f in ["a.txt", "b.txt", "c.txt"] {
        let src = std::fs::read_to_string(dir.join("src").join(f)).expect("source");
        let want = format!("{}  /out/{f}", sha256_hex(src.to_uppercase().as_bytes()));
        assert!(sums.contains(&want), "{want} in\n{sums}");
    }

    // Everything cached, same image.
    let again = stdout(&build_in(ctx, &dir, &["-t", "fixture:1"]));
    assert_eq!(again.matches(" ---> Using cache").count(), 9, "{again}");
    assert_eq!(
        built_id(&again),
        id,
        "a cached rebuild gives the same image"
    );

    // The cache survives a daemon restart.
    ctx.stop_daemon();
    ctx.start_daemon();
    let restarted = stdout(&build_in(ctx, &dir, &["-t", "fixture:1"]));
    assert_eq!(built_id(&restarted), id, "{restarted}");

    // One source changed: its COPY and everything after it run again.
    std::fs::write(dir.join("src/b.txt"), "bravo, changed\n").expect("write");
    let changed = stdout(&build_in(ctx, &dir, &["-t", "fixture:2"]));
    assert_eq!(
        changed.matches(" ---> Using cache").count(),
        1,
        "only WORKDIR before the changed COPY is cached:\n{changed}"
    );
    let step3 = changed.split("Step 3/11").nth(1).expect("step 3");
    assert!(
        !step3.starts_with(" : COPY src/ /src/\n ---> Using cache"),
        "{changed}"
    );
    assert_ne!(built_id(&changed), id);
    let sums = ctx.ok(&["run", "--rm", "fixture:2"]);
    assert!(
        sums.contains(&sha256_hex(b"BRAVO, CHANGED\n")),
        "the new content is in the image:\n{sums}"
    );

    // --no-cache runs everything; -q prints only the id; --iidfile writes it.
    let iid = ctx.dir.path().join("iid");
    let quiet = build_in(
        ctx,
        &dir,
        &["--no-cache", "-q", "--iidfile", iid.to_str().expect("utf8")],
    );
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    let printed = stdout(&quiet).trim().to_string();
    assert!(
        printed.starts_with("sha256:") && !printed.contains('\n'),
        "{printed}"
    );
    assert_eq!(std::fs::read_to_string(&iid).expect("iidfile"), printed);
    assert_ne!(printed, id, "--no-cache builds new layers");

    // --no-cache-filter: only the named stage runs again (and what
    // depends on its new layers).
    let filtered = stdout(&build_in(
        ctx,
        &dir,
        &["--no-cache-filter", "builder", "-t", "fixture:2"],
    ));
    let builder_part = filtered.split("Step 6/11").next().expect("builder stage");
    assert!(!builder_part.contains("Using cache"), "{filtered}");
    assert!(filtered.contains("Successfully built"), "{filtered}");

    // --target builds only what the target needs.
    let target = stdout(&build_in(
        ctx,
        &dir,
        &["--target", "builder", "-t", "fixture:builder"],
    ));
    assert!(
        target.contains("Step 5/5 :"),
        "only the builder stage: {target}"
    );
    ctx.ok(&["rmi", "fixture:1", "fixture:2", "fixture:builder"]);
    let _ = ctx.berth(&["rmi", &printed]);
}

fn build_dockerignore_and_copy_rules(ctx: &Ctx) {
    let dir = ctx.dir.path().join("build-ignore");
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["logs", "src/deep", "docs"] {
        std::fs::create_dir_all(dir.join(d)).expect("dir");
    }
    for (f, body) in [
        ("logs/1.log", "x"),
        ("logs/keep.log", "kept"),
        ("src/a.go", "a"),
        ("src/deep/b.go", "b"),
        ("src/notes.md", "n"),
        ("secret.env", "s"),
        ("docs/readme", "r"),
    ] {
        std::fs::write(dir.join(f), body).expect("file");
    }
    std::fs::write(
        dir.join(".dockerignore"),
        "# comment\nlogs\n!logs/keep.log\n**/*.md\n*.env\n",
    )
    .expect("ignore");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nARG DEST=/ctx\nENV OWNER=1234\nCOPY --chown=${OWNER}:5678 --chmod=640 . $DEST/\nCOPY src/*.go /gofiles/\nWORKDIR /ctx\nCMD find . /gofiles -type f\n",
    )
    .expect("dockerfile");
    let out = build_in(ctx, &dir, &["-t", "ignore-test:1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let mut files: Vec<String> = ctx
        .ok(&["run", "--rm", "ignore-test:1"])
        .lines()
        .map(str::to_string)
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            "./.dockerignore",
            "./Dockerfile",
            "./docs/readme",
            "./logs/keep.log",
            "./src/a.go",
            "./src/deep/b.go",
            "/gofiles/a.go",
        ],
        "ignored files are not in the context; the exception is"
    );
    let owner = ctx.ok(&[
        "run",
        "--rm",
        "ignore-test:1",
        "stat",
        "-c",
        "%u:%g %a",
        "/ctx/src/a.go",
    ]);
    assert_eq!(owner.trim(), "1234:5678 640", "--chown and --chmod");
    // A Dockerfile outside the context, with its own NAME.dockerignore.
    let outside = ctx.dir.path().join("outside.Dockerfile");
    std::fs::write(
        &outside,
        "FROM busybox\nCOPY . /all/\nCMD find /all -type f\n",
    )
    .expect("df");
    std::fs::write(
        ctx.dir.path().join("outside.Dockerfile.dockerignore"),
        "src\n",
    )
    .expect("ign");
    let out = build_in(
        ctx,
        &dir,
        &[
            "-f",
            outside.to_str().expect("utf8"),
            "-t",
            "ignore-test:outside",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let listed = ctx.ok(&["run", "--rm", "ignore-test:outside"]);
    assert!(
        !listed.contains("/all/src/") && listed.contains("/all/logs/1.log"),
        "the Dockerfile's own ignore file applies, not .dockerignore: {listed}"
    );
    ctx.ok(&["rmi", "ignore-test:outside"]);
    let labelled = build_in(
        ctx,
        &dir,
        &[
            "-t",
            "ignore-test:1",
            "--label",
            "team=berth",
            "--label",
            "tier=test",
        ],
    );
    assert!(labelled.status.success(), "{}", stderr(&labelled));
    let labels = ctx.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        "ignore-test:1",
    ]);
    assert_eq!(labels.trim(), r#"{"team":"berth","tier":"test"}"#);
    ctx.ok(&["rmi", "ignore-test:1"]);
}

fn build_failures_leave_nothing(ctx: &Ctx) {
    let containers_before = ctx.ok(&["ps", "-aq"]);
    // Hostile Dockerfiles (issue 15): nesting that overflowed a worker's
    // stack and aborted the daemon; a variable doubling itself until the
    // machine's memory was gone.
    let deep = format!(
        "FROM busybox\nENV A=\"{}x{}\"\n",
        "${Z:-".repeat(8000),
        "}".repeat(8000)
    );
    let mut doubling = String::from("FROM busybox\nENV A0=xxxxxxxxxx\n");
    for n in 0..40 {
        doubling.push_str(&format!("ENV A{}=${{A{n}}}${{A{n}}}\n", n + 1));
    }
    let cases: &[(&str, &str, &[&str])] = &[
        (&deep, "substitutions nested more than 64 deep", &[]),
        (&doubling, "a substituted value is longer than 1048576 bytes", &[]),
        ("FROM busybox\nFROBNICATE now\n", "Dockerfile:2", &[]),
        ("FROM busybox\nRUN <<EOF\necho\n", "Dockerfile:", &[]),
        (
            "FROM busybox AS a\nRUN true\n",
            "target stage \"nope\" could not be found",
            &["--target", "nope"],
        ),
        (
            "FROM busybox\nCOPY missing.txt /x\n",
            "file not found in build context",
            &[],
        ),
        // --force-rm: Docker's default keeps a failed RUN's container
        // (compat::build_keeps_intermediates shows that); here none stays.
        (
            "FROM busybox\nRUN echo before; exit 3\n",
            "returned a non-zero code: 3",
            &["--force-rm"],
        ),
        (
            "FROM busybox\nRUN --mount=type=ssh true\n",
            "not supported yet",
            &[],
        ),
        (
            "FROM busybox\nCOPY ../outside /x\n",
            "outside the build context",
            &[],
        ),
        (
            "FROM busybox\nADD https://git.example.invalid/repo.git#main /src\n",
            "Dockerfile:2: ADD https://git.example.invalid/repo.git#main /src: ADD from a git repository is not supported yet",
            &[],
        ),
        (
            "FROM busybox\nRUN true\n",
            "building for linux/s390x is not supported",
            &["--platform", "linux/s390x"],
        ),
    ];
    for (i, (text, want, args)) in cases.iter().enumerate() {
        let dir = ctx.dir.path().join(format!("build-broken-{i}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("Dockerfile"), text).expect("dockerfile");
        let out = build_in(ctx, &dir, args);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains(want),
            "{text:?}: want {want:?} in {}",
            stderr(&out)
        );
    }
    let remote = ctx.berth(&["build", "https://git.example.invalid/x.git"]);
    assert_eq!(remote.status.code(), Some(1));
    assert!(
        stderr(&remote).contains("building from a URL or git repository"),
        "{}",
        stderr(&remote)
    );
    assert_eq!(
        ctx.ok(&["ps", "-aq"]),
        containers_before,
        "failed builds leave no intermediate containers"
    );
    assert!(ctx.our_mounts().is_empty(), "{:?}", ctx.our_mounts());
    let work = ctx.root.join("builder/work");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "build directories left: {left:?}");
}

fn docker_cli_builds_the_fixture(ctx: &Ctx) {
    debian(ctx);
    let dir = fixture(ctx, "build-fixture-docker");
    let docker = |args: &[&str]| {
        Command::new(crate::harness::docker_cli())
            .args(args)
            .env("DOCKER_HOST", ctx.host())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("docker")
    };
    let dirs = dir.to_str().expect("utf8");
    let first = docker(&["build", "-t", "dockerfx:1", dirs]);
    assert!(
        first.status.success(),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    assert!(
        stdout(&first).contains("Successfully tagged dockerfx:1"),
        "{}",
        stdout(&first)
    );
    let second = docker(&["build", "-t", "dockerfx:1", dirs]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(
        stdout(&second).matches("Using cache").count(),
        9,
        "{}",
        stdout(&second)
    );
    assert_eq!(built_id(&stdout(&first)), built_id(&stdout(&second)));
    let run = docker(&["run", "--rm", "dockerfx:1"]);
    assert!(stdout(&run).contains("/out/a.txt"), "{}", stdout(&run));
    ctx.ok(&["rmi", "dockerfx:1"]);
}

fn write_ctx(ctx: &Ctx, name: &str, dockerfile: &str) -> PathBuf {
    let dir = ctx.dir.path().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("dockerfile");
    dir
}

const PARENT: &str = "FROM busybox AS parent
ONBUILD RUN echo triggered > /onbuild
ONBUILD ENV FROM_TRIGGER=yes
LABEL stage=parent
";

const CHILD: &str = r#"ARG GLOBAL=g1
FROM corpus-parent:1
ARG GLOBAL
ARG LOCAL=l1
ARG TARGETARCH
ENV E1=$LOCAL E2="two words" E3=${UNSET:-dflt} E4='$LOCAL' E5=a\ b
ENV COMBO=${E1}-${GLOBAL}
RUN echo "arch=$TARGETARCH local=$LOCAL global=$GLOBAL" > /args; echo continued \
    line
WORKDIR rel
WORKDIR sub
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME /data
LABEL a=b "c d"=e
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
CMD ["sh", "-c", "cat /onbuild /args"]
"#;

/// Every metadata instruction, ARG/ENV scoping and substitution, ONBUILD
/// triggers run by a child build, and ARG changes invalidating RUN.
fn build_instruction_corpus(ctx: &Ctx) {
    let parent = write_ctx(ctx, "corpus-parent", PARENT);
    let out = build_in(ctx, &parent, &["-t", "corpus-parent:1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let child = write_ctx(ctx, "corpus-child", CHILD);
    let out = build_in(ctx, &child, &["-t", "corpus-child:1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("# Executing 2 build triggers"),
        "{}",
        stdout(&out)
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&ctx.ok(&["image", "inspect", "corpus-child:1"])).expect("json");
    let c = &inspect[0]["Config"];
    let env: Vec<&str> = c["Env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for want in [
        "E1=l1",
        "E2=two words",
        "E3=dflt",
        "E4=$LOCAL",
        "E5=a b",
        "COMBO=l1-g1",
        "FROM_TRIGGER=yes",
    ] {
        assert!(env.contains(&want), "{want} in {env:?}");
    }
    assert!(
        !env.iter().any(|e| e.starts_with("LOCAL=")),
        "ARGs are not kept: {env:?}"
    );
    assert_eq!(c["WorkingDir"], "/rel/sub");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}, "53/udp": {}})
    );
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["Labels"]["a"], "b");
    assert_eq!(c["Labels"]["c d"], "e");
    assert_eq!(c["Labels"]["stage"], "parent");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "true"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert!(
        c["OnBuild"].as_array().is_none_or(|a| a.is_empty()),
        "triggers are not inherited: {}",
        c["OnBuild"]
    );
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(
        ctx.ok(&["run", "--rm", "corpus-child:1"]),
        format!("triggered\narch={arch} local=l1 global=g1\n")
    );
    let history = ctx.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "corpus-child:1",
    ]);
    assert!(history.contains("WORKDIR /rel/sub"), "{history}");

    // The same build is cached; another value of a used ARG reruns RUN.
    let again = stdout(&build_in(ctx, &child, &["-t", "corpus-child:1"]));
    assert!(!again.contains("Running in"), "{again}");
    let changed = stdout(&build_in(
        ctx,
        &child,
        &["-t", "corpus-child:2", "--build-arg", "LOCAL=l2"],
    ));
    assert!(changed.contains("Running in"), "{changed}");
    assert_eq!(
        ctx.ok(&["run", "--rm", "corpus-child:2"]),
        format!("triggered\narch={arch} local=l2 global=g1\n")
    );
    ctx.ok(&["rmi", "corpus-child:1", "corpus-child:2", "corpus-parent:1"]);
}

/// A build's intermediate images show only with `images -a`; `builder
/// prune -a` forgets the cache, so the next build runs every step.
fn builder_prune_and_intermediate_images(ctx: &Ctx) {
    let none = |all: bool| {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        if all {
            args.push("-a");
        }
        ctx.ok(&args).matches("<none>").count()
    };
    let (shown_before, all_before) = (none(false), none(true));
    let dir = write_ctx(
        ctx,
        "prune-ctx",
        "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\nENV DONE=1\n",
    );
    let out = build_in(ctx, &dir, &["-t", "prune-test:1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(none(false), shown_before, "intermediate images are hidden");
    assert!(none(true) >= all_before + 2, "images -a shows them");
    let pruned = ctx.ok(&["builder", "prune", "-a", "-f"]);
    assert!(pruned.contains("Deleted build cache objects:"), "{pruned}");
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    let again = stdout(&build_in(ctx, &dir, &["-t", "prune-test:1"]));
    assert!(
        !again.contains("Using cache"),
        "the cache is gone:\n{again}"
    );
    ctx.ok(&["rmi", "prune-test:1"]);
    let pruned = ctx.ok(&["builder", "prune", "-a", "-f"]);
    assert!(pruned.contains("Deleted build cache objects:"), "{pruned}");
    // The first build's image lost its tag to the second: dangling, as in
    // Docker, until an image prune (which takes its intermediates too).
    ctx.ok(&["image", "prune", "-f"]);
    assert!(
        none(true) <= all_before,
        "nothing of the build is left: {}",
        ctx.ok(&["images", "-a"])
    );
}

/// Two clean builds with `SOURCE_DATE_EPOCH=0` give the same image id:
/// fixed creation times, layer mtimes clamped.
fn reproducible_builds_with_source_date_epoch(ctx: &Ctx) {
    let dir = write_ctx(
        ctx,
        "epoch-ctx",
        "FROM busybox\nRUN echo hi > /hi && mkdir -p /made/deep\nCOPY f /f\nWORKDIR /w\nENV X=1\n",
    );
    std::fs::write(dir.join("f"), "file").expect("f");
    let build = |extra: &[&str]| {
        let mut args = vec!["--no-cache"];
        args.extend_from_slice(extra);
        let out = build_in(ctx, &dir, &args);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        built_id(&stdout(&out))
    };
    let one = build(&["--build-arg", "SOURCE_DATE_EPOCH=0"]);
    // Time must pass here: the second build runs in a later second, so only
    // SOURCE_DATE_EPOCH can make the two ids equal.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let two = build(&["--build-arg", "SOURCE_DATE_EPOCH=0"]);
    assert_eq!(one, two, "same context, same epoch, same image");
    let created = ctx.ok(&["image", "inspect", "-f", "{{.Created}}", &one]);
    assert!(created.starts_with("1970-01-01T00:00:00"), "{created}");
    let plain = build(&[]);
    assert_ne!(plain, one, "without an epoch the times differ");
    let _ = ctx.berth(&["rmi", &one, &plain]);
    ctx.ok(&["builder", "prune", "-a", "-f"]);
}

const HEREDOCS: &str = r#"FROM busybox
ARG WHO=world
RUN <<EOF
echo "hello $WHO" > /greeting
echo second >> /greeting
EOF
RUN cat <<'EOT' > /literal
$WHO stays
EOT
COPY <<EOF /etc/copied.conf
name=$WHO
EOF
RUN <<EOF
#!/bin/sh
echo program > /prog
EOF
CMD cat /greeting /literal /etc/copied.conf /prog
"#;

/// Here-documents: a RUN script, one fed to a command (quoted: no
/// substitution), a COPY of inline content (substituted), and a `#!`
/// program.
fn build_heredocs(ctx: &Ctx) {
    let dir = write_ctx(ctx, "heredoc-ctx", HEREDOCS);
    let out = build_in(ctx, &dir, &["-t", "heredocs:1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        ctx.ok(&["run", "--rm", "heredocs:1"]),
        "hello world\nsecond\n$WHO stays\nname=world\nprogram\n"
    );
    let again = stdout(&build_in(ctx, &dir, &["-t", "heredocs:1"]));
    assert_eq!(again.matches("Using cache").count(), 5, "{again}");
    // Another body under the same first line is another step.
    std::fs::write(
        dir.join("Dockerfile"),
        HEREDOCS.replace("echo second", "echo changed"),
    )
    .expect("dockerfile");
    let changed = stdout(&build_in(ctx, &dir, &["-t", "heredocs:1"]));
    assert_eq!(changed.matches("Using cache").count(), 0, "{changed}");
    assert!(ctx
        .ok(&["run", "--rm", "heredocs:1"])
        .starts_with("hello world\nchanged\n"));
    ctx.ok(&["rmi", "heredocs:1"]);
}

const MOUNTS: &str = "FROM busybox
RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/log; wc -l < /cache/log > /count'
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /secret-used
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/f && test -f /scratch/f'
RUN --mount=type=bind,source=data,target=/data cat /data/in > /copied
CMD cat /count /secret-used /copied
";

/// RUN mounts: a cache that lasts across builds, a secret that reaches
/// the step and no layer, a tmpfs, a bind of the context; mount points
/// the image lacked are not left in it.
fn build_run_mounts_and_secrets(ctx: &Ctx) {
    let dir = write_ctx(ctx, "mounts-ctx", MOUNTS);
    std::fs::create_dir_all(dir.join("data")).expect("data");
    std::fs::write(dir.join("data/in"), "bound\n").expect("in");
    let secret = ctx.dir.path().join("token.txt");
    std::fs::write(&secret, "s3cr3t-value").expect("secret");
    let spec = format!("id=token,src={}", secret.display());
    let out = build_in(ctx, &dir, &["-t", "mounts:1", "--secret", &spec]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(ctx.ok(&["run", "--rm", "mounts:1"]), "1\n12\nbound\n");
    let out = build_in(
        ctx,
        &dir,
        &["-t", "mounts:2", "--no-cache", "--secret", &spec],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        ctx.ok(&["run", "--rm", "mounts:2", "cat", "/count"]),
        "2\n",
        "the cache mount kept the first build's file"
    );
    let probe = ctx.berth(&[
        "run",
        "--rm",
        "mounts:2",
        "ls",
        "-d",
        "/run/secrets",
        "/cache",
        "/scratch",
        "/data",
    ]);
    assert!(
        !probe.status.success() && stdout(&probe).is_empty(),
        "mount points are not in the image: {}",
        stdout(&probe)
    );
    let archive = ctx.dir.path().join("mounts.tar");
    ctx.ok(&["save", "-o", archive.to_str().expect("utf8"), "mounts:2"]);
    let bytes = std::fs::read(&archive).expect("archive");
    assert!(
        !bytes.windows(12).any(|w| w == b"s3cr3t-value"),
        "the secret is in no layer, config or history"
    );
    let _ = std::fs::remove_file(&archive);
    let missing = write_ctx(
        ctx,
        "mounts-missing",
        "FROM busybox\nRUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n",
    );
    let out = build_in(ctx, &missing, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("secret nope is required"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["rmi", "mounts:1", "mounts:2"]);
}

/// ADD unpacks local tar.gz, tar.xz and tar.bz2 archives; COPY --exclude
/// and --parents.
fn build_add_exclude_parents(ctx: &Ctx) {
    let dir = write_ctx(
        ctx,
        "add-ctx",
        "FROM busybox\nCOPY --exclude=**/*.md x/ /ex/\nCOPY --parents x/y/one.txt /par/\nADD archive.tgz /unpacked/\nADD archive.tar.xz /xz/\nADD archive.tar.bz2 /bz2/\nCMD find /ex /par /unpacked /xz /bz2 -type f\n",
    );
    std::fs::create_dir_all(dir.join("x/y")).expect("dirs");
    std::fs::write(dir.join("x/y/one.txt"), "1").expect("one");
    std::fs::write(dir.join("x/y/two.md"), "2").expect("two");
    let staging = ctx.dir.path().join("add-archive-src");
    std::fs::create_dir_all(staging.join("inner")).expect("inner");
    std::fs::write(staging.join("inner/file"), "packed").expect("file");
    let out = Command::new("tar")
        .arg("-czf")
        .arg(dir.join("archive.tgz"))
        .arg("-C")
        .arg(&staging)
        .arg("inner")
        .output()
        .expect("tar");
    assert!(out.status.success(), "{}", stderr(&out));
    for (flag, name) in [("-cJf", "archive.tar.xz"), ("-cjf", "archive.tar.bz2")] {
        let out = Command::new("tar")
            .arg(flag)
            .arg(dir.join(name))
            .arg("-C")
            .arg(&staging)
            .arg("inner")
            .output()
            .expect("tar");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    let built = build_in(ctx, &dir, &["-t", "add-test:1"]);
    assert!(
        built.status.success(),
        "{}{}",
        stdout(&built),
        stderr(&built)
    );
    let mut files: Vec<String> = ctx
        .ok(&["run", "--rm", "add-test:1"])
        .lines()
        .map(str::to_string)
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            "/bz2/inner/file",
            "/ex/y/one.txt",
            "/par/x/y/one.txt",
            "/unpacked/inner/file",
            "/xz/inner/file"
        ]
    );
    ctx.ok(&["rmi", "add-test:1"]);
}

const PARALLEL: &str = "FROM busybox AS a
RUN cut -d' ' -f1 /proc/uptime > /start && sleep 1 && cut -d' ' -f1 /proc/uptime > /end
FROM busybox AS b
RUN cut -d' ' -f1 /proc/uptime > /start && sleep 1 && cut -d' ' -f1 /proc/uptime > /end
FROM busybox
COPY --from=a /start /a-start
COPY --from=a /end /a-end
COPY --from=b /start /b-start
COPY --from=b /end /b-end
CMD cat /a-start /a-end /b-start /b-end
";

/// Stages that need nothing from each other run at once (their RUNs
/// overlap in time), and the output still reads in Dockerfile order.
fn independent_stages_run_together(ctx: &Ctx) {
    let dir = write_ctx(ctx, "parallel-ctx", PARALLEL);
    let out = build_in(ctx, &dir, &["-t", "parallel:1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let steps: Vec<usize> = stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("Step "))
        .filter_map(|l| l.split('/').next()?.parse().ok())
        .collect();
    assert_eq!(steps, (1..=10).collect::<Vec<_>>(), "{}", stdout(&out));
    let times: Vec<f64> = ctx
        .ok(&["run", "--rm", "parallel:1"])
        .lines()
        .map(|l| l.trim().parse().expect("a time"))
        .collect();
    let (a_start, a_end, b_start, b_end) = (times[0], times[1], times[2], times[3]);
    assert!(
        a_start < b_end && b_start < a_end,
        "the two stages' RUNs overlap: a {a_start}..{a_end}, b {b_start}..{b_end}"
    );
    ctx.ok(&["rmi", "parallel:1"]);
}

/// A one-file HTTP server on loopback for the test's lifetime.
fn serve_once_per_request(
    body: &'static [u8],
) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::Write;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr = crate::front::serve(stop.clone(), move |mut s| {
        let _ = crate::front::Request::read(&mut s, std::time::Duration::from_secs(5));
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(body);
    });
    (addr, stop)
}

/// ADD of a URL (a loopback server), with a right and a wrong --checksum;
/// the file keeps the server's Last-Modified time.
fn build_add_from_url(ctx: &Ctx) {
    let body: &'static [u8] = b"downloaded content\n";
    let (addr, stop) = serve_once_per_request(body);
    let sum = sha256_hex(body);
    let good = write_ctx(
        ctx,
        "add-url",
        &format!(
            "FROM busybox\nADD --checksum=sha256:{sum} http://{addr}/files/data.txt /opt/\nCMD cat /opt/data.txt\n"
        ),
    );
    let out = build_in(ctx, &good, &["-t", "add-url:1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        ctx.ok(&["run", "--rm", "add-url:1"]),
        "downloaded content\n"
    );
    let mode = ctx.ok(&[
        "run",
        "--rm",
        "add-url:1",
        "stat",
        "-c",
        "%a %Y",
        "/opt/data.txt",
    ]);
    assert_eq!(
        mode.trim(),
        "600 1445412480",
        "downloaded files are 0600 with the server's Last-Modified, as Docker's"
    );
    let bad = write_ctx(
        ctx,
        "add-url-bad",
        &format!(
            "FROM busybox\nADD --checksum=sha256:{} http://{addr}/files/data.txt /opt/\n",
            "0".repeat(64)
        ),
    );
    let out = build_in(ctx, &bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not the expected"),
        "{}",
        stderr(&out)
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    ctx.ok(&["rmi", "add-url:1"]);
}

/// RUN steps get the build's extra hosts and memory limit (a step that
/// needs more is killed), and COPY --link copies.
fn build_run_host_settings(ctx: &Ctx) {
    let dir = write_ctx(
        ctx,
        "hosts-ctx",
        "FROM busybox\nRUN grep buildhost /etc/hosts > /hosts\nRUN df -k /dev/shm | tail -1 | awk '{print $2}' > /shm; ulimit -n > /nofile\nCOPY --link f /f\nCMD cat /hosts /shm /nofile /f\n",
    );
    std::fs::write(dir.join("f"), "linked\n").expect("f");
    let out = build_in(
        ctx,
        &dir,
        &[
            "-t",
            "hosts:1",
            "--add-host",
            "buildhost:10.9.8.7",
            "-m",
            "64m",
            "--shm-size",
            "16m",
            "--ulimit",
            "nofile=1000:2000",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let shown = ctx.ok(&["run", "--rm", "hosts:1"]);
    assert_eq!(shown, "10.9.8.7\tbuildhost\n16384\n1000\nlinked\n");
    ctx.ok(&["rmi", "hosts:1"]);
    let hungry = write_ctx(
        ctx,
        "memory-ctx",
        "FROM busybox\nRUN head -c 200000000 /dev/zero | sort > /dev/null\n",
    );
    // A failed step's container stays (Docker's classic builder keeps it
    // for inspection) unless --force-rm.
    let out = build_in(
        ctx,
        &hungry,
        &["-m", "64m", "--memory-swap", "64m", "--force-rm"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("returned a non-zero code: 137"),
        "killed at the limit: {}",
        stderr(&out)
    );
}

const CACHE_FROM: &str = "FROM busybox
ARG V=1
RUN echo $V > /v
COPY f /f
ENV X=1
WORKDIR /w
RUN echo done > /done
CMD cat /v /f /done
";

/// `--cache-from`: an image built elsewhere (here: saved, its build cache
/// and intermediates deleted, loaded back) provides every step, giving the
/// same image; a changed file misses from its COPY on; images that are
/// not there are skipped; the docker CLI's `--cache-from` too.
fn build_cache_from_an_image(ctx: &Ctx) {
    let dir = write_ctx(ctx, "cache-from-ctx", CACHE_FROM);
    std::fs::write(dir.join("f"), "one\n").expect("f");
    let out = build_in(ctx, &dir, &["-t", "cachesrc:1", "--label", "made=here"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let source = built_id(&stdout(&out));
    let tar = ctx.dir.path().join("cachesrc.tar");
    ctx.ok(&["save", "-o", tar.to_str().expect("utf8"), "cachesrc:1"]);
    let forget = || {
        let _ = ctx.berth(&["rmi", "cachesrc:1", "cachesrc:2", "cachesrc:3"]);
        ctx.ok(&["builder", "prune", "-a", "-f"]);
        assert!(
            !ctx.ok(&["images", "-a", "--no-trunc"])
                .contains(&source[..12]),
            "the source image and its intermediates are gone"
        );
        ctx.ok(&["load", "-i", tar.to_str().expect("utf8")]);
    };
    forget();
    let out = build_in(
        ctx,
        &dir,
        &[
            "-t",
            "cachesrc:2",
            "--label",
            "made=here",
            "--cache-from",
            "missing/image:1,cachesrc:1",
        ],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(text.matches("Using cache").count(), 6, "{text}");
    assert!(!text.contains("Running in"), "{text}");
    assert_eq!(built_id(&text), source[..12], "the same image:\n{text}");
    assert_eq!(ctx.ok(&["run", "--rm", "cachesrc:2"]), "1\none\ndone\n");

    // A changed file: the steps before its COPY come from the image.
    forget();
    std::fs::write(dir.join("f"), "two\n").expect("f");
    let out = build_in(
        ctx,
        &dir,
        &["-t", "cachesrc:3", "--cache-from", "cachesrc:1"],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text.matches("Using cache").count(),
        1,
        "the first RUN:\n{text}"
    );
    assert_eq!(text.matches("Running in").count(), 1, "{text}");
    assert_eq!(ctx.ok(&["run", "--rm", "cachesrc:3"]), "1\ntwo\ndone\n");

    // The docker CLI (legacy builder) sends cachefrom too.
    forget();
    std::fs::write(dir.join("f"), "one\n").expect("f");
    let docker = Command::new(crate::harness::docker_cli())
        .args([
            "build",
            "--cache-from",
            "cachesrc:1",
            "--label",
            "made=here",
        ])
        .arg(&dir)
        .env("DOCKER_HOST", ctx.host())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker");
    let text = stdout(&docker);
    assert!(docker.status.success(), "{text}{}", stderr(&docker));
    assert_eq!(text.matches("Using cache").count(), 6, "{text}");
    assert_eq!(built_id(&text), source[..12], "{text}");
    let _ = ctx.berth(&["rmi", "cachesrc:1", "cachesrc:2", "cachesrc:3"]);
    ctx.ok(&["builder", "prune", "-a", "-f"]);
}

/// The build's RUN step containers (those the build removes).
fn step_containers(ctx: &Ctx) -> String {
    ctx.ok(&["ps", "-aq", "--filter", "label=berth.build.step"])
        .trim()
        .to_string()
}

/// Starts `berth build -t tag` of a Dockerfile whose RUN sleeps 30 s, in
/// directory `name`, and returns once the RUN step's container exists.
fn start_slow_build(ctx: &Ctx, name: &str, tag: &str) -> std::process::Child {
    let dir = ctx.dir.path().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN sleep 30\n").expect("Dockerfile");
    let build = std::process::Command::new(crate::harness::berth_bin())
        .args(["-H", &ctx.host(), "build", "--no-cache", "-t", tag])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("build");
    wait_until(
        "the RUN step's container to appear",
        Duration::from_secs(20),
        || !step_containers(ctx).is_empty(),
    );
    build
}

/// A daemon killed during a RUN step: at its next start the step's
/// container is gone, as the build would have removed it.
fn killed_build_leaves_no_step_container(ctx: &Ctx) {
    let mut build = start_slow_build(ctx, "build-killed", "killed-build");
    ctx.kill_daemon();
    let _ = build.wait();
    ctx.start_daemon();
    assert_eq!(
        step_containers(ctx),
        "",
        "the step's container is removed at start"
    );
    assert!(
        ctx.berth(&["image", "inspect", "killed-build"])
            .status
            .code()
            == Some(1)
    );
}

/// A build whose client went away stops: its RUN step's container goes at
/// once (not 30 s later) and nothing is tagged.
/// A build client that stops reading (and stays connected) while a RUN
/// prints 64 MB: the step's output waits for it instead of piling up in
/// the daemon. Leaving then cancels the build.
fn build_output_waits_for_a_client_that_stops_reading(ctx: &Ctx) {
    use std::io::Write;
    let dir = ctx.dir.path().join("loud-build");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN yes 0123456789012345678901234567890123456789 | head -c 64000000; sleep 30\n",
    )
    .expect("Dockerfile");
    let tar = ctx.dir.path().join("loud-build.tar");
    let made = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(made.success());
    let body = std::fs::read(&tar).expect("context");
    let before = ctx.daemon_rss_kib();
    let mut s = std::os::unix::net::UnixStream::connect(&ctx.socket).expect("connect");
    write!(
        s,
        "POST /build?t=loud-build&nocache=1 HTTP/1.1\r\nHost: b\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("head");
    s.write_all(&body).expect("context");
    // Wait for the step's container to have written all of it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let written = loop {
        let id = ctx
            .ok(&[
                "ps",
                "-aq",
                "--no-trunc",
                "--filter",
                "label=berth.build.step",
            ])
            .trim()
            .to_string();
        let log = ctx
            .containers_root()
            .join(&id)
            .join(format!("{id}-json.log"));
        let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        if !id.is_empty() && size > 64_000_000 {
            break size;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the RUN step did not print its output"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Time must pass here: 2 s for the output to pile up in the daemon if
    // it queued for the stalled client instead of waiting; checked after.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let after = ctx.daemon_rss_kib();
    eprintln!("    RUN wrote {written} bytes of log; daemon RSS {before} -> {after} KiB");
    assert!(
        after < before + 40 * 1024,
        "a client that stopped reading took the daemon from {before} to {after} KiB"
    );
    drop(s);
    wait_until(
        "the build to end with its client (its step's container to go)",
        Duration::from_secs(20),
        || step_containers(ctx).is_empty(),
    );
}

fn build_stops_when_its_client_goes(ctx: &Ctx) {
    let mut client = start_slow_build(ctx, "build-abandoned", "abandoned-build");
    client.kill().expect("kill the client");
    let _ = client.wait();
    wait_until(
        "the step's container to go with its client's build",
        Duration::from_secs(10),
        || step_containers(ctx).is_empty(),
    );
    assert_eq!(
        ctx.berth(&["image", "inspect", "abandoned-build"])
            .status
            .code(),
        Some(1),
        "nothing was tagged"
    );
}
