//! Pure pieces of the container filesystem operations: Docker's encodings.
//! The operations themselves are tested against real trees in `tests/fsops.rs`.

use super::*;

#[test]
fn file_modes_are_go_file_modes() {
    assert_eq!(go_file_mode(0o100644), 0o644);
    assert_eq!(go_file_mode(0o040755), (1 << 31) | 0o755);
    assert_eq!(go_file_mode(0o120777), (1 << 27) | 0o777);
    assert_eq!(go_file_mode(0o020620), (1 << 26) | (1 << 21) | 0o620);
    assert_eq!(go_file_mode(0o060660), (1 << 26) | 0o660);
    assert_eq!(go_file_mode(0o010600), (1 << 25) | 0o600);
    assert_eq!(go_file_mode(0o140755), (1 << 24) | 0o755);
    assert_eq!(go_file_mode(0o104755), (1 << 23) | 0o755);
    assert_eq!(go_file_mode(0o102755), (1 << 22) | 0o755);
    assert_eq!(go_file_mode(0o041777), (1 << 31) | (1 << 20) | 0o777);
}

#[test]
fn times_marshal_like_go() {
    assert_eq!(go_time(0, 0), "1970-01-01T00:00:00Z");
    assert_eq!(
        go_time(1_700_000_000, 500_000_000),
        "2023-11-14T22:13:20.5Z"
    );
    assert_eq!(
        go_time(1_700_000_000, 123_456_789),
        "2023-11-14T22:13:20.123456789Z"
    );
    assert_eq!(go_time(1_700_000_000, 1_000), "2023-11-14T22:13:20.000001Z");
}

#[test]
fn error_kinds() {
    let nf = FsError::NotFound { path: "/x".into() };
    assert_eq!(nf.kind(), ErrorKind::NotFound);
    let bad = FsError::Archive(LayerError::Tar(io::Error::other("truncated")));
    assert_eq!(bad.kind(), ErrorKind::InvalidArgument);
    let np = FsError::ExtractPointNotDirectory { path: "/x".into() };
    assert_eq!(np.kind(), ErrorKind::InvalidArgument);
    assert_eq!(np.to_string(), "extraction point is not a directory");
}
