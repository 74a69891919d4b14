//! RUN lines that open here-documents after a command (`RUN cat <<EOF >
//! f`), which parse-dockerfile does not read, rewritten before parsing as
//! a RUN of one here-document holding the command line and its bodies, for
//! the shell to run as written. Line numbers map back to the original.

use std::collections::BTreeMap;

use crate::heredoc::heredoc_delimiters;

/// A rewritten Dockerfile.
pub(crate) struct Rewritten {
    pub text: String,
    /// The original line (1-based) of each rewritten line.
    line_map: Vec<usize>,
    /// The original one-line text of rewritten RUNs, by original line.
    pub run_text: BTreeMap<usize, String>,
}

impl Rewritten {
    /// The original line of rewritten line `line` (1-based).
    pub fn original(&self, line: usize) -> usize {
        self.line_map
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(line)
    }
}

/// `RUN [--flags] cmd` with a here-document opened after a command: the
/// `RUN [--flags] ` prefix and the command.
fn run_with_inner_heredoc(line: &str, escape: char) -> Option<(String, String)> {
    let t = line.trim_start();
    // `get`: a first word of multi-byte characters is not RUN either.
    let after = match t.get(..3) {
        Some(word) if word.eq_ignore_ascii_case("RUN") => &t[3..],
        _ => return None,
    };
    if !after.starts_with([' ', '\t']) {
        return None;
    }
    if t.trim_end().ends_with(escape) {
        return None;
    }
    let mut rest = after.trim_start();
    let mut prefix = String::from("RUN ");
    while rest.starts_with("--") {
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        prefix.push_str(&rest[..end]);
        prefix.push(' ');
        rest = rest[end..].trim_start();
    }
    if rest.starts_with("<<") || heredoc_delimiters(rest).is_empty() {
        return None;
    }
    Some((prefix, rest.to_string()))
}

/// Rewrites the RUNs parse-dockerfile cannot read; the rest stays.
pub(crate) fn rewrite(text: &str, escape: char) -> Rewritten {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut map = Vec::new();
    let mut run_text = BTreeMap::new();
    let mut i = 0;
    let mut k = 0;
    while i < lines.len() {
        let l = lines[i];
        if let Some((prefix, cmd)) = run_with_inner_heredoc(l, escape) {
            let mut j = i + 1;
            let mut complete = true;
            for (delim, _) in heredoc_delimiters(&cmd) {
                loop {
                    let Some(body) = lines.get(j) else {
                        complete = false;
                        break;
                    };
                    j += 1;
                    if body.trim_start_matches('\t') == delim {
                        break;
                    }
                }
            }
            if complete {
                let mut marker = format!("BERTH_INLINE_{k}");
                while text.contains(&marker) {
                    marker.push('_');
                }
                out.push(format!("{prefix}<<{marker}"));
                map.push(i + 1);
                out.push(cmd);
                map.push(i + 1);
                for (m, body) in lines.iter().enumerate().take(j).skip(i + 1) {
                    out.push(body.to_string());
                    map.push(m + 1);
                }
                out.push(marker);
                map.push(j);
                run_text.insert(i + 1, l.split_whitespace().collect::<Vec<_>>().join(" "));
                i = j;
                k += 1;
                continue;
            }
        }
        out.push(l.to_string());
        map.push(i + 1);
        i += 1;
    }
    Rewritten {
        text: out.join("\n"),
        line_map: map,
        run_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_and_maps_lines() {
        let text = "FROM busybox\nRUN --network=none cat <<EOF > /f && cat <<'B' > /g\nbody $X\nEOF\nliteral\nB\nENV A=1\n";
        let r = rewrite(text, '\\');
        assert_eq!(
            r.text,
            "FROM busybox\nRUN --network=none <<BERTH_INLINE_0\ncat <<EOF > /f && cat <<'B' > /g\nbody $X\nEOF\nliteral\nB\nBERTH_INLINE_0\nENV A=1\n"
        );
        assert_eq!(r.original(9), 7, "ENV stays on its original line");
        assert_eq!(r.original(2), 2);
        assert_eq!(
            r.run_text[&2],
            "RUN --network=none cat <<EOF > /f && cat <<'B' > /g"
        );
        let unterminated = rewrite("FROM busybox\nRUN cat <<EOF\nno end\n", '\\');
        assert_eq!(unterminated.text, "FROM busybox\nRUN cat <<EOF\nno end\n");
        let plain = rewrite("FROM busybox\nRUN <<EOF\nx\nEOF\nRUN echo '<<' no\n", '\\');
        assert!(
            plain.run_text.is_empty(),
            "a leading <<EOF and a quoted << stay"
        );
    }
}
