//! Dockerfiles and `.dockerignore` files, as `POST /build` reads them.

use std::collections::BTreeMap;

use berth_builder::dockerfile::{parse, Dockerfile, Instr, Source, Step};
use berth_builder::expand::{ExpandError, Expander, MAX_LEN};
use berth_builder::heredoc::heredoc_run;
use berth_builder::ignore::{clean, read, Matcher};
use berth_builder::{mounts, plan};

use crate::text;

/// Parses a Dockerfile, plans it, and expands every instruction's words
/// as the build does, with ENV and ARG values carried from step to step.
/// No value may grow past the expander's limit.
pub fn dockerfile(data: &[u8]) {
    let Ok(df) = parse(&text(data), "Dockerfile") else {
        return;
    };
    let args = BTreeMap::from([("A".to_string(), "build-arg".to_string())]);
    let _ = plan::plan(&df, None, &args);
    let Ok(globals) = plan::global_args(&df, &args) else {
        return;
    };
    for (i, stage) in df.stages.iter().enumerate() {
        let _ = plan::resolve(&df, &stage.base, i);
        let mut vars = globals.clone();
        for step in &stage.steps {
            if expand_step(&df, step, &mut vars).is_err() {
                break;
            }
        }
    }
}

fn checked(v: Result<String, ExpandError>) -> Result<String, ExpandError> {
    if let Ok(s) = &v {
        assert!(s.len() <= MAX_LEN, "an expansion grew to {} bytes", s.len());
    }
    v
}

fn expand_step(
    df: &Dockerfile,
    step: &Step,
    vars: &mut BTreeMap<String, String>,
) -> Result<(), ExpandError> {
    let snapshot = vars.clone();
    let ex = Expander {
        vars: &snapshot,
        escape: df.escape,
    };
    let word = |s: &str| checked(ex.word(s));
    match &step.instr {
        Instr::Env(pairs) | Instr::Label(pairs) => {
            for (k, v) in pairs {
                let (k, v) = (word(k)?, word(v)?);
                if matches!(step.instr, Instr::Env(_)) {
                    vars.insert(k, v);
                }
            }
        }
        Instr::Arg(pairs) => {
            for (k, v) in pairs {
                if let Some(v) = v {
                    vars.insert(k.clone(), word(v)?);
                }
            }
        }
        Instr::User(s) | Instr::Workdir(s) | Instr::Stopsignal(s) => {
            word(s)?;
        }
        Instr::Expose(v) | Instr::Volume(v) => {
            for p in v {
                ex.words(p)?;
            }
        }
        Instr::Copy {
            flags,
            sources,
            dest,
        }
        | Instr::Add {
            flags,
            sources,
            dest,
        } => {
            for s in sources {
                if let Source::Path(p) = s {
                    word(p)?;
                }
            }
            for (_, v) in &flags.0 {
                if let Some(v) = v {
                    word(v)?;
                }
            }
            word(dest)?;
        }
        Instr::Run {
            flags,
            cmd,
            heredocs,
        } => {
            for (name, v) in &flags.0 {
                if let (Some(v), "mount") = (v, name.as_str()) {
                    let _ = mounts::parse(&word(v)?);
                }
            }
            if let berth_builder::dockerfile::Form::Shell(c) = cmd {
                let _ = heredoc_run(c, heredocs);
            }
        }
        Instr::Onbuild(trigger) => {
            let _ = parse(&format!("FROM scratch\n{trigger}\n"), "ONBUILD");
        }
        _ => {}
    }
    Ok(())
}

/// Reads a `.dockerignore` and matches paths against it, among them the
/// file's own lines taken as paths.
pub fn dockerignore(data: &[u8]) {
    let text = text(data);
    let patterns = read(&text);
    let Ok(m) = Matcher::new(&patterns) else {
        return;
    };
    let _ = m.has_exclusions();
    for p in [
        "Dockerfile",
        ".dockerignore",
        "a",
        "a/b/c",
        "node_modules/x.js",
    ] {
        let _ = m.ignored(p);
    }
    for line in text.lines().take(64) {
        let _ = m.ignored(&clean(line));
    }
}
