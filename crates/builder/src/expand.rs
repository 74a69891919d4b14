//! Docker's word processing for Dockerfile instructions (pure): variable
//! substitution (`$var`, `${var}`, `${var:-word}`, `${var-word}`,
//! `${var:+word}`, `${var+word}`, `${var:?message}`, `${var?message}`),
//! quote removal (single quotes keep everything literal, double quotes
//! allow substitution) and the escape character (`\` or the `# escape=`
//! directive's), as ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER,
//! VOLUME and WORKDIR apply them. RUN, CMD and ENTRYPOINT are left to the
//! shell at run time.

use std::collections::BTreeMap;

/// A substitution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("unterminated quoted string in {0:?}")]
    UnterminatedQuote(String),
    #[error("missing '}}' in {0:?}")]
    UnterminatedBrace(String),
    #[error("bad substitution in {0:?}")]
    BadSubstitution(String),
    #[error("substitutions nested more than {MAX_NESTING} deep")]
    TooDeep,
    #[error("a substituted value is longer than {MAX_LEN} bytes")]
    TooLong,
}

/// How deep `${a:-${b:-...}}` may nest: far beyond any real Dockerfile,
/// well within a thread's stack.
pub const MAX_NESTING: usize = 64;
/// The longest value a substitution may produce (1 MiB): variables that
/// double themselves line after line would otherwise take all memory.
pub const MAX_LEN: usize = 1 << 20;

/// Appends `s` to `out`, refusing values past [`MAX_LEN`].
fn grow(out: &mut String, s: &str) -> Result<(), ExpandError> {
    if out.len() + s.len() > MAX_LEN {
        return Err(ExpandError::TooLong);
    }
    out.push_str(s);
    Ok(())
}

/// The variables in scope and the escape character.
#[derive(Debug, Clone)]
pub struct Expander<'a> {
    pub vars: &'a BTreeMap<String, String>,
    pub escape: char,
}

impl Expander<'_> {
    /// One word: substitutes and removes quotes; whitespace is kept.
    pub fn word(&self, input: &str) -> Result<String, ExpandError> {
        let mut words = Lexer::new(self, input, false).run()?;
        Ok(words.pop().unwrap_or_default())
    }

    /// Free text (a here-document's content): variables substituted,
    /// quotes kept as they are; `\$` is a literal `$`.
    pub fn text(&self, input: &str) -> Result<String, ExpandError> {
        let mut lx = Lexer::new(self, input, false);
        let mut out = String::new();
        while let Some(c) = lx.next() {
            match c {
                '$' => grow(&mut out, &lx.dollar()?)?,
                c if c == self.escape && lx.peek() == Some('$') => {
                    lx.pos += 1;
                    out.push('$');
                }
                c => out.push(c),
            }
        }
        Ok(out)
    }

    /// Several words split at unquoted whitespace (after substitution of
    /// the text as written: a variable's value is not split).
    pub fn words(&self, input: &str) -> Result<Vec<String>, ExpandError> {
        Lexer::new(self, input, true).run()
    }
}

struct Lexer<'e, 'v> {
    ex: &'e Expander<'v>,
    input: &'e str,
    chars: Vec<char>,
    pos: usize,
    split: bool,
    /// Substitutions open around the current position.
    depth: usize,
}

impl<'e, 'v> Lexer<'e, 'v> {
    fn new(ex: &'e Expander<'v>, input: &'e str, split: bool) -> Self {
        Self {
            ex,
            input,
            chars: input.chars().collect(),
            pos: 0,
            split,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn run(mut self) -> Result<Vec<String>, ExpandError> {
        let mut words = Vec::new();
        let mut cur = String::new();
        // A word exists once something (even an empty quote) was seen.
        let mut started = false;
        while let Some(c) = self.next() {
            if self.split && c.is_whitespace() {
                if started {
                    words.push(std::mem::take(&mut cur));
                    started = false;
                }
                continue;
            }
            started = true;
            match c {
                '\'' => self.single_quoted(&mut cur)?,
                '"' => self.double_quoted(&mut cur)?,
                '$' => grow(&mut cur, &self.dollar()?)?,
                c if c == self.ex.escape => match self.next() {
                    Some(n) => cur.push(n),
                    // A trailing escape stays.
                    None => cur.push(c),
                },
                c => cur.push(c),
            }
        }
        if started || !self.split {
            words.push(cur);
        }
        Ok(words)
    }

    fn single_quoted(&mut self, out: &mut String) -> Result<(), ExpandError> {
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedQuote(self.input.to_string())),
                Some('\'') => return Ok(()),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self, out: &mut String) -> Result<(), ExpandError> {
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedQuote(self.input.to_string())),
                Some('"') => return Ok(()),
                Some('$') => grow(out, &self.dollar()?)?,
                Some(c) if c == self.ex.escape => match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.ex.escape => {
                        self.pos += 1;
                        out.push(n);
                    }
                    _ => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        // `$1x` is `$1` then `x`, as in the shell.
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                name.push(c);
                self.pos += 1;
            }
            return name;
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        self.ex.vars.get(name).map(String::as_str)
    }

    /// After a `$`: the substitution's value.
    fn dollar(&mut self) -> Result<String, ExpandError> {
        if self.depth >= MAX_NESTING {
            return Err(ExpandError::TooDeep);
        }
        self.depth += 1;
        let value = self.dollar_inner();
        self.depth -= 1;
        value
    }

    fn dollar_inner(&mut self) -> Result<String, ExpandError> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.braced()
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                Ok(self.lookup(&name).unwrap_or_default().to_string())
            }
            _ => Ok("$".to_string()),
        }
    }

    /// `${...}` after the brace.
    fn braced(&mut self) -> Result<String, ExpandError> {
        let name = self.name();
        if name.is_empty() {
            return Err(ExpandError::BadSubstitution(self.input.to_string()));
        }
        let value = self.lookup(&name).map(str::to_string);
        match self.next() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let op = self
                    .next()
                    .ok_or_else(|| ExpandError::UnterminatedBrace(self.input.to_string()))?;
                let word = self.modifier_word()?;
                let set = value.as_deref().is_some_and(|v| !v.is_empty());
                self.apply(op, &name, value, set, word)
            }
            Some(op @ ('-' | '+' | '?')) => {
                let word = self.modifier_word()?;
                let set = value.is_some();
                self.apply(op, &name, value, set, word)
            }
            None => Err(ExpandError::UnterminatedBrace(self.input.to_string())),
            Some(_) => Err(ExpandError::BadSubstitution(self.input.to_string())),
        }
    }

    fn apply(
        &self,
        op: char,
        name: &str,
        value: Option<String>,
        set: bool,
        word: String,
    ) -> Result<String, ExpandError> {
        match op {
            '-' => Ok(if set { value.unwrap_or_default() } else { word }),
            '+' => Ok(if set { word } else { String::new() }),
            '?' if set => Ok(value.unwrap_or_default()),
            '?' => Err(ExpandError::Required {
                name: name.to_string(),
                message: if word.is_empty() {
                    "is not allowed to be unset".to_string()
                } else {
                    word
                },
            }),
            _ => Err(ExpandError::BadSubstitution(self.input.to_string())),
        }
    }

    /// The word of a modifier, up to the closing brace, itself expanded.
    fn modifier_word(&mut self) -> Result<String, ExpandError> {
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedBrace(self.input.to_string())),
                Some('}') => return Ok(out),
                Some('$') => grow(&mut out, &self.dollar()?)?,
                Some('\'') => self.single_quoted(&mut out)?,
                Some('"') => self.double_quoted(&mut out)?,
                Some(c) if c == self.ex.escape => {
                    if let Some(n) = self.next() {
                        out.push(n);
                    }
                }
                Some(c) => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("A", "alpha"),
            ("EMPTY", ""),
            ("SP", "two words"),
            ("PATH", "/usr/bin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn words_table() {
        let v = vars();
        let ex = Expander {
            vars: &v,
            escape: '\\',
        };
        let table: &[(&str, &str)] = &[
            ("$A", "alpha"),
            ("${A}", "alpha"),
            ("x${A}y", "xalphay"),
            ("$A/b", "alpha/b"),
            ("$UNSET", ""),
            ("${UNSET:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${UNSET-def}", "def"),
            ("${A:-def}", "alpha"),
            ("${A:+set}", "set"),
            ("${EMPTY:+set}", ""),
            ("${EMPTY+set}", "set"),
            ("${UNSET:+set}", ""),
            ("${UNSET:-$A}", "alpha"),
            ("${UNSET:-${A}x}", "alphax"),
            ("\\$A", "$A"),
            ("'$A'", "$A"),
            ("\"$A\"", "alpha"),
            ("\"\\$A\"", "$A"),
            ("\"a\\b\"", "a\\b"),
            ("a\\ b", "a b"),
            ("$", "$"),
            ("a$", "a$"),
            ("$1x", "x"),
            ("${PATH}:/bin", "/usr/bin:/bin"),
            ("\"it's\"", "it's"),
            ("'say \"hi\"'", "say \"hi\""),
            ("trail\\", "trail\\"),
            ("$SP", "two words"),
        ];
        for (input, want) in table {
            assert_eq!(ex.word(input).as_deref(), Ok(*want), "{input}");
        }
    }

    #[test]
    fn splitting_and_escape_directive() {
        let v = vars();
        let ex = Expander {
            vars: &v,
            escape: '\\',
        };
        assert_eq!(
            ex.words("a  \"b c\" $SP ''").unwrap(),
            vec!["a", "b c", "two words", ""]
        );
        assert_eq!(ex.words("  ").unwrap(), Vec::<String>::new());
        let tick = Expander {
            vars: &v,
            escape: '`',
        };
        assert_eq!(tick.word("C:\\dir\\$A").unwrap(), "C:\\dir\\alpha");
        assert_eq!(tick.word("`$A").unwrap(), "$A");
    }

    #[test]
    fn free_text() {
        let v = vars();
        let ex = Expander {
            vars: &v,
            escape: '\\',
        };
        assert_eq!(
            ex.text("say \"$A\" to '${SP}' \\$A\n").unwrap(),
            "say \"alpha\" to 'two words' $A\n"
        );
    }

    /// Hostile input: nesting that would overflow the stack, values that
    /// double themselves.
    #[test]
    fn bounded_nesting_and_length() {
        let v = vars();
        let ex = Expander {
            vars: &v,
            escape: '\\',
        };
        let deep = format!("{}x{}", "${Z:-".repeat(8000), "}".repeat(8000));
        assert_eq!(ex.word(&deep), Err(ExpandError::TooDeep));
        assert_eq!(ex.words(&deep), Err(ExpandError::TooDeep));
        assert_eq!(ex.text(&deep), Err(ExpandError::TooDeep));
        let quoted = format!("\"{}x{}\"", "${Z:-".repeat(8000), "}".repeat(8000));
        assert_eq!(ex.word(&quoted), Err(ExpandError::TooDeep));
        let ok = format!(
            "{}x{}",
            "${Z:-".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        assert_eq!(ex.word(&ok).unwrap(), "x");
        let mut vars = BTreeMap::from([("A0".to_string(), "x".repeat(1000))]);
        let mut failed = None;
        for n in 0..40 {
            let ex = Expander {
                vars: &vars,
                escape: '\\',
            };
            match ex.word(&format!("${{A{n}}}${{A{n}}}")) {
                Ok(v) => {
                    vars.insert(format!("A{}", n + 1), v);
                }
                Err(e) => {
                    failed = Some((n, e));
                    break;
                }
            }
        }
        let (n, e) = failed.expect("doubling stops");
        assert_eq!(e, ExpandError::TooLong);
        assert!(n < 12, "stopped at line {n}");
    }

    #[test]
    fn errors() {
        let v = vars();
        let ex = Expander {
            vars: &v,
            escape: '\\',
        };
        assert_eq!(
            ex.word("${UNSET:?must be set}"),
            Err(ExpandError::Required {
                name: "UNSET".into(),
                message: "must be set".into()
            })
        );
        assert_eq!(ex.word("${A?x}").unwrap(), "alpha");
        assert!(matches!(
            ex.word("'open"),
            Err(ExpandError::UnterminatedQuote(_))
        ));
        assert!(matches!(
            ex.word("${A"),
            Err(ExpandError::UnterminatedBrace(_))
        ));
        assert!(matches!(
            ex.word("${}"),
            Err(ExpandError::BadSubstitution(_))
        ));
        assert!(matches!(
            ex.word("${A*x}"),
            Err(ExpandError::BadSubstitution(_))
        ));
    }
}
