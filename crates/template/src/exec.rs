//! Evaluates a parsed template against JSON data.
//!
//! Values are borrowed from the data (or the template's literals) where
//! possible. A value is either a JSON value or "missing" — Go's invalid
//! value, which a missing object key produces and which prints as
//! `<no value>`.

use std::borrow::Cow;

use serde_json::Value as Json;

use crate::error::{Error, Pos};
use crate::funcs::{self, FnError, Func};
use crate::gofmt;
use crate::parse::{Arg, Branch, Command, Node, Pipeline, Term};

/// A value during execution.
#[derive(Debug, Clone)]
enum Val<'a> {
    /// No value at all (a missing object key, or nil data).
    Missing,
    Json(Cow<'a, Json>),
}

impl<'a> Val<'a> {
    fn owned(j: Json) -> Self {
        Val::Json(Cow::Owned(j))
    }

    fn truth(&self) -> bool {
        match self {
            Val::Missing => false,
            Val::Json(j) => funcs::truth(j),
        }
    }

    /// The value as a function argument: missing becomes `null`.
    fn into_arg(self) -> Cow<'a, Json> {
        match self {
            Val::Missing => Cow::Owned(Json::Null),
            Val::Json(j) => j,
        }
    }
}

/// How a list of nodes finished.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The most a template may print: far past any table or inspect output.
pub(crate) const MAX_OUTPUT: usize = 64 << 20;
/// The most nodes one execution may visit: nested `range`s over the same
/// data multiply, and `{{range $}}` eight deep would otherwise run for
/// hours or print gigabytes.
pub(crate) const MAX_STEPS: u64 = 10_000_000;

/// Runs `nodes` with `data` as dot and `$`.
pub(crate) fn execute<'a>(
    src: &'a str,
    nodes: &'a [Node],
    data: &'a Json,
) -> Result<String, Error> {
    execute_within(src, nodes, data, MAX_STEPS, MAX_OUTPUT)
}

/// [`execute`] with other limits (the tests' small ones).
fn execute_within<'a>(
    src: &'a str,
    nodes: &'a [Node],
    data: &'a Json,
    max_steps: u64,
    max_output: usize,
) -> Result<String, Error> {
    let root = if data.is_null() {
        Val::Missing
    } else {
        Val::Json(Cow::Borrowed(data))
    };
    let mut st = State {
        src,
        out: String::new(),
        vars: vec![("$".to_string(), root.clone())],
        steps: 0,
        max_steps,
        max_output,
    };
    st.walk(&root, nodes)?;
    Ok(st.out)
}

struct State<'a> {
    src: &'a str,
    out: String,
    /// Variables in scope, innermost last.
    vars: Vec<(String, Val<'a>)>,
    /// Nodes visited so far, and the limits (see [`MAX_STEPS`]).
    steps: u64,
    max_steps: u64,
    max_output: usize,
}

impl<'a> State<'a> {
    fn at(&self, offset: usize) -> Pos {
        Pos::locate(self.src, offset)
    }

    fn walk(&mut self, dot: &Val<'a>, nodes: &'a [Node]) -> Result<Flow, Error> {
        for node in nodes {
            self.steps += 1;
            if self.steps > self.max_steps || self.out.len() > self.max_output {
                return Err(Error::Exec {
                    pos: self.at(0),
                    message: format!(
                        "the template does too much (more than {} steps or {} bytes of output)",
                        self.max_steps, self.max_output
                    ),
                });
            }
            let flow = match node {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(p) => {
                    let v = self.pipeline(dot, p)?;
                    if p.decl.is_empty() {
                        self.print(&v);
                    }
                    Flow::Normal
                }
                Node::If(b) => self.walk_if(dot, b, false)?,
                Node::With(b) => self.walk_if(dot, b, true)?,
                Node::Range(b) => self.walk_range(dot, b)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, v: &Val<'a>) {
        match v {
            Val::Missing => self.out.push_str("<no value>"),
            Val::Json(j) if j.is_null() => self.out.push_str("<no value>"),
            Val::Json(j) => gofmt::write_v(&mut self.out, j),
        }
    }

    fn walk_if(&mut self, dot: &Val<'a>, b: &'a Branch, with: bool) -> Result<Flow, Error> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &b.pipe)?;
        let flow = if v.truth() {
            if with {
                self.walk(&v, &b.list)?
            } else {
                self.walk(dot, &b.list)?
            }
        } else if let Some(e) = &b.else_list {
            self.walk(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Val<'a>, b: &'a Branch) -> Result<Flow, Error> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &b.pipe)?;
        let top = self.vars.len();
        let items = self.range_items(v, &b.pipe)?;
        let mut flow = Flow::Normal;
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                flow = self.walk(dot, e)?;
            }
        } else {
            for i in 0..items.len() {
                let (key, elem) = items.get(i);
                self.set_range_vars(&b.pipe, top, key, elem.clone())?;
                let inner = self.vars.len();
                let f = self.walk(&elem, &b.list)?;
                self.vars.truncate(inner);
                if matches!(f, Flow::Break) {
                    break;
                }
            }
        }
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn range_items(&self, v: Val<'a>, pipe: &Pipeline) -> Result<Items<'a>, Error> {
        let j = match v {
            Val::Missing => return Ok(Items::Arr(Vec::new())),
            Val::Json(j) => j,
        };
        let items = match j {
            Cow::Borrowed(Json::Null) => Items::Arr(Vec::new()),
            Cow::Borrowed(Json::Array(a)) => Items::Arr(a.iter().map(Cow::Borrowed).collect()),
            Cow::Borrowed(Json::Object(m)) => {
                let mut e: Vec<_> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), Cow::Borrowed(v)))
                    .collect();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                Items::Obj(e)
            }
            Cow::Owned(Json::Null) => Items::Arr(Vec::new()),
            Cow::Owned(Json::Array(a)) => Items::Arr(a.into_iter().map(Cow::Owned).collect()),
            Cow::Owned(Json::Object(m)) => {
                let mut e: Vec<_> = m.into_iter().map(|(k, v)| (k, Cow::Owned(v))).collect();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                Items::Obj(e)
            }
            other => {
                let n = other
                    .as_number()
                    .and_then(gofmt::int_of)
                    .and_then(|i| i64::try_from(i).ok());
                match n {
                    Some(_) if pipe.decl.len() > 1 => {
                        return Err(Error::Exec {
                            pos: self.at(pipe.pos),
                            message: format!(
                                "can't use {} to iterate over more than one variable",
                                gofmt::to_v(&other)
                            ),
                        });
                    }
                    Some(n) => Items::Int(n.max(0)),
                    None => {
                        return Err(Error::RangeOver {
                            pos: self.at(pipe.pos),
                            value: gofmt::to_v(&other),
                        })
                    }
                }
            }
        };
        Ok(items)
    }

    fn set_range_vars(
        &mut self,
        pipe: &Pipeline,
        top: usize,
        key: Json,
        elem: Val<'a>,
    ) -> Result<(), Error> {
        let key = Val::owned(key);
        if pipe.is_assign {
            match pipe.decl.as_slice() {
                [e] => self.set_var(pipe.pos, e, elem)?,
                [k, e] => {
                    self.set_var(pipe.pos, k, key)?;
                    self.set_var(pipe.pos, e, elem)?;
                }
                _ => {}
            }
            return Ok(());
        }
        match pipe.decl.len() {
            1 => {
                if let Some(slot) = top.checked_sub(1).and_then(|i| self.vars.get_mut(i)) {
                    slot.1 = elem;
                }
            }
            2 => {
                if let Some(slot) = top.checked_sub(2).and_then(|i| self.vars.get_mut(i)) {
                    slot.1 = key;
                }
                if let Some(slot) = top.checked_sub(1).and_then(|i| self.vars.get_mut(i)) {
                    slot.1 = elem;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn set_var(&mut self, pos: usize, name: &str, v: Val<'a>) -> Result<(), Error> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(Error::UndefinedVariable {
                pos: self.at(pos),
                name: name.to_string(),
            }),
        }
    }

    fn var(&self, pos: usize, name: &str) -> Result<Val<'a>, Error> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(Error::UndefinedVariable {
                pos: self.at(pos),
                name: name.to_string(),
            }),
        }
    }

    fn pipeline(&mut self, dot: &Val<'a>, p: &'a Pipeline) -> Result<Val<'a>, Error> {
        let mut value: Option<Val<'a>> = None;
        for cmd in &p.cmds {
            value = Some(self.command(dot, cmd, value.take())?);
        }
        // Like Go, a nil interface result becomes "no value".
        let value = match value {
            Some(Val::Json(j)) if j.is_null() => Val::Missing,
            Some(v) => v,
            None => Val::Missing,
        };
        for name in &p.decl {
            if p.is_assign {
                self.set_var(p.pos, name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        dot: &Val<'a>,
        cmd: &'a Command,
        fin: Option<Val<'a>>,
    ) -> Result<Val<'a>, Error> {
        let Some((first, rest)) = cmd.args.split_first() else {
            return Ok(Val::Missing);
        };
        match &first.term {
            Term::Func(f) => self.call(dot, *f, first.pos, rest, fin),
            Term::Nil => Err(Error::Exec {
                pos: self.at(first.pos),
                message: "nil is not a command".into(),
            }),
            term if !rest.is_empty() || fin.is_some() => Err(Error::NotAFunction {
                pos: self.at(first.pos),
                name: term.describe(),
            }),
            _ => self.arg(dot, first),
        }
    }

    /// Evaluates an operand used as a value.
    fn arg(&mut self, dot: &Val<'a>, a: &'a Arg) -> Result<Val<'a>, Error> {
        match &a.term {
            Term::Dot => Ok(dot.clone()),
            Term::Nil => Ok(Val::Json(Cow::Owned(Json::Null))),
            Term::Lit(j) => Ok(Val::Json(Cow::Borrowed(j))),
            Term::Field(fields) => self.fields(dot.clone(), fields, a.pos),
            Term::Var(name, fields) => {
                let v = self.var(a.pos, name)?;
                self.fields(v, fields, a.pos)
            }
            Term::Pipe(p, fields) => {
                let v = self.pipeline(dot, p)?;
                self.fields(v, fields, a.pos)
            }
            Term::Func(f) => self.call(dot, *f, a.pos, &[], None),
        }
    }

    fn fields(&self, mut v: Val<'a>, fields: &[String], pos: usize) -> Result<Val<'a>, Error> {
        for name in fields {
            v = self.field(v, name, pos)?;
        }
        Ok(v)
    }

    fn field(&self, recv: Val<'a>, name: &str, pos: usize) -> Result<Val<'a>, Error> {
        let j = match recv {
            Val::Missing => return Ok(Val::Missing),
            Val::Json(j) => j,
        };
        let check = |j: &Json| -> Result<(), Error> {
            match j {
                Json::Object(_) => Ok(()),
                Json::Null => Err(Error::NilPointer {
                    pos: self.at(pos),
                    field: name.to_string(),
                }),
                other => Err(Error::Field {
                    pos: self.at(pos),
                    field: name.to_string(),
                    type_name: gofmt::type_name(other).to_string(),
                }),
            }
        };
        check(&j)?;
        Ok(match j {
            Cow::Borrowed(Json::Object(m)) => m
                .get(name)
                .map_or(Val::Missing, |v| Val::Json(Cow::Borrowed(v))),
            Cow::Owned(Json::Object(mut m)) => m.remove(name).map_or(Val::Missing, Val::owned),
            _ => Val::Missing,
        })
    }

    fn call(
        &mut self,
        dot: &Val<'a>,
        f: Func,
        pos: usize,
        args: &'a [Arg],
        fin: Option<Val<'a>>,
    ) -> Result<Val<'a>, Error> {
        let got = args.len() + usize::from(fin.is_some());
        if let Some(want) = f.arity().mismatch(got) {
            return Err(Error::ArgCount {
                pos: self.at(pos),
                name: f.name().into(),
                want,
                got,
            });
        }
        if matches!(f, Func::And | Func::Or) {
            // Arguments are evaluated only as far as needed.
            let stop_on = f == Func::Or;
            let mut last = Val::Missing;
            for a in args {
                let v = self.arg(dot, a)?;
                if v.truth() == stop_on {
                    return Ok(v);
                }
                last = v;
            }
            return Ok(fin.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(got);
        for a in args {
            vals.push(self.arg(dot, a)?.into_arg());
        }
        if let Some(v) = fin {
            vals.push(v.into_arg());
        }
        funcs::call(f, &vals).map(Val::owned).map_err(|e| {
            let (pos, name) = (self.at(pos), f.name().to_string());
            match e {
                FnError::WrongType {
                    index,
                    expected,
                    got,
                } => Error::WrongType {
                    pos,
                    name,
                    index,
                    expected: expected.into(),
                    got: got.into(),
                },
                FnError::Msg(message) => Error::Call { pos, name, message },
            }
        })
    }
}

/// What `range` iterates over.
enum Items<'a> {
    Arr(Vec<Cow<'a, Json>>),
    /// Object members, sorted by key.
    Obj(Vec<(String, Cow<'a, Json>)>),
    /// `range N` counts from 0 to N-1.
    Int(i64),
}

impl<'a> Items<'a> {
    fn len(&self) -> usize {
        match self {
            Items::Arr(a) => a.len(),
            Items::Obj(o) => o.len(),
            Items::Int(n) => usize::try_from(*n).unwrap_or(0),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key (index or member name) and element at `i`.
    fn get(&self, i: usize) -> (Json, Val<'a>) {
        match self {
            Items::Arr(a) => (
                Json::from(i),
                a.get(i).map_or(Val::Missing, |v| Val::Json(v.clone())),
            ),
            Items::Obj(o) => match o.get(i) {
                Some((k, v)) => (Json::String(k.clone()), Val::Json(v.clone())),
                None => (Json::Null, Val::Missing),
            },
            Items::Int(_) => (Json::from(i), Val::owned(Json::from(i))),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn run(
        src: &str,
        data: &serde_json::Value,
        steps: u64,
        output: usize,
    ) -> Result<String, String> {
        let t = crate::Template::parse(src).map_err(|e| e.to_string())?;
        super::execute_within(src, &t.nodes, data, steps, output).map_err(|e| e.to_string())
    }

    #[test]
    fn nested_ranges_over_everything_stop_with_an_error() {
        // Found by the template fuzz target: eight `range $` deep over ten
        // keys printed until memory ran out.
        let data = json!({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10});
        let src = format!("{}x{}", "{{range $}}".repeat(8), "{{end}}".repeat(8));
        let e = run(&src, &data, u64::MAX, 1000).expect_err("too much output");
        assert!(e.contains("does too much"), "{e}");
        let quiet = format!("{}{}", "{{range $}}".repeat(9), "{{end}}".repeat(9));
        assert!(
            run(&quiet, &data, 10_000, usize::MAX).is_err(),
            "steps count without output too"
        );
        assert_eq!(
            run("{{range $}}x{{end}}", &data, 10_000, 1000).expect("small"),
            "x".repeat(10)
        );
    }
}
