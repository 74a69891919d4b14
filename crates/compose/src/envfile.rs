//! `.env` and `env_file` files, with Docker Compose's rules: `KEY=VALUE`
//! lines (`export ` allowed), `#` comments, blank lines; single-quoted
//! values are literal, double-quoted ones take `\n`, `\t`, `\"`, `\\`
//! escapes and may span lines; unquoted values end at ` #` and are
//! trimmed; double-quoted and unquoted values interpolate `${VAR}` from
//! the variables known so far. A line with a key alone takes the value
//! from `lookup` (and is left out when it has none).

use std::collections::BTreeMap;

use crate::interpolate::interpolate;

/// The longest value a variable may have: the kernel's limit for one
/// environment string (`MAX_ARG_STRLEN`), which no container could be
/// given anyway. Values that grow by referring to themselves stop here.
pub const MAX_VALUE: usize = 128 * 1024;

/// Parses an env file; `lookup` resolves variables not defined earlier in
/// the file. An error names the line.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, rest) = match line.split_once('=') {
            Some((k, r)) => (k.trim(), Some(r)),
            None => (line.trim(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("line {lineno}: invalid variable name {key:?}"));
        }
        let Some(rest) = rest else {
            if let Some(v) = lookup(key) {
                out.retain(|(k, _)| k != key);
                known.insert(key.to_string(), v.clone());
                out.push((key.to_string(), v));
            }
            continue;
        };
        let vars = |n: &str| known.get(n).cloned().or_else(|| lookup(n));
        let value = if let Some(r) = rest.strip_prefix('\'') {
            let mut body = r.to_string();
            while !body.contains('\'') {
                let Some(next) = lines.get(i) else {
                    return Err(format!("line {lineno}: unterminated single quote"));
                };
                body.push('\n');
                body.push_str(next);
                i += 1;
            }
            let end = body.find('\'').unwrap_or(body.len());
            body[..end].to_string()
        } else if let Some(r) = rest.strip_prefix('"') {
            let mut body = r.to_string();
            while closing_quote(&body).is_none() {
                let Some(next) = lines.get(i) else {
                    return Err(format!("line {lineno}: unterminated double quote"));
                };
                body.push('\n');
                body.push_str(next);
                i += 1;
            }
            let end = closing_quote(&body).unwrap_or(body.len());
            let unescaped = unescape(&body[..end]);
            interpolate(&unescaped, &vars).map_err(|e| format!("line {lineno}: {e}"))?
        } else {
            let raw = match rest.find(" #") {
                Some(p) => &rest[..p],
                None => rest,
            };
            interpolate(raw.trim(), &vars).map_err(|e| format!("line {lineno}: {e}"))?
        };
        if value.len() > MAX_VALUE {
            return Err(format!(
                "line {lineno}: the value of {key} is longer than {MAX_VALUE} bytes"
            ));
        }
        out.retain(|(k, _)| k != key);
        known.insert(key.to_string(), value.clone());
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// The index of the first unescaped `"`.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_rules() {
        let text = "# comment\n\nA=plain value  # trailing\nexport B='single $A # kept'\nC=\"double\\n$A\"\nD=\"multi\nline\"\nE=${A}-x\nFROM_ENV\nMISSING\nA=again\nF=a#b\n";
        let env = |n: &str| (n == "FROM_ENV").then(|| "host".to_string());
        let got = parse(text, &env).unwrap();
        let m: BTreeMap<_, _> = got.into_iter().collect();
        assert_eq!(m["A"], "again");
        assert_eq!(m["B"], "single $A # kept");
        assert_eq!(m["C"], "double\nplain value");
        assert_eq!(m["D"], "multi\nline");
        assert_eq!(m["E"], "plain value-x");
        assert_eq!(m["FROM_ENV"], "host");
        assert!(!m.contains_key("MISSING"));
        assert_eq!(m["F"], "a#b");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("A=1\nB=\"open\n", &|_| None).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("BAD KEY=1\n", &|_| None).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn self_doubling_values_stop_at_the_limit() {
        let mut text = "E=0123456789abcdef\n".to_string();
        text.push_str(&"E=$E$E\n".repeat(40));
        let e = parse(&text, &|_| None).unwrap_err();
        assert_eq!(
            e,
            format!("line 15: the value of E is longer than {MAX_VALUE} bytes")
        );
    }
}
