//! Loading projects from files on disk: override files, `.env`
//! interpolation, `env_file`, `extends`, `include`, profiles, names.

#![allow(clippy::unwrap_used)] // test code

use std::collections::BTreeMap;
use std::path::Path;

use berth_compose::{load, LoadOptions};

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn opts(dir: &Path, files: &[&str]) -> LoadOptions {
    LoadOptions {
        files: files.iter().map(|f| dir.join(f)).collect(),
        environ: BTreeMap::from([("FROM_SHELL".to_string(), "shell".to_string())]),
        cwd: dir.to_path_buf(),
        ..LoadOptions::default()
    }
}

#[test]
fn overrides_env_extends_include_and_profiles() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("My App");
    write(&dir, ".env", "TAG=1.2\nFROM_SHELL=dotenv\n");
    write(&dir, "web.env", "FROM_FILE=file\nMODE=file\n");
    write(
        &dir,
        "compose.yaml",
        r#"
x-common: &common
  restart: always
services:
  base:
    image: busybox
    profiles: [tools]
    labels: [a=1]
  web:
    <<: *common
    extends: base
    image: "busybox:${TAG}"
    env_file: web.env
    environment:
      MODE: compose
      SHELL_VAR: $FROM_SHELL
      PASSED:
    ports: ["127.0.0.1:8080:80"]
    volumes: [./src:/src, data:/data]
volumes:
  data:
include:
  - extra/compose.yaml
"#,
    );
    write(
        &dir,
        "extra/compose.yaml",
        "services:\n  side:\n    extends: {file: ../base/common.yaml, service: builder}\n",
    );
    write(
        &dir,
        "base/common.yaml",
        "services:\n  builder:\n    build: ./ctx\n    environment: [FROM_BASE=1]\n",
    );
    write(
        &dir,
        "compose.override.yaml",
        "services:\n  web:\n    ports: [\"9090:90\"]\n    environment: {MODE: override}\n",
    );
    let p = load(&opts(&dir, &["compose.yaml", "compose.override.yaml"])).unwrap();
    assert_eq!(p.name, "myapp");
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("busybox:1.2"));
    assert_eq!(web.restart.as_deref(), Some("always"));
    assert_eq!(web.labels["a"], "1", "extended from base");
    let env = |k: &str| web.environment.get(k).cloned().flatten();
    assert_eq!(env("MODE").as_deref(), Some("override"));
    assert_eq!(env("FROM_FILE").as_deref(), Some("file"));
    assert_eq!(
        env("SHELL_VAR").as_deref(),
        Some("shell"),
        "the shell wins over .env"
    );
    assert_eq!(web.environment.get("PASSED"), None, "unset and not in .env");
    assert_eq!(web.ports.len(), 2);
    assert_eq!(web.volumes[0].source, dir.join("src").display().to_string());
    // Paths of an extended file are its own directory's.
    let side = &p.services["side"];
    assert_eq!(
        side.build.as_ref().unwrap().context,
        dir.join("base/ctx").display().to_string()
    );
    assert_eq!(side.environment["FROM_BASE"].as_deref(), Some("1"));
    assert!(p.disabled.contains_key("base"), "profile tools is off");
    assert!(p.networks.contains_key("default"));

    let mut with_tools = opts(&dir, &["compose.yaml"]);
    with_tools.profiles = vec!["tools".into()];
    with_tools.project_name = Some("other".into());
    let p = load(&with_tools).unwrap();
    assert!(p.services.contains_key("base"));
    assert_eq!(p.name, "other");
}

#[test]
fn errors_name_the_file_and_path() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let cases = [
        (
            "services:\n  web:\n    image: x\n    healthcheck: {test: [\"BAD\"]}\n",
            "services.web.healthcheck.test: a test list starts with CMD",
        ),
        (
            "services:\n  web:\n    image: x\n    depends_on: {db: {condition: sometimes}}\n",
            "unknown condition",
        ),
        (
            "services:\n  web:\n    image: x\n    networks: [missing]\n",
            "undefined network missing",
        ),
        (
            "services:\n  web:\n    image: x\n    userns_mode: host\n",
            "services.web.userns_mode: is not supported yet",
        ),
        ("services:\n  web: {}\n", "neither an image nor a build"),
        (
            "services:\n  web:\n    build: {context: ., ssh: [default]}\n",
            "services.web.build.ssh: is not supported yet",
        ),
        (
            "services:\n  web:\n    image: x\n    platform: linux/s390x\n",
            "platform linux/s390x",
        ),
        (
            "services:\n  web:\n    image: \"${\"\n",
            "invalid interpolation format",
        ),
    ];
    for (text, want) in cases {
        write(dir, "compose.yaml", text);
        let e = load(&opts(dir, &["compose.yaml"])).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: want {want:?} in {e}");
    }
    // Two files extending each other are a circular extends, not an
    // include that includes itself.
    write(
        dir,
        "compose.yaml",
        "services:\n  web:\n    extends: {file: other.yaml, service: api}\n",
    );
    write(
        dir,
        "other.yaml",
        "services:\n  api:\n    extends: {file: compose.yaml, service: web}\n",
    );
    let e = load(&opts(dir, &["compose.yaml"])).unwrap_err().to_string();
    assert!(e.contains("circular extends"), "{e}");
}

#[test]
fn swarm_only_deploy_fields_are_accepted() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "compose.yaml",
        "services:\n  web:\n    image: x\n    deploy:\n      replicas: 2\n      placement: {constraints: [node.role==manager]}\n      update_config: {parallelism: 1}\n",
    );
    let p = load(&opts(t.path(), &["compose.yaml"])).unwrap();
    assert_eq!(berth_compose::convert::replicas(&p.services["web"]), 2);
}

/// Short syntaxes come out in their one long form (what `compose config`
/// prints and what the config hash is taken over).
#[test]
fn normalized_model_golden() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "compose.yaml",
        r#"
services:
  web:
    image: busybox
    command: echo "hi there"
    environment: [A=1, B]
    ports: ["127.0.0.1:8080:80/udp", 9000]
    volumes: ["data:/data:ro", "/cache"]
    depends_on: [db]
    healthcheck:
      test: curl -f localhost
      interval: 5s
    extra_hosts: {host1: 10.0.0.1}
    ulimits: {nofile: 1024}
  db:
    image: busybox
volumes:
  data:
"#,
    );
    let p = load(&opts(t.path(), &["compose.yaml"])).unwrap();
    let text = berth_compose::yaml::render(&p.services["web"]).unwrap();
    let want = r#"image: busybox
command:
- echo
- hi there
environment:
  A: "1"
ports:
- target: 80
  published: "8080"
  host_ip: "127.0.0.1"
  protocol: udp
- target: 9000
  protocol: tcp
volumes:
- type: volume
  source: data
  target: /data
  read_only: true
- type: volume
  target: /cache
depends_on:
  db:
    condition: service_started
    required: true
healthcheck:
  test:
  - CMD-SHELL
  - curl -f localhost
  interval: 5s
ulimits:
  nofile:
    soft: 1024
    hard: 1024
extra_hosts:
- host1:10.0.0.1
"#;
    assert_eq!(text, want);
}
