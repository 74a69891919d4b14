//! Here-documents in RUN (`RUN <<EOF`, `RUN cat <<EOF > f`): the documents,
//! the delimiters a command line opens, and the script or program a RUN
//! with here-documents becomes.

/// A here-document (`<<EOF ... EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub content: String,
    /// False when the delimiter was quoted: no substitution.
    pub expand: bool,
}

/// How a RUN with here-documents runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeredocRun {
    /// A script for the stage's shell (`sh -c`).
    Script(String),
    /// A whole program with its own interpreter (`#!` first line), to be
    /// written to a file and executed.
    Program(String),
}

/// The delimiters of the here-documents a command line opens, in order,
/// with whether they are quoted.
pub fn heredoc_delimiters(cmd: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = cmd;
    while let Some(i) = rest.find("<<") {
        let mut s = &rest[i + 2..];
        s = s.strip_prefix('-').unwrap_or(s).trim_start();
        let quote = s.chars().next().filter(|c| *c == '\'' || *c == '"');
        if let Some(q) = quote {
            s = &s[1..];
            let end = s.find(q).unwrap_or(s.len());
            out.push((s[..end].to_string(), true));
            rest = &s[end..];
        } else {
            let end = s
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(s.len());
            if end > 0 {
                out.push((s[..end].to_string(), false));
            }
            rest = &s[end..];
        }
    }
    out
}

/// The script of a RUN with here-documents: the body alone when the
/// command is just `<<EOF` (a `#!` body is a program of its own), else the
/// command line followed by each body and its delimiter, for the shell to
/// read as here-documents.
pub fn heredoc_run(cmd: &str, docs: &[Heredoc]) -> HeredocRun {
    let delims = heredoc_delimiters(cmd);
    let only_marker = docs.len() == 1
        && cmd
            .trim()
            .trim_start_matches("<<")
            .trim_start_matches('-')
            .trim_matches(|c| c == '\'' || c == '"')
            == delims.first().map(|d| d.0.as_str()).unwrap_or("");
    if only_marker {
        let body = docs[0].content.clone();
        return if body.starts_with("#!") {
            HeredocRun::Program(body)
        } else {
            HeredocRun::Script(body)
        };
    }
    let mut script = cmd.trim_end().to_string();
    script.push('\n');
    for (doc, (delim, _)) in docs.iter().zip(delims.iter()) {
        script.push_str(&doc.content);
        if !doc.content.ends_with('\n') {
            script.push('\n');
        }
        script.push_str(delim);
        script.push('\n');
    }
    HeredocRun::Script(script)
}
