//! Splits template source into text and action tokens.
//!
//! Text outside `{{ }}` becomes [`Tok::Text`] (already trimmed where a `{{- `
//! or ` -}}` marker asks for it); comments are dropped. A lexing error is
//! stored as a final [`Tok::Error`] token so that the parser reports errors
//! in source order.

use crate::error::{Error, Pos};

/// Keywords that start or continue control structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    If,
    Else,
    End,
    Range,
    With,
    Break,
    Continue,
    Define,
    Template,
    Block,
}

impl Kw {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kw::If => "if",
            Kw::Else => "else",
            Kw::End => "end",
            Kw::Range => "range",
            Kw::With => "with",
            Kw::Break => "break",
            Kw::Continue => "continue",
            Kw::Define => "define",
            Kw::Template => "template",
            Kw::Block => "block",
        }
    }

    fn from_word(w: &str) -> Option<Kw> {
        Some(match w {
            "if" => Kw::If,
            "else" => Kw::Else,
            "end" => Kw::End,
            "range" => Kw::Range,
            "with" => Kw::With,
            "break" => Kw::Break,
            "continue" => Kw::Continue,
            "define" => Kw::Define,
            "template" => Kw::Template,
            "block" => Kw::Block,
            _ => return None,
        })
    }
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    /// `{{`
    Left,
    /// `}}`
    Right,
    Space,
    /// `.` on its own.
    Dot,
    /// `.Name`, without the dot.
    Field(String),
    /// `$name` or `$`, with the dollar.
    Var(String),
    Ident(String),
    Kw(Kw),
    Bool(bool),
    Nil,
    Str(String),
    /// A number literal as written.
    Num(String),
    /// A character constant such as `'a'`, as its code point.
    CharLit(i64),
    LParen,
    RParen,
    Pipe,
    Comma,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// Any other printable ASCII character.
    Other(char),
    Eof,
    Error(Box<Error>),
}

impl Tok {
    /// How the token is shown in "unexpected ..." errors.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Text(s) => {
                let short: String = s.chars().take(10).collect();
                if short.len() < s.len() {
                    format!("{short:?}...")
                } else {
                    format!("{s:?}")
                }
            }
            Tok::Left => "\"{{\"".into(),
            Tok::Right => "\"}}\"".into(),
            Tok::Space => "space".into(),
            Tok::Dot => "\".\"".into(),
            Tok::Field(n) => format!("{:?}", format!(".{n}")),
            Tok::Var(n) | Tok::Ident(n) | Tok::Num(n) => format!("{n:?}"),
            Tok::Kw(k) => format!("<{}>", k.name()),
            Tok::Bool(b) => format!("\"{b}\""),
            Tok::Nil => "\"nil\"".into(),
            Tok::Str(s) => format!("{s:?}"),
            Tok::CharLit(c) => format!("character constant {c}"),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::Pipe => "\"|\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Declare => "\":=\"".into(),
            Tok::Assign => "\"=\"".into(),
            Tok::Other(c) => format!("{:?}", c.to_string()),
            Tok::Eof => "EOF".into(),
            Tok::Error(e) => e.to_string(),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
}

/// Tokenizes `src`. The result always ends with [`Tok::Eof`] or [`Tok::Error`].
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        pos: 0,
        toks: Vec::new(),
        trim_next: false,
    };
    lx.run();
    lx.toks
}

/// Go's notion of white space for trim markers and separators.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
    /// The previous action ended with ` -}}`: trim the next text's leading space.
    trim_next: bool,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.toks.push(Token { tok, pos });
    }

    fn fail(&mut self, err: Error) {
        let pos = err.pos().offset;
        self.push(Tok::Error(Box::new(err)), pos);
    }

    fn syntax(&mut self, at: usize, message: String) {
        let pos = Pos::locate(self.src, at);
        self.fail(Error::Syntax { pos, message });
    }

    /// A closing delimiter at the current position: `(trim, length)`.
    fn right_delim(&self) -> Option<(bool, usize)> {
        let b = self.rest().as_bytes();
        if b.len() >= 4 && is_space(b[0] as char) && b[1] == b'-' && &b[2..4] == b"}}" {
            Some((true, 4))
        } else if b.starts_with(b"}}") {
            Some((false, 2))
        } else {
            None
        }
    }

    fn run(&mut self) {
        loop {
            let start = self.pos;
            let (end, found) = match self.rest().find("{{") {
                Some(i) => (start + i, true),
                None => (self.src.len(), false),
            };
            let after = &self.src[end..];
            let left_trim = found && {
                let b = after.as_bytes();
                b.len() >= 4 && b[2] == b'-' && is_space(b[3] as char)
            };
            let mut text = &self.src[start..end];
            let mut text_start = start;
            if std::mem::take(&mut self.trim_next) {
                let trimmed = text.trim_start_matches(is_space);
                text_start += text.len() - trimmed.len();
                text = trimmed;
            }
            if left_trim {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                self.push(Tok::Text(text.to_string()), text_start);
            }
            if !found {
                self.push(Tok::Eof, self.src.len());
                return;
            }
            self.pos = end + if left_trim { 4 } else { 2 };
            if self.rest().starts_with("/*") {
                let Some(close) = self.rest()[2..].find("*/") else {
                    self.fail(Error::UnclosedComment {
                        pos: Pos::locate(self.src, end),
                    });
                    return;
                };
                self.pos += 2 + close + 2;
                match self.right_delim() {
                    Some((trim, len)) => {
                        self.pos += len;
                        self.trim_next = trim;
                        continue;
                    }
                    None => {
                        self.syntax(self.pos, "comment ends before closing delimiter".into());
                        return;
                    }
                }
            }
            self.push(Tok::Left, end);
            if !self.action(end) {
                return;
            }
        }
    }

    /// Lexes the inside of one action, up to and including its `}}`.
    /// Returns false when lexing must stop (error or end of input).
    fn action(&mut self, start: usize) -> bool {
        loop {
            if let Some((trim, len)) = self.right_delim() {
                self.push(Tok::Right, self.pos);
                self.pos += len;
                self.trim_next = trim;
                return true;
            }
            let p = self.pos;
            let Some(c) = self.rest().chars().next() else {
                self.fail(Error::UnclosedAction {
                    pos: Pos::locate(self.src, start),
                });
                return false;
            };
            let ok = match c {
                c if is_space(c) => {
                    let b = self.src.as_bytes();
                    let mut q = p;
                    while q < b.len() && is_space(b[q] as char) {
                        // Leave a space that begins a trim-marked closing delimiter.
                        if b.get(q + 1) == Some(&b'-') && self.src[q + 2..].starts_with("}}") {
                            break;
                        }
                        q += 1;
                    }
                    if q == p {
                        // Unreachable: right_delim would have matched.
                        q += 1;
                    }
                    self.push(Tok::Space, p);
                    self.pos = q;
                    true
                }
                '(' => self.single(Tok::LParen),
                ')' => self.single(Tok::RParen),
                '|' => self.single(Tok::Pipe),
                ',' => self.single(Tok::Comma),
                '=' => self.single(Tok::Assign),
                ':' => {
                    if self.rest().starts_with(":=") {
                        self.push(Tok::Declare, p);
                        self.pos += 2;
                        true
                    } else {
                        self.syntax(p, "expected :=".into());
                        false
                    }
                }
                '"' => self.quoted(),
                '`' => self.raw_quoted(),
                '\'' => self.char_constant(),
                '$' => {
                    let name_len = self.alnum_run(p + 1);
                    let name = self.src[p..p + 1 + name_len].to_string();
                    self.pos = p + 1 + name_len;
                    self.push(Tok::Var(name), p);
                    self.check_terminator()
                }
                '.' => {
                    let next = self.src[p + 1..].chars().next();
                    match next {
                        Some(d) if d.is_ascii_digit() => self.number(),
                        Some(a) if is_alnum(a) => {
                            let n = self.alnum_run(p + 1);
                            self.push(Tok::Field(self.src[p + 1..p + 1 + n].to_string()), p);
                            self.pos = p + 1 + n;
                            self.check_terminator()
                        }
                        _ => self.single(Tok::Dot),
                    }
                }
                '+' | '-' | '0'..='9' => self.number(),
                c if c.is_alphabetic() || c == '_' => {
                    let n = self.alnum_run(p);
                    let word = &self.src[p..p + n];
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => Kw::from_word(w).map_or_else(|| Tok::Ident(w.to_string()), Tok::Kw),
                    };
                    self.push(tok, p);
                    self.pos = p + n;
                    self.check_terminator()
                }
                c if c.is_ascii_graphic() => self.single(Tok::Other(c)),
                c => {
                    self.syntax(p, format!("unrecognized character in action: {c:?}"));
                    false
                }
            };
            if !ok {
                return false;
            }
        }
    }

    fn single(&mut self, tok: Tok) -> bool {
        let p = self.pos;
        self.push(tok, p);
        self.pos += 1;
        true
    }

    /// Length in bytes of the run of letters, digits and `_` starting at `from`.
    fn alnum_run(&self, from: usize) -> usize {
        self.src[from..]
            .char_indices()
            .find(|&(_, c)| !is_alnum(c))
            .map_or(self.src.len() - from, |(i, _)| i)
    }

    /// After a word, only a separator may follow.
    fn check_terminator(&mut self) -> bool {
        let rest = self.rest();
        match rest.chars().next() {
            None => true,
            Some(c) if is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '=') => true,
            Some(_) if rest.starts_with("}}") => true,
            Some(c) => {
                self.syntax(self.pos, format!("bad character {c:?}"));
                false
            }
        }
    }

    fn number(&mut self) -> bool {
        let p = self.pos;
        let b = self.src.as_bytes();
        let mut q = p;
        let accept = |q: &mut usize, set: &[u8]| -> bool {
            if *q < b.len() && set.contains(&b[*q]) {
                *q += 1;
                true
            } else {
                false
            }
        };
        let run = |q: &mut usize, set: &[u8]| {
            while *q < b.len() && set.contains(&b[*q]) {
                *q += 1;
            }
        };
        const DEC: &[u8] = b"0123456789_";
        const HEX: &[u8] = b"0123456789abcdefABCDEF_";
        accept(&mut q, b"+-");
        let mut digits = DEC;
        if accept(&mut q, b"0") {
            if accept(&mut q, b"xX") {
                digits = HEX;
            } else if accept(&mut q, b"oO") {
                digits = b"01234567_";
            } else if accept(&mut q, b"bB") {
                digits = b"01_";
            }
        }
        run(&mut q, digits);
        if accept(&mut q, b".") {
            run(&mut q, digits);
        }
        if digits == DEC && accept(&mut q, b"eE") {
            accept(&mut q, b"+-");
            run(&mut q, DEC);
        }
        if digits == HEX && accept(&mut q, b"pP") {
            accept(&mut q, b"+-");
            run(&mut q, DEC);
        }
        accept(&mut q, b"i");
        if let Some(c) = self.src[q..].chars().next() {
            if is_alnum(c) {
                let end = q + c.len_utf8();
                self.syntax(p, format!("bad number syntax: {:?}", &self.src[p..end]));
                return false;
            }
        }
        self.push(Tok::Num(self.src[p..q].to_string()), p);
        self.pos = q;
        true
    }

    /// Finds the closing `quote` of a quoted literal starting at the current
    /// position, honouring backslash escapes. Returns the end offset (after the quote).
    fn scan_quoted(&mut self, quote: char, what: &str) -> Option<usize> {
        let p = self.pos;
        let mut chars = self.src[p + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '\n')) | None => break,
                    Some(_) => {}
                },
                '\n' => break,
                c if c == quote => return Some(p + 1 + i + 1),
                _ => {}
            }
        }
        self.syntax(p, format!("unterminated {what}"));
        None
    }

    fn quoted(&mut self) -> bool {
        let p = self.pos;
        let Some(end) = self.scan_quoted('"', "quoted string") else {
            return false;
        };
        let raw = &self.src[p..end];
        match unescape(&raw[1..raw.len() - 1], '"') {
            Some(s) => {
                self.push(Tok::Str(s), p);
                self.pos = end;
                true
            }
            None => {
                self.syntax(p, format!("bad string syntax: {raw}"));
                false
            }
        }
    }

    fn raw_quoted(&mut self) -> bool {
        let p = self.pos;
        match self.src[p + 1..].find('`') {
            Some(i) => {
                let body = self.src[p + 1..p + 1 + i].replace('\r', "");
                self.push(Tok::Str(body), p);
                self.pos = p + 1 + i + 1;
                true
            }
            None => {
                self.syntax(p, "unterminated raw quoted string".into());
                false
            }
        }
    }

    fn char_constant(&mut self) -> bool {
        let p = self.pos;
        let Some(end) = self.scan_quoted('\'', "character constant") else {
            return false;
        };
        let raw = &self.src[p..end];
        let value = unescape(&raw[1..raw.len() - 1], '\'').and_then(|s| {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        });
        match value {
            Some(c) => {
                self.push(Tok::CharLit(i64::from(u32::from(c))), p);
                self.pos = end;
                true
            }
            None => {
                self.syntax(p, format!("malformed character constant: {raw}"));
                false
            }
        }
    }
}

/// Interprets Go escape sequences in the body of a quoted literal.
fn unescape(body: &str, quote: char) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    let mut buf = [0u8; 4];
    while let Some(c) = chars.next() {
        if c == quote || c == '\n' {
            return None;
        }
        if c != '\\' {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next()?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' if quote == '"' => Some(b'"'),
            '\'' if quote == '\'' => Some(b'\''),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let mut take = |n: usize, radix: u32| -> Option<u32> {
            let mut v = 0u32;
            for _ in 0..n {
                v = v * radix + chars.next()?.to_digit(radix)?;
            }
            Some(v)
        };
        match e {
            'x' => out.push(u8::try_from(take(2, 16)?).ok()?),
            '0'..='7' => {
                let rest = take(2, 8)?;
                let v = e.to_digit(8)? * 64 + rest;
                out.push(u8::try_from(v).ok()?);
            }
            'u' => out.extend_from_slice(
                char::from_u32(take(4, 16)?)?
                    .encode_utf8(&mut buf)
                    .as_bytes(),
            ),
            'U' => out.extend_from_slice(
                char::from_u32(take(8, 16)?)?
                    .encode_utf8(&mut buf)
                    .as_bytes(),
            ),
            _ => return None,
        }
    }
    Some(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn text_and_action() {
        assert_eq!(
            kinds("a {{.B}} c"),
            vec![
                Tok::Text("a ".into()),
                Tok::Left,
                Tok::Field("B".into()),
                Tok::Right,
                Tok::Text(" c".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn trim_markers() {
        assert_eq!(
            kinds("a \n{{- 3 -}}\n b"),
            vec![
                Tok::Text("a".into()),
                Tok::Left,
                Tok::Num("3".into()),
                Tok::Right,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
        // `{{-3}}` is the number -3, not a trim marker.
        assert_eq!(
            kinds("x {{-3}}"),
            vec![
                Tok::Text("x ".into()),
                Tok::Left,
                Tok::Num("-3".into()),
                Tok::Right,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            unescape(r"a\tb\x41\101\u00e9", '"').as_deref(),
            Some("a\tbAAé")
        );
        assert_eq!(unescape(r"\q", '"'), None);
        assert_eq!(kinds("{{'a'}}")[1], Tok::CharLit(97));
    }

    #[test]
    fn chain_and_vars() {
        assert_eq!(
            kinds("{{$x.A.B}}"),
            vec![
                Tok::Left,
                Tok::Var("$x".into()),
                Tok::Field("A".into()),
                Tok::Field("B".into()),
                Tok::Right,
                Tok::Eof
            ]
        );
    }
}
