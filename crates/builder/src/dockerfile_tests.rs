use super::*;
use crate::heredoc::{heredoc_delimiters, heredoc_run, Heredoc, HeredocRun};

const FIXTURE: &str = r#"# Small multi-stage build.
FROM debian:bookworm AS builder
WORKDIR /src
COPY src/ /src/
RUN mkdir -p /out \
 && for f in /src/*.txt; do tr 'a-z' 'A-Z' < "$f" > "/out/$(basename "$f")"; done \
 && sha256sum /out/*.txt > /out/SUMS
RUN tar -C /out -czf /out.tgz . && ls -l /out.tgz

FROM busybox:latest
COPY --from=builder /out.tgz /app/app.tgz
COPY app.conf /etc/app.conf
RUN mkdir -p /app/data && tar -C /app/data -xzf /app/app.tgz && rm /app/app.tgz
ENV APP_CONF=/etc/app.conf
CMD ["cat", "/app/data/SUMS"]
"#;

#[test]
fn fixture() {
    let df = parse(FIXTURE, "Dockerfile").unwrap();
    assert_eq!(df.stages.len(), 2);
    let b = &df.stages[0];
    assert_eq!(
        (b.name.as_deref(), b.base.as_str(), b.line),
        (Some("builder"), "debian:bookworm", 2)
    );
    assert_eq!(b.text, "FROM debian:bookworm AS builder");
    assert_eq!(b.steps.len(), 4);
    assert_eq!(b.steps[2].line, 5);
    assert_eq!(
        b.steps[2].text,
        r#"RUN mkdir -p /out && for f in /src/*.txt; do tr 'a-z' 'A-Z' < "$f" > "/out/$(basename "$f")"; done && sha256sum /out/*.txt > /out/SUMS"#
    );
    match &b.steps[2].instr {
        Instr::Run {
            cmd: Form::Shell(s),
            ..
        } => {
            assert!(!s.contains('\\') && s.contains("&& sha256sum"), "{s:?}");
        }
        other => panic!("{other:?}"),
    }
    let f = &df.stages[1];
    assert_eq!(f.steps[0].text, "COPY --from=builder /out.tgz /app/app.tgz");
    match &f.steps[0].instr {
        Instr::Copy {
            flags,
            sources,
            dest,
        } => {
            assert_eq!(flags.get("from"), Some("builder"));
            assert_eq!(sources, &vec![Source::Path("/out.tgz".into())]);
            assert_eq!(dest, "/app/app.tgz");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        f.steps[3].instr,
        Instr::Env(vec![("APP_CONF".into(), "/etc/app.conf".into())])
    );
    assert_eq!(
        f.steps[4].instr,
        Instr::Cmd(Form::Exec(vec!["cat".into(), "/app/data/SUMS".into()]))
    );
}

#[test]
fn arguments_and_forms() {
    let text = r#"ARG BASE=busybox
ARG V
FROM ${BASE}:latest AS One
ENV A=1 B="two words" C=x\ y
ENV LEGACY value with spaces
LABEL "com.x"="y" z=w
ARG X=1 Y
EXPOSE 80/tcp 443
VOLUME ["/a", "/b"]
VOLUME /c /d
HEALTHCHECK --interval=5s CMD wget -q localhost || exit 1
HEALTHCHECK NONE
SHELL ["/bin/bash", "-c"]
STOPSIGNAL SIGTERM
USER app:app
WORKDIR /w
ONBUILD RUN echo triggered
MAINTAINER someone
ENTRYPOINT echo hi
RUN <<EOF
echo from heredoc
EOF
COPY <<-'EOT' /etc/x
	literal $HOME
EOT
"#;
    let df = parse(text, "Dockerfile").unwrap();
    assert_eq!(
        df.global_args,
        vec![("BASE".into(), Some("busybox".into())), ("V".into(), None)]
    );
    let s = &df.stages[0];
    assert_eq!(s.name.as_deref(), Some("one"), "stage names are lowercased");
    assert_eq!(s.base, "${BASE}:latest");
    let instrs: Vec<&Instr> = s.steps.iter().map(|s| &s.instr).collect();
    assert_eq!(
        instrs[0],
        &Instr::Env(vec![
            ("A".into(), "1".into()),
            ("B".into(), "\"two words\"".into()),
            ("C".into(), "x\\ y".into())
        ])
    );
    assert_eq!(
        instrs[1],
        &Instr::Env(vec![("LEGACY".into(), "value with spaces".into())])
    );
    assert_eq!(
        instrs[2],
        &Instr::Label(vec![
            ("\"com.x\"".into(), "\"y\"".into()),
            ("z".into(), "w".into())
        ])
    );
    assert_eq!(
        instrs[3],
        &Instr::Arg(vec![("X".into(), Some("1".into())), ("Y".into(), None)])
    );
    assert_eq!(
        instrs[4],
        &Instr::Expose(vec!["80/tcp".into(), "443".into()])
    );
    assert_eq!(instrs[5], &Instr::Volume(vec!["/a".into(), "/b".into()]));
    assert_eq!(instrs[6], &Instr::Volume(vec!["/c".into(), "/d".into()]));
    match instrs[7] {
        Instr::Healthcheck {
            flags,
            test: Some(Form::Shell(t)),
        } => {
            assert_eq!(flags.get("interval"), Some("5s"));
            assert_eq!(t, "wget -q localhost || exit 1");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        instrs[8],
        &Instr::Healthcheck {
            flags: Flags::default(),
            test: None
        }
    );
    assert_eq!(
        instrs[9],
        &Instr::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(instrs[10], &Instr::Stopsignal("SIGTERM".into()));
    assert_eq!(instrs[11], &Instr::User("app:app".into()));
    assert_eq!(instrs[12], &Instr::Workdir("/w".into()));
    assert_eq!(instrs[13], &Instr::Onbuild("RUN echo triggered".into()));
    assert_eq!(instrs[14], &Instr::Maintainer("someone".into()));
    assert_eq!(
        instrs[15],
        &Instr::Entrypoint(Form::Shell("echo hi".into()))
    );
    match instrs[16] {
        Instr::Run { heredocs, .. } => {
            assert_eq!(heredocs.len(), 1);
            assert_eq!(heredocs[0].content, "echo from heredoc\n");
            assert!(heredocs[0].expand);
        }
        other => panic!("{other:?}"),
    }
    match instrs[17] {
        Instr::Copy { sources, dest, .. } => {
            assert_eq!(dest, "/etc/x");
            match &sources[0] {
                Source::Heredoc(h) => {
                    assert!(!h.expand, "a quoted delimiter disables substitution");
                    assert!(h.content.contains("literal $HOME"), "{:?}", h.content);
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn escape_directive() {
    let text = "# escape=`\nFROM busybox\nRUN echo a `\n  b\nCOPY x C:\\dir\\\n";
    let df = parse(text, "Dockerfile").unwrap();
    assert_eq!(df.escape, '`');
    assert_eq!(df.stages[0].steps[0].text, "RUN echo a b");
}

#[test]
fn errors_name_file_and_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("FROM busybox\nFROBNICATE x\n", 2, ""),
        ("RUN echo\n", 1, "no build stage"),
        ("FROM busybox\nENV\n", 2, ""),
        ("FROM busybox\nENV a=b c\n", 2, "can't find ="),
        ("FROM busybox AS 1st\n", 1, "invalid name for build stage"),
        ("FROM busybox\nRUN <<EOF\necho\n", 2, ""),
        ("# only a comment\n", 1, "FROM instruction"),
        ("FROM --bogus=1 busybox\n", 1, "unknown flag: bogus"),
        (
            "FROM busybox\nONBUILD FROM x\n",
            2,
            "ONBUILD does not allow",
        ),
        (
            "FROM busybox\nRUN cat <<EOT > /f\n$X never ends\n",
            2,
            "is not terminated",
        ),
    ];
    for (text, line, msg) in cases {
        let e = parse(text, "ctx/Dockerfile").unwrap_err();
        assert_eq!(e.file, "ctx/Dockerfile", "{text:?}");
        assert!(
            e.line == *line || (e.line >= *line && msg.is_empty()),
            "{text:?}: line {} (want {line}): {}",
            e.line,
            e.message
        );
        assert!(e.message.contains(msg), "{text:?}: {}", e.message);
        assert!(e.to_string().starts_with("ctx/Dockerfile:"), "{e}");
    }
}

#[test]
fn quote_aware_words() {
    assert_eq!(
        words_keep_quotes(r#"a="b c" d='e f' g=h\ i"#, '\\'),
        vec![r#"a="b c""#, "d='e f'", r"g=h\ i"]
    );
}

#[test]
fn heredoc_scripts() {
    let doc = |c: &str| Heredoc {
        content: c.into(),
        expand: true,
    };
    assert_eq!(
        heredoc_delimiters("cat <<EOF > /a && cat <<-'END' > /b"),
        vec![("EOF".to_string(), false), ("END".to_string(), true)]
    );
    assert_eq!(
        heredoc_run("<<EOF", &[doc("echo a\necho b\n")]),
        HeredocRun::Script("echo a\necho b\n".into())
    );
    assert_eq!(
        heredoc_run("<<EOF", &[doc("#!/usr/bin/env python3\nprint(1)\n")]),
        HeredocRun::Program("#!/usr/bin/env python3\nprint(1)\n".into())
    );
    assert_eq!(
        heredoc_run("cat <<EOF > /f", &[doc("x\n")]),
        HeredocRun::Script("cat <<EOF > /f\nx\nEOF\n".into())
    );
}

#[test]
fn heredoc_after_a_command() {
    let text = "FROM busybox\nRUN cat <<EOT > /f\n$X stays\nEOT\nENV A=1\n";
    let df = parse(text, "Dockerfile").unwrap();
    let steps = &df.stages[0].steps;
    assert_eq!(steps[0].line, 2);
    assert_eq!(steps[0].text, "RUN cat <<EOT > /f");
    assert_eq!(steps[1].line, 5, "later lines keep their numbers");
    match &steps[0].instr {
        Instr::Run { heredocs, cmd, .. } => {
            // The parser leaves a leading here-document out of the command.
            assert_eq!(cmd, &Form::Shell(String::new()));
            assert_eq!(heredocs[0].content, "cat <<EOT > /f\n$X stays\nEOT\n");
            assert_eq!(
                heredoc_run("", heredocs),
                HeredocRun::Script("cat <<EOT > /f\n$X stays\nEOT\n".into())
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn multibyte_instruction_words_are_errors_not_panics() {
    // Found by the dockerfile fuzz target: a RUN-like word with a
    // multi-byte character at byte 3 was sliced through.
    for text in [
        "FROM busybox\nRU\u{3a3} echo\n",
        "FROM busybox\n\u{3a3}\u{3a3} x <<EOF\nEOF\n",
    ] {
        assert!(parse(text, "Dockerfile").is_err(), "{text:?}");
    }
}
