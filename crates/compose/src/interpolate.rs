//! Variable interpolation in compose files: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
//! `${VAR:+replacement}`, `${VAR+replacement}` (defaults and replacements
//! may themselves hold variables), `$$` for a literal `$`. Values are
//! interpolated, mapping keys are not.

use serde_json::Value;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolateError {
    /// `${` without its `}`, or a bad name.
    Syntax(String),
    /// `${VAR:?message}` with VAR unset (or empty).
    Required { name: String, message: String },
    /// Defaults nested deeper than [`MAX_NESTING`].
    TooDeep,
}

/// How deep `${a:-${b:-...}}` may nest: far beyond any real compose file,
/// well within a thread's stack.
pub const MAX_NESTING: usize = 64;

impl std::fmt::Display for InterpolateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpolateError::Syntax(s) => write!(
                f,
                "invalid interpolation format in {s:?}: you may need to escape any $ with another $"
            ),
            InterpolateError::Required { name, message } => {
                write!(f, "required variable {name} is missing a value")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            InterpolateError::TooDeep => write!(
                f,
                "invalid interpolation: substitutions nested more than {MAX_NESTING} deep"
            ),
        }
    }
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Interpolates one string.
pub fn interpolate(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let chars: Vec<char> = s.chars().collect();
    let (out, end) = expand(&chars, 0, false, s, lookup, 0)?;
    debug_assert_eq!(end, chars.len());
    Ok(out)
}

/// Expands from `i`; inside a `${...}` word (`nested`) stops at its `}`.
fn expand(
    chars: &[char],
    mut i: usize,
    nested: bool,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<(String, usize), InterpolateError> {
    let mut out = String::new();
    while i < chars.len() {
        let c = chars[i];
        if nested && c == '}' {
            return Ok((out, i));
        }
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                if depth >= MAX_NESTING {
                    return Err(InterpolateError::TooDeep);
                }
                let (text, next) = braced(chars, i + 2, whole, lookup, depth + 1)?;
                out.push_str(&text);
                i = next;
            }
            Some(&n) if is_name_start(n) => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && is_name(chars[j]) {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                out.push_str(&lookup(&name).unwrap_or_default());
                i = j;
            }
            _ => {
                return Err(InterpolateError::Syntax(whole.to_string()));
            }
        }
    }
    if nested {
        return Err(InterpolateError::Syntax(whole.to_string()));
    }
    Ok((out, i))
}

/// `${...}` starting after the brace; the text and the index after `}`.
fn braced(
    chars: &[char],
    start: usize,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<(String, usize), InterpolateError> {
    let syntax = || InterpolateError::Syntax(whole.to_string());
    let mut j = start;
    if !chars.get(j).is_some_and(|c| is_name_start(*c)) {
        return Err(syntax());
    }
    while j < chars.len() && is_name(chars[j]) {
        j += 1;
    }
    let name: String = chars[start..j].iter().collect();
    let value = lookup(&name);
    match chars.get(j) {
        Some('}') => Ok((value.unwrap_or_default(), j + 1)),
        Some(':') | Some('-') | Some('?') | Some('+') => {
            let colon = chars[j] == ':';
            let op_at = if colon { j + 1 } else { j };
            let op = *chars.get(op_at).ok_or_else(syntax)?;
            if !matches!(op, '-' | '?' | '+') {
                return Err(syntax());
            }
            let (word, end) = expand(chars, op_at + 1, true, whole, lookup, depth)?;
            // With the colon an empty value counts as unset.
            let set = match &value {
                Some(v) => !(colon && v.is_empty()),
                None => false,
            };
            let text = match op {
                '-' => {
                    if set {
                        value.unwrap_or_default()
                    } else {
                        word
                    }
                }
                '+' => {
                    if set {
                        word
                    } else {
                        String::new()
                    }
                }
                _ => {
                    if set {
                        value.unwrap_or_default()
                    } else {
                        return Err(InterpolateError::Required {
                            name,
                            message: word,
                        });
                    }
                }
            };
            Ok((text, end + 1))
        }
        _ => Err(syntax()),
    }
}

/// Interpolates every string value of a document in place; an error names
/// the path (`services.web.image`).
pub fn interpolate_tree(
    v: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, InterpolateError)> {
    match v {
        Value::String(s) if s.contains('$') => {
            *s = interpolate(s, lookup).map_err(|e| (path.to_string(), e))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{path}[{i}]"), lookup)?;
            }
        }
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                interpolate_tree(item, &p, lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Result<String, InterpolateError> {
        let env = |n: &str| match n {
            "SET" => Some("value".to_string()),
            "EMPTY" => Some(String::new()),
            "TAG" => Some("1.2".to_string()),
            _ => None,
        };
        interpolate(s, &env)
    }

    /// Nesting that would overflow the stack is an error.
    #[test]
    fn bounded_nesting() {
        let deep = format!("{}x{}", "${Z:-".repeat(50_000), "}".repeat(50_000));
        assert_eq!(run(&deep), Err(InterpolateError::TooDeep));
        let ok = format!(
            "{}x{}",
            "${Z:-".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        assert_eq!(run(&ok).unwrap(), "x");
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("$SET", "value"),
            ("${SET}", "value"),
            ("a${SET}b", "avalueb"),
            ("$SET.x", "value.x"),
            ("$UNSET", ""),
            ("${UNSET:-dflt}", "dflt"),
            ("${EMPTY:-dflt}", "dflt"),
            ("${EMPTY-dflt}", ""),
            ("${UNSET-dflt}", "dflt"),
            ("${SET:-dflt}", "value"),
            ("${SET:+repl}", "repl"),
            ("${EMPTY:+repl}", ""),
            ("${EMPTY+repl}", "repl"),
            ("${UNSET+repl}", ""),
            ("${UNSET:-${SET}}", "value"),
            ("${UNSET:-a ${TAG} b}", "a 1.2 b"),
            ("$$SET", "$SET"),
            ("cost: $$5", "cost: $5"),
            ("busybox:${TAG:-latest}", "busybox:1.2"),
        ];
        for (input, want) in cases {
            assert_eq!(run(input).as_deref(), Ok(*want), "{input}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("${UNSET:?needs a value}"),
            Err(InterpolateError::Required {
                name: "UNSET".into(),
                message: "needs a value".into()
            })
        );
        assert!(matches!(
            run("${EMPTY:?x}"),
            Err(InterpolateError::Required { .. })
        ));
        assert_eq!(run("${EMPTY?x}").as_deref(), Ok(""));
        for bad in ["${", "${SET", "$", "${1x}", "${SET:x}", "a $ b"] {
            assert!(
                matches!(run(bad), Err(InterpolateError::Syntax(_))),
                "{bad}"
            );
        }
        let mut doc = serde_json::json!({"services": {"web": {"image": "${NOPE:?set NOPE}"}}});
        let (path, e) = interpolate_tree(&mut doc, "", &|_| None).unwrap_err();
        assert_eq!(path, "services.web.image");
        assert_eq!(
            e.to_string(),
            "required variable NOPE is missing a value: set NOPE"
        );
    }
}
