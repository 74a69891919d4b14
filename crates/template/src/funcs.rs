//! Template functions: Go's text/template builtins and docker's additions.
//!
//! `and` and `or` evaluate their arguments lazily, so the executor handles
//! them; everything else is a plain function of evaluated JSON arguments.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value as Json};

use crate::gofmt::{self, int_of, type_name};
use crate::json;

/// A function callable from a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Json,
    Join,
    Split,
    Title,
    Lower,
    Upper,
    Pad,
    Truncate,
}

const FUNCS: &[(&str, Func)] = &[
    ("and", Func::And),
    ("or", Func::Or),
    ("not", Func::Not),
    ("len", Func::Len),
    ("index", Func::Index),
    ("slice", Func::Slice),
    ("print", Func::Print),
    ("printf", Func::Printf),
    ("println", Func::Println),
    ("eq", Func::Eq),
    ("ne", Func::Ne),
    ("lt", Func::Lt),
    ("le", Func::Le),
    ("gt", Func::Gt),
    ("ge", Func::Ge),
    ("json", Func::Json),
    ("join", Func::Join),
    ("split", Func::Split),
    ("title", Func::Title),
    ("lower", Func::Lower),
    ("upper", Func::Upper),
    ("pad", Func::Pad),
    ("truncate", Func::Truncate),
];

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arity {
    Exact(usize),
    AtLeast(usize),
    Any,
}

impl Arity {
    /// The accepted count as text, when `got` is not accepted.
    pub(crate) fn mismatch(self, got: usize) -> Option<String> {
        match self {
            Arity::Exact(n) if got != n => Some(n.to_string()),
            Arity::AtLeast(n) if got < n => Some(format!("at least {n}")),
            _ => None,
        }
    }
}

impl Func {
    pub(crate) fn lookup(name: &str) -> Option<Func> {
        FUNCS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub(crate) fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    pub(crate) fn arity(self) -> Arity {
        match self {
            Func::And | Func::Or | Func::Index | Func::Slice | Func::Printf | Func::Eq => {
                Arity::AtLeast(1)
            }
            Func::Print | Func::Println => Arity::Any,
            Func::Not | Func::Len | Func::Json | Func::Title | Func::Lower | Func::Upper => {
                Arity::Exact(1)
            }
            Func::Ne
            | Func::Lt
            | Func::Le
            | Func::Gt
            | Func::Ge
            | Func::Join
            | Func::Split
            | Func::Truncate => Arity::Exact(2),
            Func::Pad => Arity::Exact(3),
        }
    }
}

/// Why a function call failed.
#[derive(Debug)]
pub(crate) enum FnError {
    /// Argument `index` (from 1) has the wrong type.
    WrongType {
        index: usize,
        expected: &'static str,
        got: &'static str,
    },
    Msg(String),
}

fn msg(s: impl Into<String>) -> FnError {
    FnError::Msg(s.into())
}

/// Go's truth: false, 0, nil and empty strings, arrays and objects are false.
pub(crate) fn truth(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => match int_of(n) {
            Some(i) => i != 0,
            None => n.as_f64().is_some_and(|f| f != 0.0),
        },
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(m) => !m.is_empty(),
    }
}

static NULL: Json = Json::Null;

fn arg<'a>(args: &'a [Cow<'_, Json>], i: usize) -> &'a Json {
    args.get(i).map_or(&NULL, |c| c.as_ref())
}

fn str_arg<'a>(args: &'a [Cow<'_, Json>], i: usize) -> Result<&'a str, FnError> {
    match arg(args, i) {
        Json::String(s) => Ok(s),
        other => Err(FnError::WrongType {
            index: i + 1,
            expected: "string",
            got: type_name(other),
        }),
    }
}

/// An integral number, also when written as a float such as `2.0`.
fn as_int(v: &Json) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = int_of(n) {
        return i64::try_from(i).ok();
    }
    let f = n.as_f64()?;
    #[allow(clippy::cast_possible_truncation)]
    let i = f as i64;
    (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(i)
}

fn int_arg(args: &[Cow<'_, Json>], i: usize) -> Result<i64, FnError> {
    let v = arg(args, i);
    as_int(v).ok_or(FnError::WrongType {
        index: i + 1,
        expected: "int",
        got: type_name(v),
    })
}

/// Calls `f` on evaluated arguments (the arity is already checked).
pub(crate) fn call(f: Func, args: &[Cow<'_, Json>]) -> Result<Json, FnError> {
    let refs = || args.iter().map(AsRef::as_ref).collect::<Vec<&Json>>();
    Ok(match f {
        Func::And => args
            .iter()
            .find(|a| !truth(a))
            .or(args.last())
            .map_or(Json::Null, |a| a.as_ref().clone()),
        Func::Or => args
            .iter()
            .find(|a| truth(a))
            .or(args.last())
            .map_or(Json::Null, |a| a.as_ref().clone()),
        Func::Not => Json::Bool(!truth(arg(args, 0))),
        Func::Len => Json::from(len(arg(args, 0))?),
        Func::Index => index(arg(args, 0), args.get(1..).unwrap_or_default())?,
        Func::Slice => slice(arg(args, 0), args.get(1..).unwrap_or_default())?,
        Func::Print => Json::String(gofmt::sprint(&refs())),
        Func::Println => Json::String(gofmt::sprintln(&refs())),
        Func::Printf => {
            let format = str_arg(args, 0)?;
            Json::String(gofmt::sprintf(format, refs().get(1..).unwrap_or_default()))
        }
        Func::Eq => Json::Bool(eq(args)?),
        Func::Ne => Json::Bool(!eq(args)?),
        Func::Lt => Json::Bool(order(arg(args, 0), arg(args, 1))? == Ordering::Less),
        Func::Le => Json::Bool(order(arg(args, 0), arg(args, 1))? != Ordering::Greater),
        Func::Gt => Json::Bool(order(arg(args, 0), arg(args, 1))? == Ordering::Greater),
        Func::Ge => Json::Bool(order(arg(args, 0), arg(args, 1))? != Ordering::Less),
        Func::Json => Json::String(json::encode(arg(args, 0))),
        Func::Join => Json::String(join(args)?),
        Func::Split => split(str_arg(args, 0)?, str_arg(args, 1)?),
        Func::Title => Json::String(title(str_arg(args, 0)?)),
        Func::Lower => Json::String(
            str_arg(args, 0)?
                .chars()
                .flat_map(char::to_lowercase)
                .collect(),
        ),
        Func::Upper => Json::String(
            str_arg(args, 0)?
                .chars()
                .flat_map(char::to_uppercase)
                .collect(),
        ),
        Func::Pad => Json::String(pad(
            str_arg(args, 0)?,
            int_arg(args, 1)?,
            int_arg(args, 2)?,
        )?),
        Func::Truncate => Json::String(truncate(str_arg(args, 0)?, int_arg(args, 1)?)?),
    })
}

fn len(v: &Json) -> Result<usize, FnError> {
    match v {
        Json::String(s) => Ok(s.len()),
        Json::Array(a) => Ok(a.len()),
        Json::Object(m) => Ok(m.len()),
        Json::Null => Ok(0),
        other => Err(msg(format!("len of type {}", type_name(other)))),
    }
}

/// An index that must be below `limit`.
fn position(i: &Json, limit: usize) -> Result<usize, FnError> {
    let Some(x) = as_int(i) else {
        return Err(msg(format!(
            "cannot index slice/array with type {}",
            type_name(i)
        )));
    };
    match usize::try_from(x) {
        Ok(u) if u < limit => Ok(u),
        _ => Err(msg(format!("index out of range: {x}"))),
    }
}

fn index(item: &Json, idx: &[Cow<'_, Json>]) -> Result<Json, FnError> {
    let mut cur = item;
    for (n, i) in idx.iter().enumerate() {
        let i: &Json = i;
        match cur {
            Json::Array(a) => {
                let k = position(i, a.len())?;
                match a.get(k) {
                    Some(v) => cur = v,
                    None => return Err(msg(format!("index out of range: {k}"))),
                }
            }
            Json::Object(m) => match i {
                Json::String(k) => match m.get(k) {
                    Some(v) => cur = v,
                    None => return Ok(Json::Null),
                },
                other => {
                    return Err(msg(format!(
                        "value has type {}; should be string",
                        type_name(other)
                    )))
                }
            },
            Json::String(s) => {
                let k = position(i, s.len())?;
                if n + 1 < idx.len() {
                    return Err(msg("can't index item of type uint8"));
                }
                return Ok(Json::from(s.as_bytes().get(k).copied().unwrap_or(0)));
            }
            Json::Null => return Ok(Json::Null),
            other => {
                return Err(msg(format!(
                    "can't index item of type {}",
                    type_name(other)
                )))
            }
        }
    }
    Ok(cur.clone())
}

fn slice(item: &Json, idx: &[Cow<'_, Json>]) -> Result<Json, FnError> {
    if idx.len() > 3 {
        return Err(msg(format!("too many slice indexes: {}", idx.len())));
    }
    let len = match item {
        Json::String(_) if idx.len() == 3 => return Err(msg("cannot 3-index slice a string")),
        Json::String(s) => s.len(),
        Json::Array(a) => a.len(),
        Json::Null => return Ok(Json::Null),
        other => {
            return Err(msg(format!(
                "can't slice item of type {}",
                type_name(other)
            )))
        }
    };
    let mut ix = [0, len, len];
    for (n, v) in idx.iter().enumerate() {
        ix[n] = position(v, len + 1)?;
    }
    if ix[0] > ix[1] {
        return Err(msg(format!("invalid slice index: {} > {}", ix[0], ix[1])));
    }
    if idx.len() == 3 && ix[1] > ix[2] {
        return Err(msg(format!("invalid slice index: {} > {}", ix[1], ix[2])));
    }
    Ok(match item {
        Json::String(s) => {
            Json::String(String::from_utf8_lossy(&s.as_bytes()[ix[0]..ix[1]]).into_owned())
        }
        Json::Array(a) => Json::Array(a[ix[0]..ix[1]].to_vec()),
        _ => Json::Null,
    })
}

fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    match (int_of(a), int_of(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn comparable(v: &Json) -> bool {
    !matches!(v, Json::Array(_) | Json::Object(_))
}

/// `eq a b c...`: whether `a` equals any of the others.
fn eq(args: &[Cow<'_, Json>]) -> Result<bool, FnError> {
    let a = arg(args, 0);
    if args.len() < 2 {
        return Err(msg("missing argument for comparison"));
    }
    if !comparable(a) {
        return Err(msg("invalid type for comparison"));
    }
    for b in &args[1..] {
        let b: &Json = b;
        if !comparable(b) {
            return Err(msg("invalid type for comparison"));
        }
        let same = match (a, b) {
            (Json::Null, Json::Null) => true,
            (Json::Null, _) | (_, Json::Null) => false,
            (Json::Bool(x), Json::Bool(y)) => x == y,
            (Json::Number(x), Json::Number(y)) => num_cmp(x, y) == Some(Ordering::Equal),
            (Json::String(x), Json::String(y)) => x == y,
            _ => return Err(msg("incompatible types for comparison")),
        };
        if same {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ordering for `lt`, `le`, `gt`, `ge`: numbers with numbers, strings with strings.
fn order(a: &Json, b: &Json) -> Result<Ordering, FnError> {
    let orderable = |v: &Json| matches!(v, Json::Number(_) | Json::String(_));
    if !orderable(a) || !orderable(b) {
        return Err(msg("invalid type for comparison"));
    }
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            num_cmp(x, y).ok_or_else(|| msg("invalid type for comparison"))
        }
        (Json::String(x), Json::String(y)) => Ok(x.cmp(y)),
        _ => Err(msg("incompatible types for comparison")),
    }
}

fn join(args: &[Cow<'_, Json>]) -> Result<String, FnError> {
    let sep = str_arg(args, 1)?;
    match arg(args, 0) {
        Json::Array(a) => {
            let parts: Vec<String> = a
                .iter()
                .map(|e| match e {
                    Json::String(s) => s.clone(),
                    other => gofmt::to_v(other),
                })
                .collect();
            Ok(parts.join(sep))
        }
        Json::Null => Ok(String::new()),
        other => Err(FnError::WrongType {
            index: 1,
            expected: "[]string",
            got: type_name(other),
        }),
    }
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn split(s: &str, sep: &str) -> Json {
    if sep.is_empty() {
        return Json::Array(s.chars().map(|c| Json::String(c.to_string())).collect());
    }
    Json::Array(s.split(sep).map(|p| Json::String(p.to_string())).collect())
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// The largest padding `pad` accepts.
const MAX_PAD: i64 = 1 << 20;

/// docker's `pad`: spaces before and after a non-empty string.
fn pad(s: &str, left: i64, right: i64) -> Result<String, FnError> {
    if s.is_empty() {
        return Ok(String::new());
    }
    let count = |n: i64| -> Result<usize, FnError> {
        if n < 0 {
            return Err(msg("strings: negative Repeat count"));
        }
        if n > MAX_PAD {
            return Err(msg(format!("padding {n} is too large")));
        }
        usize::try_from(n).map_err(|_| msg("padding is too large"))
    };
    let (l, r) = (count(left)?, count(right)?);
    Ok(format!("{}{s}{}", " ".repeat(l), " ".repeat(r)))
}

/// docker's `truncate`: the first `n` characters.
fn truncate(s: &str, n: i64) -> Result<String, FnError> {
    let n = usize::try_from(n).map_err(|_| msg(format!("slice bounds out of range [:{n}]")))?;
    Ok(s.chars().take(n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_like_go() {
        assert_eq!(title("hello wORLD foo_bar a-b"), "Hello WORLD Foo_bar A-B");
        assert_eq!(title("élan vital"), "Élan Vital");
    }

    #[test]
    fn names_round_trip() {
        for (name, f) in FUNCS {
            assert_eq!(Func::lookup(name), Some(*f));
            assert_eq!(f.name(), *name);
        }
    }
}
