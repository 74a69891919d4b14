//! Dockerfiles as an owned model: stages of steps, each with its line and
//! its text as `docker build` prints it (`Step 3/9 : RUN ...`). Parsing
//! (instructions, parser directives, line continuations, comments, exec and
//! shell forms, heredocs) is parse-dockerfile's; this module converts it,
//! splits `ENV`/`LABEL`/`ARG` arguments into pairs as Docker does, and
//! names the file and line in every error. Values stay unexpanded: ARG and
//! ENV scoping is the executor's (see `expand`).

use parse_dockerfile as pd;

use crate::heredoc::{heredoc_delimiters, Heredoc};

/// A Dockerfile error: the file, the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// `RUN`, `CMD`, `ENTRYPOINT` and `HEALTHCHECK` commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `["executable", "arg"]`
    Exec(Vec<String>),
    /// `command arg`, run by the stage's shell.
    Shell(String),
}

/// `--name=value` options of an instruction, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(pub Vec<(String, Option<String>)>);

impl Flags {
    /// The last value of `--name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// Every value of `--name` (`--mount` may repeat).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
            .collect()
    }

    /// True if a flag not in `known` is present; its name.
    pub fn unknown(&self, known: &[&str]) -> Option<&str> {
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !known.contains(n))
    }
}

/// A source of `COPY`/`ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A path, pattern or URL (unexpanded).
    Path(String),
    /// Inline content.
    Heredoc(Heredoc),
}

/// One instruction (values unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instr {
    Run {
        flags: Flags,
        cmd: Form,
        heredocs: Vec<Heredoc>,
    },
    Copy {
        flags: Flags,
        sources: Vec<Source>,
        dest: String,
    },
    Add {
        flags: Flags,
        sources: Vec<Source>,
        dest: String,
    },
    Env(Vec<(String, String)>),
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    Cmd(Form),
    Entrypoint(Form),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Healthcheck {
        flags: Flags,
        /// `None` for `HEALTHCHECK NONE`.
        test: Option<Form>,
    },
    Shell(Vec<String>),
    Stopsignal(String),
    /// The trigger, as written after `ONBUILD`.
    Onbuild(String),
    Maintainer(String),
}

/// An instruction where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    /// The instruction on one line (continuations joined), as `docker
    /// build` prints it.
    pub text: String,
    pub instr: Instr,
}

/// `FROM image [AS name]` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// Lowercased, as Docker compares stage names.
    pub name: Option<String>,
    /// The base as written (may hold `$ARG`s).
    pub base: String,
    pub platform: Option<String>,
    pub line: usize,
    pub text: String,
    pub steps: Vec<Step>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Its name in errors.
    pub file: String,
    pub escape: char,
    /// `ARG`s before the first `FROM`.
    pub global_args: Vec<(String, Option<String>)>,
    pub stages: Vec<Stage>,
}

struct Ctx<'t> {
    file: &'t str,
    text: &'t str,
    escape: char,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn err(&self, line: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }

    /// The instruction's source from `start` to `end` on one line: comment
    /// lines dropped, continuations joined, heredoc bodies left out.
    fn one_line(&self, start: usize, end: usize) -> String {
        let raw = &self.text[start..end.min(self.text.len())];
        let mut out = String::new();
        for line in raw.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') && !out.is_empty() {
                continue;
            }
            let (body, continued) = match trimmed.strip_suffix(self.escape) {
                Some(b) if !out.is_empty() || !trimmed.is_empty() => (b, true),
                _ => (line.trim_start(), false),
            };
            if out.is_empty() {
                out.push_str(body.trim_end());
            } else {
                out.push(' ');
                out.push_str(body.trim());
            }
            if !continued || out.contains("<<") {
                break;
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Removes line continuations (escape + newline) and the comment lines
/// between them, as Docker does for shell-form commands.
fn join_continuations(s: &str, escape: char) -> String {
    let mut out = String::new();
    let mut lines = s.split('\n').peekable();
    while let Some(line) = lines.next() {
        let continued = line.trim_end().ends_with(escape) && lines.peek().is_some();
        if continued {
            let t = line.trim_end();
            out.push_str(&t[..t.len() - escape.len_utf8()]);
            while lines
                .peek()
                .is_some_and(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
            {
                lines.next();
            }
        } else {
            out.push_str(line);
            if lines.peek().is_some() {
                out.push('\n');
            }
        }
    }
    out
}

/// Splits at unquoted whitespace, keeping quotes and escapes in the words
/// (Docker's `parseWords`).
pub fn words_keep_quotes(s: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            None if c == escape => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some('"') if c == escape => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// `ENV`/`LABEL` arguments: `k=v k2="v 2"`, or the legacy `k v w`.
fn name_values(
    ctx: &Ctx<'_>,
    line: usize,
    what: &str,
    args: &str,
) -> Result<Vec<(String, String)>, ParseError> {
    let words = words_keep_quotes(args, ctx.escape);
    let Some(first) = words.first() else {
        return Err(ctx.err(line, format!("{what} requires at least one argument")));
    };
    if !first.contains('=') {
        // Legacy form: the first word is the name, the rest the value.
        let rest = args.trim_start()[first.len()..].trim();
        if rest.is_empty() {
            return Err(ctx.err(line, format!("{what} requires at least two arguments")));
        }
        return Ok(vec![(first.clone(), rest.to_string())]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(ctx.err(
                line,
                format!("Syntax error - can't find = in {w:?}. Must be of the form: name=value"),
            ));
        };
        if k.is_empty() {
            return Err(ctx.err(line, format!("{what} names can not be blank")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// `ARG name[=default] ...`.
fn arg_pairs(
    ctx: &Ctx<'_>,
    line: usize,
    args: &str,
) -> Result<Vec<(String, Option<String>)>, ParseError> {
    let words = words_keep_quotes(args, ctx.escape);
    if words.is_empty() {
        return Err(ctx.err(line, "ARG requires at least one argument"));
    }
    let mut out = Vec::new();
    for w in words {
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        };
        if k.is_empty() {
            return Err(ctx.err(line, "ARG names can not be blank"));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn flags(fs: &[pd::Flag<'_>]) -> Flags {
    Flags(
        fs.iter()
            .map(|f| {
                (
                    f.name.value.to_string(),
                    f.value.as_ref().map(|v| v.value.to_string()),
                )
            })
            .collect(),
    )
}

fn form(ctx: &Ctx<'_>, c: &pd::Command<'_>) -> Form {
    match c {
        pd::Command::Exec(v) => Form::Exec(v.value.iter().map(|s| s.value.to_string()).collect()),
        pd::Command::Shell(s) => Form::Shell(join_continuations(s.value, ctx.escape)),
        _ => Form::Shell(String::new()),
    }
}

fn heredoc(h: &pd::HereDoc<'_>) -> Heredoc {
    Heredoc {
        content: h.value.to_string(),
        expand: h.expand,
    }
}

fn sources(src: &[pd::Source<'_>]) -> Vec<Source> {
    src.iter()
        .map(|s| match s {
            pd::Source::Path(p) => Source::Path(p.value.to_string()),
            pd::Source::HereDoc(h) => Source::Heredoc(heredoc(h)),
            _ => Source::Path(String::new()),
        })
        .collect()
}

fn keyword_start(i: &pd::Instruction<'_>) -> usize {
    use pd::Instruction as I;
    match i {
        I::Add(x) => x.add.span.start,
        I::Arg(x) => x.arg.span.start,
        I::Cmd(x) => x.cmd.span.start,
        I::Copy(x) => x.copy.span.start,
        I::Entrypoint(x) => x.entrypoint.span.start,
        I::Env(x) => x.env.span.start,
        I::Expose(x) => x.expose.span.start,
        I::From(x) => x.from.span.start,
        I::Healthcheck(x) => x.healthcheck.span.start,
        I::Label(x) => x.label.span.start,
        I::Maintainer(x) => x.maintainer.span.start,
        I::Onbuild(x) => x.onbuild.span.start,
        I::Run(x) => x.run.span.start,
        I::Shell(x) => x.shell.span.start,
        I::Stopsignal(x) => x.stopsignal.span.start,
        I::User(x) => x.user.span.start,
        I::Volume(x) => x.volume.span.start,
        I::Workdir(x) => x.workdir.span.start,
        _ => 0,
    }
}

fn convert(ctx: &Ctx<'_>, i: &pd::Instruction<'_>, line: usize) -> Result<Instr, ParseError> {
    use pd::Instruction as I;
    Ok(match i {
        I::Run(r) => Instr::Run {
            flags: flags(&r.options),
            cmd: form(ctx, &r.arguments),
            heredocs: r.here_docs.iter().map(heredoc).collect(),
        },
        I::Copy(c) => Instr::Copy {
            flags: flags(&c.options),
            sources: sources(&c.src),
            dest: c.dest.value.to_string(),
        },
        I::Add(a) => Instr::Add {
            flags: flags(&a.options),
            sources: sources(&a.src),
            dest: a.dest.value.to_string(),
        },
        I::Env(e) => Instr::Env(name_values(ctx, line, "ENV", &e.arguments.value)?),
        I::Label(l) => Instr::Label(name_values(ctx, line, "LABEL", &l.arguments.value)?),
        I::Arg(a) => Instr::Arg(arg_pairs(ctx, line, &a.arguments.value)?),
        I::Cmd(c) => Instr::Cmd(form(ctx, &c.arguments)),
        I::Entrypoint(e) => Instr::Entrypoint(form(ctx, &e.arguments)),
        I::Workdir(w) => Instr::Workdir(w.arguments.value.to_string()),
        I::User(u) => Instr::User(u.arguments.value.to_string()),
        I::Expose(e) => Instr::Expose(e.arguments.iter().map(|s| s.value.to_string()).collect()),
        I::Volume(v) => Instr::Volume(match &v.arguments {
            pd::JsonOrStringArray::Json(a) => a.value.iter().map(|s| s.value.to_string()).collect(),
            pd::JsonOrStringArray::String(a) => a.iter().map(|s| s.value.to_string()).collect(),
        }),
        I::Healthcheck(h) => Instr::Healthcheck {
            flags: flags(&h.options),
            test: match &h.arguments {
                pd::HealthcheckArguments::Cmd { arguments, .. } => Some(form(ctx, arguments)),
                _ => None,
            },
        },
        I::Shell(s) => Instr::Shell(s.arguments.iter().map(|a| a.value.to_string()).collect()),
        I::Stopsignal(s) => Instr::Stopsignal(s.arguments.value.to_string()),
        I::Maintainer(m) => Instr::Maintainer(m.name.value.to_string()),
        I::Onbuild(o) => {
            let start = keyword_start(&o.instruction);
            if matches!(
                *o.instruction,
                I::From(_) | I::Onbuild(_) | I::Maintainer(_)
            ) {
                return Err(ctx.err(
                    line,
                    "ONBUILD does not allow FROM, ONBUILD or MAINTAINER as its trigger",
                ));
            }
            let end = ctx.text[start..]
                .find('\n')
                .map_or(ctx.text.len(), |n| start + n);
            Instr::Onbuild(ctx.one_line(start, end))
        }
        I::From(_) => return Err(ctx.err(line, "FROM inside a stage")),
        _ => return Err(ctx.err(line, "unknown instruction")),
    })
}

/// Parses a Dockerfile; `file` names it in errors.
pub fn parse(original: &str, file: &str) -> Result<Dockerfile, ParseError> {
    let directive_escape = original
        .lines()
        .take_while(|l| l.trim_start().starts_with('#'))
        .find_map(|l| {
            l.trim()
                .strip_prefix("#")
                .map(str::trim)?
                .strip_prefix("escape=")
        })
        .and_then(|v| v.trim().chars().next())
        .unwrap_or('\\');
    let rw = crate::inline::rewrite(original, directive_escape);
    let text = rw.text.as_str();
    let parsed = pd::parse(text).map_err(|e| {
        let message = e.to_string();
        let mut line = rw.original(e.line().max(1));
        let message = if let Some(l) = unterminated_heredoc(original, line) {
            line = l;
            "the here-document opened by this RUN is not terminated".to_string()
        } else if message.starts_with("expected FROM") {
            "no build stage in current context: the first instruction must be FROM (or ARG)"
                .to_string()
        } else {
            // parse-dockerfile appends the position; we lead with it.
            message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string()
        };
        ParseError {
            file: file.to_string(),
            line,
            message,
        }
    })?;
    let escape = parsed
        .parser_directives
        .escape
        .as_ref()
        .map_or('\\', |d| d.value.value);
    let ctx = Ctx { file, text, escape };
    let starts: Vec<usize> = parsed.instructions.iter().map(keyword_start).collect();
    let end_of = |i: usize| starts.get(i + 1).copied().unwrap_or(text.len());
    let mut df = Dockerfile {
        file: file.to_string(),
        escape,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for (i, ins) in parsed.instructions.iter().enumerate() {
        let line = rw.original(ctx.line_of(starts[i]));
        let one = match rw.run_text.get(&line) {
            Some(t) => t.clone(),
            None => ctx.one_line(starts[i], end_of(i)),
        };
        match ins {
            pd::Instruction::From(f) => {
                let platform = f
                    .options
                    .iter()
                    .find(|o| o.name.value == "platform")
                    .and_then(|o| o.value.as_ref().map(|v| v.value.to_string()));
                if let Some(o) = f.options.iter().find(|o| o.name.value != "platform") {
                    return Err(ctx.err(line, format!("unknown flag: {}", o.name.value)));
                }
                let name = f.as_.as_ref().map(|(_, n)| n.value.to_lowercase());
                if let Some(n) = &name {
                    if !valid_stage_name(n) {
                        return Err(ctx.err(line, format!("invalid name for build stage: {n:?}, name can't start with a number or contain symbols")));
                    }
                }
                df.stages.push(Stage {
                    index: df.stages.len(),
                    name,
                    base: f.image.value.to_string(),
                    platform,
                    line,
                    text: one,
                    steps: Vec::new(),
                });
            }
            other => {
                let instr = convert(&ctx, other, line)?;
                match (df.stages.last_mut(), instr) {
                    (Some(stage), instr) => stage.steps.push(Step {
                        line,
                        text: one,
                        instr,
                    }),
                    (None, Instr::Arg(args)) => df.global_args.extend(args),
                    (None, _) => {
                        return Err(ctx.err(
                            line,
                            "no build stage in current context: the first instruction must be FROM (or ARG)",
                        ))
                    }
                }
            }
        }
    }
    if df.stages.is_empty() {
        return Err(ctx.err(
            ctx.line_of(text.len()),
            "the Dockerfile has no FROM instruction",
        ));
    }
    Ok(df)
}

/// The line (1-based, up to `before`) of a RUN that opens a here-document
/// after a command which never ends (the rewrite left it as written).
fn unterminated_heredoc(text: &str, before: usize) -> Option<usize> {
    text.lines().take(before).enumerate().find_map(|(i, l)| {
        let t = l.trim_start();
        let is_run = t.get(..3).is_some_and(|k| k.eq_ignore_ascii_case("RUN"))
            && t[3..].starts_with(char::is_whitespace);
        (is_run && t.contains("<<") && !heredoc_delimiters(&t[3..]).is_empty()).then_some(i + 1)
    })
}

/// Docker's stage names: a letter first, then letters, digits, `-`, `_`, `.`.
fn valid_stage_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
#[path = "dockerfile_tests.rs"]
mod tests;
