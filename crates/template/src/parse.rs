//! Parser turning template tokens into a tree of nodes.
//!
//! Function names and variables are resolved here, as Go does, so an unknown
//! function or an undeclared variable is a parse error.

use serde_json::{Number, Value as Json};

use crate::error::{Error, Pos};
use crate::funcs::Func;
use crate::lex::{lex, Kw, Tok, Token};

/// How deeply blocks and parentheses may nest.
const MAX_DEPTH: usize = 100;

/// A node of the template tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipeline),
    If(Branch),
    With(Branch),
    Range(Branch),
    Break,
    Continue,
}

/// The pipeline, body and optional `{{else}}` body of `if`, `with` and `range`.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) pipe: Pipeline,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Option<Vec<Node>>,
}

/// `$x := cmd | cmd ...`
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(crate) pos: usize,
    pub(crate) decl: Vec<String>,
    pub(crate) is_assign: bool,
    pub(crate) cmds: Vec<Command>,
}

/// One stage of a pipeline: a function and its arguments, or a single operand.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) args: Vec<Arg>,
}

/// An operand and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub(crate) pos: usize,
    pub(crate) term: Term,
}

#[derive(Debug, Clone)]
pub(crate) enum Term {
    Dot,
    Nil,
    Lit(Json),
    /// `.A.B`
    Field(Vec<String>),
    /// `$x.A.B`
    Var(String, Vec<String>),
    Func(Func),
    /// `(pipeline).A.B`
    Pipe(Box<Pipeline>, Vec<String>),
}

impl Term {
    /// The operand as written, for error messages.
    pub(crate) fn describe(&self) -> String {
        let chain = |fields: &[String]| fields.iter().map(|f| format!(".{f}")).collect::<String>();
        match self {
            Term::Dot => ".".into(),
            Term::Nil => "nil".into(),
            Term::Lit(Json::String(s)) => format!("{s:?}"),
            Term::Lit(v) => v.to_string(),
            Term::Field(f) => chain(f),
            Term::Var(n, f) => format!("{n}{}", chain(f)),
            Term::Func(f) => f.name().into(),
            Term::Pipe(_, f) => format!("(...){}", chain(f)),
        }
    }
}

/// Parses a whole template.
pub(crate) fn parse(src: &str) -> Result<Vec<Node>, Error> {
    let mut p = Parser {
        src,
        toks: lex(src),
        idx: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        depth: 0,
    };
    let (list, stop) = p.item_list()?;
    match stop {
        Stop::Eof => Ok(list),
        Stop::End(pos) => Err(Error::UnexpectedKeyword {
            pos: p.at(pos),
            keyword: "end".into(),
        }),
        Stop::Else { pos, .. } => Err(Error::UnexpectedKeyword {
            pos: p.at(pos),
            keyword: "else".into(),
        }),
    }
}

/// Why a list of nodes ended.
enum Stop {
    Eof,
    End(usize),
    /// `{{else}}`, or `{{else if`/`{{else with` with the keyword consumed.
    Else {
        pos: usize,
        chain: Option<Kw>,
    },
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    idx: usize,
    /// Variables in scope, innermost last.
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
}

impl Parser<'_> {
    fn at(&self, offset: usize) -> Pos {
        Pos::locate(self.src, offset)
    }

    fn syntax(&self, offset: usize, message: impl Into<String>) -> Error {
        Error::Syntax {
            pos: self.at(offset),
            message: message.into(),
        }
    }

    fn unexpected(&self, t: &Token, context: &str) -> Error {
        Error::Unexpected {
            pos: self.at(t.pos),
            found: t.tok.describe(),
            context: context.into(),
        }
    }

    fn peek(&self) -> Result<Token, Error> {
        let t = self.toks.get(self.idx).or_else(|| self.toks.last());
        match t {
            Some(Token {
                tok: Tok::Error(e), ..
            }) => Err((**e).clone()),
            Some(t) => Ok(t.clone()),
            None => Ok(Token {
                tok: Tok::Eof,
                pos: self.src.len(),
            }),
        }
    }

    fn next(&mut self) -> Result<Token, Error> {
        let t = self.peek()?;
        if self.idx + 1 < self.toks.len() {
            self.idx += 1;
        }
        Ok(t)
    }

    fn skip_spaces(&mut self) {
        while matches!(
            self.toks.get(self.idx),
            Some(Token {
                tok: Tok::Space,
                ..
            })
        ) {
            self.idx += 1;
        }
    }

    fn peek_non_space(&mut self) -> Result<Token, Error> {
        self.skip_spaces();
        self.peek()
    }

    fn next_non_space(&mut self) -> Result<Token, Error> {
        self.skip_spaces();
        self.next()
    }

    fn expect_right(&mut self, context: &str) -> Result<(), Error> {
        let t = self.next_non_space()?;
        if t.tok == Tok::Right {
            Ok(())
        } else {
            Err(self.unexpected(&t, context))
        }
    }

    fn enter(&mut self, pos: usize) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.syntax(pos, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// Parses text and actions until `{{end}}`, `{{else}}` or the end of input.
    fn item_list(&mut self) -> Result<(Vec<Node>, Stop), Error> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next()?;
            match t.tok {
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Eof => return Ok((nodes, Stop::Eof)),
                Tok::Left => {
                    let k = self.peek_non_space()?;
                    let Tok::Kw(kw) = k.tok else {
                        nodes.push(Node::Action(self.pipeline("command", false)?));
                        continue;
                    };
                    self.next()?;
                    match kw {
                        Kw::End => {
                            self.expect_right("end")?;
                            return Ok((nodes, Stop::End(k.pos)));
                        }
                        Kw::Else => {
                            let n = self.peek_non_space()?;
                            let chain = match n.tok {
                                Tok::Kw(c @ (Kw::If | Kw::With)) => {
                                    self.next()?;
                                    Some(c)
                                }
                                _ => {
                                    self.expect_right("else")?;
                                    None
                                }
                            };
                            let pos = if chain.is_some() { n.pos } else { k.pos };
                            return Ok((nodes, Stop::Else { pos, chain }));
                        }
                        Kw::If => nodes.push(Node::If(self.control(Kw::If, k.pos)?)),
                        Kw::With => nodes.push(Node::With(self.control(Kw::With, k.pos)?)),
                        Kw::Range => nodes.push(Node::Range(self.control(Kw::Range, k.pos)?)),
                        Kw::Break | Kw::Continue => {
                            if self.range_depth == 0 {
                                return Err(self.syntax(
                                    k.pos,
                                    format!("{{{{{}}}}} outside {{{{range}}}}", kw.name()),
                                ));
                            }
                            self.expect_right(kw.name())?;
                            nodes.push(if kw == Kw::Break {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        Kw::Define | Kw::Template | Kw::Block => {
                            return Err(Error::Unsupported {
                                pos: self.at(k.pos),
                                feature: format!("{{{{{}}}}}", kw.name()),
                            });
                        }
                    }
                }
                _ => return Err(self.unexpected(&t, "input")),
            }
        }
    }

    /// Parses `if`, `with` or `range` after its keyword, through its `{{end}}`.
    fn control(&mut self, kw: Kw, pos: usize) -> Result<Branch, Error> {
        self.enter(pos)?;
        let mark = self.vars.len();
        let ctx = kw.name();
        let pipe = self.pipeline(ctx, false)?;
        if kw == Kw::Range {
            self.range_depth += 1;
        }
        let (list, stop) = self.item_list()?;
        if kw == Kw::Range {
            self.range_depth -= 1;
        }
        let unclosed = |p: &Self| Error::UnclosedBlock {
            pos: p.at(pos),
            keyword: ctx.into(),
        };
        let else_list = match stop {
            Stop::End(_) => None,
            Stop::Eof => return Err(unclosed(self)),
            Stop::Else { chain: None, .. } => {
                let (l, s) = self.item_list()?;
                match s {
                    Stop::End(_) => Some(l),
                    Stop::Eof => return Err(unclosed(self)),
                    Stop::Else { pos: p, .. } => {
                        return Err(self.syntax(p, "expected {{end}}; found {{else}}"));
                    }
                }
            }
            Stop::Else {
                chain: Some(c),
                pos: p,
            } if c == kw => {
                let inner = self.control(c, p)?;
                Some(vec![if c == Kw::If {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                }])
            }
            Stop::Else {
                chain: Some(c),
                pos: p,
            } => {
                return Err(Error::Unexpected {
                    pos: self.at(p),
                    found: format!("<{}>", c.name()),
                    context: "else".into(),
                });
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    /// Parses a pipeline through its closing `}}` (or `)` when `paren`).
    fn pipeline(&mut self, ctx: &str, paren: bool) -> Result<Pipeline, Error> {
        let start = self.peek_non_space()?;
        let pos = start.pos;
        let mut decl = Vec::new();
        let mut is_assign = false;
        if let Tok::Var(name) = &start.tok {
            let save = self.idx;
            self.next()?;
            let after = self.peek_non_space()?;
            match after.tok {
                Tok::Declare | Tok::Assign => {
                    self.next()?;
                    is_assign = after.tok == Tok::Assign;
                    decl.push(name.clone());
                }
                Tok::Comma if ctx == "range" => {
                    self.next()?;
                    let second = self.next_non_space()?;
                    let Tok::Var(second_name) = second.tok else {
                        return Err(self.syntax(second.pos, "range can only initialize variables"));
                    };
                    let op = self.next_non_space()?;
                    match op.tok {
                        Tok::Declare => {}
                        Tok::Assign => is_assign = true,
                        _ => return Err(self.unexpected(&op, "range declaration")),
                    }
                    decl = vec![name.clone(), second_name];
                }
                Tok::Comma => {
                    return Err(self.syntax(after.pos, format!("too many declarations in {ctx}")))
                }
                _ => self.idx = save,
            }
            if is_assign {
                if let Some(missing) = decl.iter().find(|d| !self.vars.contains(d)) {
                    return Err(Error::UndefinedVariable {
                        pos: self.at(pos),
                        name: missing.clone(),
                    });
                }
            }
        }
        let mut cmds = Vec::new();
        let mut after_pipe = false;
        let end = loop {
            let save = self.idx;
            let t = self.next_non_space()?;
            match &t.tok {
                Tok::Right if !paren => break t.pos,
                Tok::RParen if paren => break t.pos,
                Tok::Bool(_)
                | Tok::CharLit(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Num(_)
                | Tok::Nil
                | Tok::Str(_)
                | Tok::Var(_)
                | Tok::LParen => {
                    self.idx = save;
                    let (cmd, piped) = self.command()?;
                    cmds.push(cmd);
                    after_pipe = piped;
                }
                _ => return Err(self.unexpected(&t, ctx)),
            }
        };
        if after_pipe {
            return Err(self.syntax(end, "missing command after |"));
        }
        if cmds.is_empty() {
            return Err(Error::MissingValue {
                pos: self.at(pos),
                context: ctx.into(),
            });
        }
        for (i, c) in cmds.iter().enumerate().skip(1) {
            if let Some(first) = c.args.first() {
                if matches!(first.term, Term::Dot | Term::Nil | Term::Lit(_)) {
                    return Err(self.syntax(
                        first.pos,
                        format!("non executable command in pipeline stage {}", i + 1),
                    ));
                }
            }
        }
        if !is_assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipeline {
            pos,
            decl,
            is_assign,
            cmds,
        })
    }

    /// Parses one command; the bool is true when it ended at a `|`.
    fn command(&mut self) -> Result<(Command, bool), Error> {
        let mut args = Vec::new();
        let start = self.peek_non_space()?.pos;
        let piped = loop {
            self.skip_spaces();
            if let Some(a) = self.operand()? {
                args.push(a);
            }
            let save = self.idx;
            let t = self.next()?;
            match t.tok {
                Tok::Space => continue,
                Tok::Right | Tok::RParen => {
                    self.idx = save;
                    break false;
                }
                Tok::Pipe => break true,
                _ => return Err(self.unexpected(&t, "operand")),
            }
        };
        if args.is_empty() {
            return Err(self.syntax(start, "empty command"));
        }
        Ok((Command { args }, piped))
    }

    /// A term followed by any `.Field` chain written right after it.
    fn operand(&mut self) -> Result<Option<Arg>, Error> {
        let Some(arg) = self.term()? else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        while let Some(Token {
            tok: Tok::Field(name),
            ..
        }) = self.toks.get(self.idx)
        {
            fields.push(name.clone());
            self.idx += 1;
        }
        if fields.is_empty() {
            return Ok(Some(arg));
        }
        let term = match arg.term {
            Term::Field(mut f) => {
                f.extend(fields);
                Term::Field(f)
            }
            Term::Var(n, mut f) => {
                f.extend(fields);
                Term::Var(n, f)
            }
            Term::Pipe(p, mut f) => {
                f.extend(fields);
                Term::Pipe(p, f)
            }
            Term::Func(func) => {
                let call = Command {
                    args: vec![Arg {
                        pos: arg.pos,
                        term: Term::Func(func),
                    }],
                };
                let pipe = Pipeline {
                    pos: arg.pos,
                    decl: Vec::new(),
                    is_assign: false,
                    cmds: vec![call],
                };
                Term::Pipe(Box::new(pipe), fields)
            }
            other => {
                return Err(self.syntax(
                    arg.pos,
                    format!("unexpected . after term {:?}", other.describe()),
                ));
            }
        };
        Ok(Some(Arg { pos: arg.pos, term }))
    }

    fn term(&mut self) -> Result<Option<Arg>, Error> {
        let save = self.idx;
        let t = self.next_non_space()?;
        let term = match t.tok {
            Tok::Ident(name) => match Func::lookup(&name) {
                Some(f) => Term::Func(f),
                None => {
                    return Err(Error::UndefinedFunction {
                        pos: self.at(t.pos),
                        name,
                    })
                }
            },
            Tok::Dot => Term::Dot,
            Tok::Nil => Term::Nil,
            Tok::Bool(b) => Term::Lit(Json::Bool(b)),
            Tok::Field(n) => Term::Field(vec![n]),
            Tok::Var(n) => {
                if !self.vars.contains(&n) {
                    return Err(Error::UndefinedVariable {
                        pos: self.at(t.pos),
                        name: n,
                    });
                }
                Term::Var(n, Vec::new())
            }
            Tok::Num(text) => {
                if text.ends_with('i') {
                    return Err(Error::Unsupported {
                        pos: self.at(t.pos),
                        feature: "complex number".into(),
                    });
                }
                match parse_number(&text) {
                    Some(n) => Term::Lit(Json::Number(n)),
                    None => {
                        return Err(self.syntax(t.pos, format!("illegal number syntax: {text:?}")))
                    }
                }
            }
            Tok::CharLit(c) => Term::Lit(Json::from(c)),
            Tok::Str(s) => Term::Lit(Json::String(s)),
            Tok::LParen => {
                self.enter(t.pos)?;
                let p = self.pipeline("parenthesized pipeline", true)?;
                self.depth -= 1;
                Term::Pipe(Box::new(p), Vec::new())
            }
            _ => {
                self.idx = save;
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos: t.pos, term }))
    }
}

/// Parses a Go number literal: an integer (decimal, `0x`, `0o`, `0b`, or
/// leading-`0` octal) when it is one, a float64 otherwise.
fn parse_number(text: &str) -> Option<Number> {
    let t: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let prefixed = |p: &str| lower.strip_prefix(p).map(str::to_string);
    let int = if let Some(d) = prefixed("0x") {
        Some((16, d))
    } else if let Some(d) = prefixed("0o") {
        Some((8, d))
    } else if let Some(d) = prefixed("0b") {
        Some((2, d))
    } else if lower.bytes().all(|b| b.is_ascii_digit()) {
        if lower.len() > 1 && lower.starts_with('0') {
            Some((8, lower[1..].to_string()))
        } else {
            Some((10, lower.clone()))
        }
    } else {
        None
    };
    if let Some((radix, digits)) = int {
        if let Ok(v) = u128::from_str_radix(&digits, radix) {
            let v = i128::try_from(v).ok()?;
            let v = if neg { -v } else { v };
            if let Ok(i) = i64::try_from(v) {
                return Some(Number::from(i));
            }
            if let Ok(u) = u64::try_from(v) {
                return Some(Number::from(u));
            }
        }
        if radix == 16 || radix == 2 {
            return None;
        }
    }
    if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
        return None;
    }
    let f: f64 = body.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    let f = if neg { -f } else { f };
    let looks_float = body.contains(['.', 'e', 'E']);
    if !looks_float && f.fract() == 0.0 && f.abs() < 9.0e15 {
        // Such as "08": not valid octal, but a whole number.
        return Some(Number::from(f as i64));
    }
    Number::from_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("42"), Some(Number::from(42)));
        assert_eq!(parse_number("-42"), Some(Number::from(-42)));
        assert_eq!(parse_number("0x1F"), Some(Number::from(31)));
        assert_eq!(parse_number("017"), Some(Number::from(15)));
        assert_eq!(parse_number("0b101"), Some(Number::from(5)));
        assert_eq!(parse_number("1_000"), Some(Number::from(1000)));
        assert_eq!(parse_number("08"), Some(Number::from(8)));
        assert_eq!(parse_number("1.5"), Number::from_f64(1.5));
        assert_eq!(parse_number("1e3"), Number::from_f64(1000.0));
        assert_eq!(parse_number(".5"), Number::from_f64(0.5));
        assert_eq!(
            parse_number("18446744073709551615"),
            Some(Number::from(u64::MAX))
        );
        assert_eq!(parse_number("-"), None);
        assert_eq!(parse_number("0x"), None);
    }
}
