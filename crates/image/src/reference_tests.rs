use super::*;

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// (input, full normalised string, familiar string)
const GOOD: &[(&str, &str, &str)] = &[
    ("busybox", "docker.io/library/busybox", "busybox"),
    (
        "busybox:latest",
        "docker.io/library/busybox:latest",
        "busybox:latest",
    ),
    (
        "busybox:1.36.1-musl",
        "docker.io/library/busybox:1.36.1-musl",
        "busybox:1.36.1-musl",
    ),
    ("library/busybox", "docker.io/library/busybox", "busybox"),
    ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
    (
        "index.docker.io/busybox",
        "docker.io/library/busybox",
        "busybox",
    ),
    (
        "docker.io/library/busybox:1",
        "docker.io/library/busybox:1",
        "busybox:1",
    ),
    ("user/app", "docker.io/user/app", "user/app"),
    ("user/app:v2", "docker.io/user/app:v2", "user/app:v2"),
    (
        "docker.io/library/a/b",
        "docker.io/library/a/b",
        "library/a/b",
    ),
    ("a/b/c", "docker.io/a/b/c", "a/b/c"),
    ("localhost/x", "localhost/x", "localhost/x"),
    ("localhost/x:1", "localhost/x:1", "localhost/x:1"),
    ("localhost:5000/a", "localhost:5000/a", "localhost:5000/a"),
    (
        "localhost:5000/a:1",
        "localhost:5000/a:1",
        "localhost:5000/a:1",
    ),
    (
        "host:5000/a/b:tag",
        "host:5000/a/b:tag",
        "host:5000/a/b:tag",
    ),
    ("example.com/a", "example.com/a", "example.com/a"),
    (
        "registry.example.com:443/team/app:2.0",
        "registry.example.com:443/team/app:2.0",
        "registry.example.com:443/team/app:2.0",
    ),
    ("127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x"),
    ("[::1]:5000/x:t", "[::1]:5000/x:t", "[::1]:5000/x:t"),
    ("Foo/bar", "Foo/bar", "Foo/bar"),
    (
        "a_b.c__d-e---f",
        "docker.io/library/a_b.c__d-e---f",
        "a_b.c__d-e---f",
    ),
    (
        "busybox:_tag",
        "docker.io/library/busybox:_tag",
        "busybox:_tag",
    ),
    (
        "busybox:Tag.With-Caps",
        "docker.io/library/busybox:Tag.With-Caps",
        "busybox:Tag.With-Caps",
    ),
];

#[test]
fn normalises_like_docker() {
    for (input, full, familiar) in GOOD {
        let r = Reference::parse_normalized(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), *full, "full form of {input}");
        assert_eq!(r.familiar(), *familiar, "familiar form of {input}");
        let again = Reference::parse_normalized(&r.to_string()).unwrap();
        assert_eq!(again, r, "{input} round trip");
        let again = Reference::parse_normalized(&r.familiar()).unwrap();
        assert_eq!(again, r, "{input} familiar round trip");
    }
}

#[test]
fn digests_and_tags() {
    let r = Reference::parse_normalized(&format!("busybox@{D}")).unwrap();
    assert_eq!(r.digest(), Some(D));
    assert_eq!(r.tag(), None);
    assert_eq!(r.familiar(), format!("busybox@{D}"));
    assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));

    let r = Reference::parse_normalized(&format!("localhost:5000/a:1@{D}")).unwrap();
    assert_eq!(r.tag(), Some("1"));
    assert_eq!(r.digest(), Some(D));
    assert_eq!(r.familiar(), format!("localhost:5000/a:1@{D}"));

    // ParseDockerRef: default tag, tag dropped next to a digest.
    let r = Reference::parse_docker("busybox").unwrap();
    assert_eq!(r.familiar(), "busybox:latest");
    let r = Reference::parse_docker(&format!("busybox:1@{D}")).unwrap();
    assert_eq!(r.familiar(), format!("busybox@{D}"));
    assert!(Reference::parse_normalized("busybox")
        .unwrap()
        .is_name_only());

    let r = Reference::parse_docker("busybox").unwrap();
    assert_eq!(r.name(), "docker.io/library/busybox");
    assert_eq!(r.domain(), "docker.io");
    assert_eq!(r.path(), "library/busybox");
    assert_eq!(r.familiar_name(), "busybox");
    assert_eq!(r.with_tag("x").unwrap().familiar(), "busybox:x");
    assert_eq!(r.with_digest(D).unwrap().familiar(), format!("busybox@{D}"));
}

#[test]
fn long_tag_limit() {
    let ok = format!("busybox:{}", "a".repeat(128));
    assert!(Reference::parse_normalized(&ok).is_ok());
    let bad = format!("busybox:{}", "a".repeat(129));
    assert_eq!(
        Reference::parse_normalized(&bad),
        Err(ReferenceError::Format)
    );
    let long = format!("a/{}", "b".repeat(300));
    assert_eq!(
        Reference::parse_normalized(&long),
        Err(ReferenceError::TooLong)
    );
}

#[test]
fn rejects_like_docker() {
    let hex = &D[7..];
    let bad: &[(&str, &str)] = &[
        ("", "invalid reference format"),
        ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
        ("user/App:1", "invalid reference format: repository name (user/App) must be lowercase"),
        ("busybox:", "invalid reference format"),
        ("busybox:-tag", "invalid reference format"),
        ("busybox:.tag", "invalid reference format"),
        ("busybox:ta g", "invalid reference format"),
        ("busybox:a:b", "invalid reference format"),
        (":latest", "invalid reference format"),
        ("/busybox", "invalid reference format"),
        ("busybox/", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("-a", "invalid reference format"),
        ("a-", "invalid reference format"),
        ("a..b", "invalid reference format"),
        ("a___b", "invalid reference format"),
        ("a$b", "invalid reference format"),
        ("localhost:port/a", "invalid reference format"),
        ("-host.com/a", "invalid reference format"),
        ("busybox@sha256:abc", "invalid reference format"),
        ("busybox@", "invalid reference format"),
        ("busybox@sha256", "invalid reference format"),
        ("busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm"),
        ("busybox@sha256:0123456789abcdef0123456789abcdef", "invalid checksum digest length"),
        (hex, "invalid repository name (e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855), cannot specify 64-byte hexadecimal strings"),
    ];
    for (input, msg) in bad {
        let err = Reference::parse_normalized(input).expect_err(input);
        assert_eq!(err.to_string(), *msg, "error for {input:?}");
    }
}

#[test]
fn helper_grammars() {
    for ok in ["a", "a.b", "a_b", "a__b", "a-b", "a---b", "0"] {
        assert!(is_path_component(ok), "{ok}");
    }
    for bad in ["", "A", "a.", ".a", "a.-b", "a._b", "a___b", "a/b"] {
        assert!(!is_path_component(bad), "{bad}");
    }
    for ok in [
        "localhost",
        "a.b",
        "a-b.c:5000",
        "[::1]",
        "[fe80::1]:80",
        "A.com",
    ] {
        assert!(is_domain(ok), "{ok}");
    }
    for bad in ["", "-a", "a-", "a:", "a:x", "[::1", "[zz]", "a..b"] {
        assert!(!is_domain(bad), "{bad}");
    }
    assert!(is_tag("latest"));
    assert!(!is_tag(""));
}

#[test]
fn repo_tag_parameters() {
    let rt = |r: &str, t: &str| repo_tag(r, t).map(|r| r.map(|r| r.familiar()));
    assert_eq!(rt("", ""), Ok(None));
    assert_eq!(rt("busybox", ""), Ok(Some("busybox:latest".into())));
    assert_eq!(rt("busybox", "1"), Ok(Some("busybox:1".into())));
    assert_eq!(rt("busybox:1", ""), Ok(Some("busybox:1".into())));
    assert_eq!(rt("busybox:1", "2"), Ok(Some("busybox:2".into())));
    assert_eq!(
        rt("localhost:5000/a", "x"),
        Ok(Some("localhost:5000/a:x".into()))
    );
    let digest = format!("busybox@sha256:{}", "a".repeat(64));
    assert_eq!(rt(&digest, ""), Err(ReferenceError::RepoWithDigest));
    assert_eq!(rt("busybox", "a:b"), Err(ReferenceError::TagFormat));
    assert_eq!(
        rt("busybox", &"x".repeat(129)),
        Err(ReferenceError::TagFormat)
    );
    assert_eq!(rt("sha256", "abc"), Err(ReferenceError::AmbiguousName));
    assert_eq!(
        rt("Busybox", "").unwrap_err().to_string(),
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    );
}
