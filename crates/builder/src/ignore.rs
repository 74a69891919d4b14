//! `.dockerignore` with Docker's exact semantics (pure): comment lines,
//! trimmed and cleaned patterns (a leading `/` dropped), `!` exceptions,
//! the last matching pattern wins, a pattern matching a parent directory
//! matches everything below it, `*` and `?` stop at `/`, `**` spans
//! directories (`**/` also matches nothing), `[a-z]`/`[^a-z]` classes and
//! `\` escapes. The test table is moby's patternmatcher's.

/// A malformed pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    #[error("illegal exclusion pattern: \"!\"")]
    LoneExclamation,
    #[error("syntax error in pattern {0:?}")]
    Syntax(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `*`: any run without `/`.
    Star,
    /// `?`: one character but `/`.
    Quest,
    /// `[...]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**` inside a pattern: `(.*/)?`.
    AnyDirs,
    /// `**` at the end: anything.
    AnyAll,
}

#[derive(Debug, Clone)]
struct Pattern {
    exclusion: bool,
    tokens: Vec<Token>,
}

/// A compiled list of patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

/// The lines of a `.dockerignore` as patterns (Docker's `ReadAll`).
pub fn read(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut cleaned = if p.is_empty() {
            String::new()
        } else {
            clean(p)
        };
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Go's `path.Clean`.
pub fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `path.Dir`.
fn dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => ".".to_string(),
    }
}

fn compile(p: &str) -> Result<Vec<Token>, IgnoreError> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                out.push(if i >= chars.len() {
                    Token::AnyAll
                } else {
                    Token::AnyDirs
                });
            }
            '*' => out.push(Token::Star),
            '?' => out.push(Token::Quest),
            '\\' => match chars.get(i) {
                Some(n) => {
                    out.push(Token::Lit(*n));
                    i += 1;
                }
                None => return Err(IgnoreError::Syntax(p.into())),
            },
            '[' => {
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    if chars.get(i) == Some(&']') && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    let lo =
                        class_char(&chars, &mut i).ok_or_else(|| IgnoreError::Syntax(p.into()))?;
                    let mut hi = lo;
                    if chars.get(i) == Some(&'-') {
                        i += 1;
                        hi = class_char(&chars, &mut i)
                            .ok_or_else(|| IgnoreError::Syntax(p.into()))?;
                    }
                    ranges.push((lo, hi));
                }
                out.push(Token::Class { negated, ranges });
            }
            ']' => out.push(Token::Lit(']')),
            c => out.push(Token::Lit(c)),
        }
    }
    Ok(out)
}

/// One character of a class, as Go's `filepath.Match` reads it: `-` and
/// `]` must be escaped, and something must follow (the closing `]`).
fn class_char(chars: &[char], i: &mut usize) -> Option<char> {
    let mut c = *chars.get(*i)?;
    if c == '-' || c == ']' {
        return None;
    }
    if c == '\\' {
        *i += 1;
        c = *chars.get(*i)?;
    }
    *i += 1;
    chars.get(*i)?;
    Some(c)
}

/// Whether `tokens` match all of `text`. Dynamic programming over (token,
/// position), one row per token from the last: time proportional to
/// tokens × characters whatever the pattern, where trying each way a `*`
/// can match in turn is exponential in the number of stars.
fn matches(tokens: &[Token], text: &[char]) -> bool {
    let len = text.len();
    // `next[j]`: the tokens after the current one match `text[j..]`.
    let mut next: Vec<bool> = (0..=len).map(|j| j == len).collect();
    let mut row = vec![false; len + 1];
    for token in tokens.iter().rev() {
        // One character that `ok` accepts, then the rest.
        let mut one = |ok: &dyn Fn(char) -> bool| {
            for (j, r) in row.iter_mut().enumerate() {
                *r = j < len && ok(text[j]) && next[j + 1];
            }
        };
        match token {
            Token::Lit(c) => one(&|x| x == *c),
            Token::Quest => one(&|x| x != '/'),
            Token::Class { negated, ranges } => {
                one(&|x| x != '/' && ranges.iter().any(|(a, b)| *a <= x && x <= *b) != *negated)
            }
            Token::AnyAll => row.iter_mut().for_each(|r| *r = true),
            Token::AnyDirs => {
                // Nothing, or anything ending with a `/`.
                let mut after_slash = false;
                for j in (0..=len).rev() {
                    if j < len && text[j] == '/' && next[j + 1] {
                        after_slash = true;
                    }
                    row[j] = next[j] || after_slash;
                }
            }
            Token::Star => {
                row[len] = next[len];
                for j in (0..len).rev() {
                    row[j] = next[j] || (text[j] != '/' && row[j + 1]);
                }
            }
        }
        std::mem::swap(&mut next, &mut row);
    }
    next[0]
}

impl Matcher {
    /// Compiles patterns (as [`read`] returns them).
    pub fn new(patterns: &[String]) -> Result<Matcher, IgnoreError> {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err(IgnoreError::LoneExclamation);
                }
                p.remove(0);
            }
            out.push(Pattern {
                exclusion,
                tokens: compile(&p)?,
            });
        }
        Ok(Matcher { patterns: out })
    }

    /// True if some pattern is an exception (`!`): directories must then be
    /// walked even when they match.
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `file` (slash-separated, relative to the context) is ignored:
    /// the last pattern matching it or one of its parents decides.
    pub fn ignored(&self, file: &str) -> bool {
        let parent = dir(file);
        let parents: Vec<&str> = parent.split('/').collect();
        let text: Vec<char> = file.chars().collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = matches(&p.tokens, &text);
            if !m && parent != "." {
                m = (1..=parents.len()).any(|i| {
                    let prefix: Vec<char> = parents[..i].join("/").chars().collect();
                    matches(&p.tokens, &prefix)
                });
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

#[cfg(test)]
#[path = "ignore_tests.rs"]
mod tests;
