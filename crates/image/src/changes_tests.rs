use super::*;

fn apply(changes: &[&str]) -> Result<ContainerConfig, ChangeError> {
    let mut c = ContainerConfig::default();
    let v: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
    apply_changes(&mut c, &v)?;
    Ok(c)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cmd_and_entrypoint_forms() {
    let c = apply(&[r#"CMD ["/bin/sh", "-c", "echo hi"]"#]).unwrap();
    assert_eq!(c.cmd.unwrap(), strs(&["/bin/sh", "-c", "echo hi"]));
    let c = apply(&["CMD echo $HOME && true"]).unwrap();
    assert_eq!(
        c.cmd.unwrap(),
        strs(&["/bin/sh", "-c", "echo $HOME && true"])
    );
    let c = apply(&["cmd [not json"]).unwrap();
    assert_eq!(c.cmd.unwrap(), strs(&["/bin/sh", "-c", "[not json"]));
    let c = apply(&["CMD [\"a\"]", "ENTRYPOINT [\"/e\"]"]).unwrap();
    assert_eq!(c.cmd.unwrap(), strs(&["a"]));
    assert_eq!(c.entrypoint.unwrap(), strs(&["/e"]));
    let c = apply(&["ENTRYPOINT top -b"]).unwrap();
    assert_eq!(c.entrypoint.unwrap(), strs(&["/bin/sh", "-c", "top -b"]));
    assert_eq!(c.cmd, None);
}

#[test]
fn env_label_workdir_user() {
    let c = apply(&[
        "ENV A=1 B=\"two words\" C='x y'",
        "ENV PATH /usr/bin:/bin",
        "ENV D=${A}-$B E=${UNSET:-dflt} F=${A:+set}",
        "ENV A=3",
        "LABEL version=\"1.0\" maintainer=me",
        "LABEL legacy value with spaces",
        "WORKDIR /app",
        "WORKDIR sub/../src",
        "USER 1000:1000",
    ])
    .unwrap();
    assert_eq!(
        c.env.unwrap(),
        strs(&[
            "A=3",
            "B=two words",
            "C=x y",
            "PATH=/usr/bin:/bin",
            "D=1-two words",
            "E=dflt",
            "F=set"
        ])
    );
    let labels = c.labels.unwrap();
    assert_eq!(labels["version"], "1.0");
    assert_eq!(labels["maintainer"], "me");
    assert_eq!(labels["legacy"], "value with spaces");
    assert_eq!(c.working_dir.unwrap(), "/app/src");
    assert_eq!(c.user.unwrap(), "1000:1000");
}

#[test]
fn expose_volume_stopsignal_onbuild_healthcheck() {
    let c = apply(&[
        "EXPOSE 80 53/udp 8000-8002",
        "VOLUME [\"/data\", \"/logs\"]",
        "VOLUME /cache /tmp/x",
        "STOPSIGNAL SIGQUIT",
        "ONBUILD run echo hi",
        "HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://localhost/",
    ])
    .unwrap();
    let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
    assert_eq!(
        ports,
        strs(&["53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"])
    );
    let vols: Vec<_> = c.volumes.unwrap().into_keys().collect();
    assert_eq!(vols, strs(&["/cache", "/data", "/logs", "/tmp/x"]));
    assert_eq!(c.stop_signal.unwrap(), "SIGQUIT");
    assert_eq!(c.on_build.unwrap(), strs(&["RUN echo hi"]));
    let hc = c.healthcheck.unwrap();
    assert_eq!(
        hc.test.unwrap(),
        strs(&["CMD-SHELL", "curl -f http://localhost/"])
    );
    assert_eq!(hc.interval, Some(30_000_000_000));
    assert_eq!(hc.timeout, Some(90_000_000_000));
    assert_eq!(hc.retries, Some(3));
    let c = apply(&["HEALTHCHECK NONE"]).unwrap();
    assert_eq!(c.healthcheck.unwrap().test.unwrap(), strs(&["NONE"]));
}

#[test]
fn multi_line_changes() {
    let c = apply(&["# comment\nENV A=1 \\\n  B=2\n\nUSER u"]).unwrap();
    assert_eq!(c.env.unwrap(), strs(&["A=1", "B=2"]));
    assert_eq!(c.user.unwrap(), "u");
}

#[test]
fn errors() {
    assert_eq!(
        apply(&["RUN echo"]).unwrap_err().to_string(),
        "RUN is not a valid change command"
    );
    assert_eq!(
        apply(&["BOGUS x"]).unwrap_err().to_string(),
        "dockerfile parse error on line 1: unknown instruction: BOGUS"
    );
    assert!(apply(&["ENV"]).is_err());
    assert!(apply(&["ENV A=1 B"]).is_err());
    assert!(apply(&["EXPOSE 70000"]).is_err());
    assert!(apply(&["EXPOSE 80/xyz"]).is_err());
    assert!(apply(&["STOPSIGNAL sig term"]).is_err());
    assert!(apply(&["ENV A=\"unterminated"]).is_err());
    assert!(apply(&["HEALTHCHECK --interval=abc CMD x"]).is_err());
    assert!(apply(&["ONBUILD FROM x"]).is_err());
}

#[test]
fn words_and_durations() {
    assert_eq!(
        split_words(r#"a "b c" d\ e 'f g'"#),
        strs(&["a", "\"b c\"", "d\\ e", "'f g'"])
    );
    let env = BTreeMap::from([("X".to_string(), "1".to_string())]);
    assert_eq!(process_word(r#"'$X'"#, &env).unwrap(), "$X");
    assert_eq!(process_word(r#""$X""#, &env).unwrap(), "1");
    assert_eq!(process_word(r"\$X", &env).unwrap(), "$X");
    assert_eq!(process_word("a$", &env).unwrap(), "a$");
    assert_eq!(duration_ns("1h2m3s").unwrap(), 3_723_000_000_000);
    assert_eq!(duration_ns("1.5s").unwrap(), 1_500_000_000);
    assert_eq!(duration_ns("500ms").unwrap(), 500_000_000);
    assert!(duration_ns("5").is_err());
}
