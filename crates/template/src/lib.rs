//! The subset of Go's `text/template` that the docker CLI's `--format` flag
//! uses, evaluated over JSON data, plus Go's `text/tabwriter` layout that
//! docker uses for `table` output.
//!
//! ```
//! use serde_json::json;
//! let data = json!({"Names": ["web", "db"], "State": {"Running": true}});
//! let out = berth_template::render("{{join .Names \",\"}} {{if .State.Running}}up{{end}}", &data).unwrap();
//! assert_eq!(out, "web,db up");
//! ```
//!
//! # Data model
//!
//! The data is a [`serde_json::Value`], standing in for the Go values docker
//! formats: objects are looked up by key (`.Name` reads the member `"Name"`),
//! integral numbers behave as Go `int`, other numbers as `float64`, and
//! `null` as `nil`.
//!
//! # Supported template language
//!
//! Semantics follow Go's `text/template` unless listed under
//! [differences](#differences-from-go).
//!
//! - **Text and actions**: text is copied as it is (escapes such as `\t` are
//!   *not* interpreted); `{{ pipeline }}` prints the value of the pipeline.
//!   Actions may span lines.
//! - **Trim markers**: `{{- ` trims white space before the action, ` -}}`
//!   trims it after (the space next to the dash is required; `{{-3}}` is the
//!   number -3).
//! - **Comments**: `{{/* ... */}}`, also with trim markers.
//! - **Dot and fields**: `.` is the current value; `.A.B.C` looks up object
//!   members. A missing member gives "no value", printed `<no value>`;
//!   looking up a field on `null` or on a non-object is an error. Field
//!   chains also follow variables (`$x.A`) and parenthesised pipelines
//!   (`(index .A 0).B`).
//! - **Variables**: `$` is the data passed to execute; `{{$x := pipeline}}`
//!   declares, `{{$x = pipeline}}` assigns. A variable lives until the
//!   `{{end}}` of the block that declares it. Using an undeclared variable is
//!   a parse error.
//! - **`{{if pipeline}} ... {{else if pipeline}} ... {{else}} ... {{end}}`**
//!   with Go's truth: `false`, `0`, `null`, no value, and empty strings,
//!   arrays and objects are false; everything else is true.
//! - **`{{with pipeline}} ... {{else with pipeline}} ... {{else}} ... {{end}}`**:
//!   runs the body with dot set to the value when it is true.
//! - **`{{range pipeline}} ... {{else}} ... {{end}}`** over arrays, objects
//!   (members in sorted key order, as Go ranges over maps), and integers
//!   (`range 3` gives 0, 1, 2); `null` and no value give no iterations. The
//!   forms `{{range $v := ...}}` (element) and `{{range $i, $v := ...}}`
//!   (index or key, and element) declare variables. `{{break}}` and
//!   `{{continue}}` work inside the body.
//! - **Pipelines**: `a | b | c` passes each result as the last argument of
//!   the next command. Parenthesised sub-expressions: `(len .Names)`.
//! - **Literals**: strings `"..."` with Go escapes, raw strings `` `...` ``,
//!   character constants `'a'` (a number), integers (decimal, `0x`, `0o`,
//!   `0b`, leading-`0` octal, `_` separators), floats (`1.5`, `1e3`), `true`,
//!   `false`, `nil`.
//! - **Go's builtin functions**: `and`, `or` (short-circuit, returning the
//!   deciding argument), `not`, `len`, `index` (arrays, objects and strings,
//!   several indexes), `slice` (arrays and strings, up to 3 indexes), `print`,
//!   `printf`, `println`, `eq` (`eq a b c` is true when `a` equals any of the
//!   others), `ne`, `lt`, `le`, `gt`, `ge`.
//! - **docker's functions**: `json` (compact JSON, no trailing newline, `<`,
//!   `>`, `&` not escaped), `join` (array, separator), `split` (string,
//!   separator), `title`, `lower`, `upper`, `pad` (string, spaces before,
//!   spaces after; an empty string stays empty), `truncate` (string, length).
//! - **Printing**: strings raw, integers in decimal, floats in Go's `%v` form
//!   (`2.5`, `1e+06`), `true`/`false`, arrays as `[a b c]`, objects as
//!   `map[k1:v1 k2:v2]` with sorted keys, `null` inside a value as `<nil>`,
//!   and a pipeline whose value is `null` or no value as `<no value>`.
//! - **`printf` verbs**: `%v %s %d %q %t %f %e %g %x %X %o %b %c %U %T %%`
//!   with flags `- + # 0` and space, widths and precisions (`%-20s`, `%5.2f`,
//!   `%*d`). Mismatches print as Go does: `%!d(string=x)`, `%!s(MISSING)`,
//!   `%!(EXTRA int=1)`.
//!
//! Not supported: `define`, `template` and `block` (a parse error), the
//! `html`, `js`, `urlquery` and `call` functions (unknown functions), method
//! calls, complex numbers, and `printf` argument indexes (`%[1]d`).
//!
//! # Differences from Go
//!
//! - Numbers compare by value in `eq`/`lt`/...: `eq 1 1.0` is true, where Go
//!   reports incompatible types for `int` and `float64`.
//! - `null` acts as an empty (nil) map or slice for `len` (0), `index`
//!   (`null` result), `slice` and `join`, as a typed nil map or slice does
//!   in Go; Go reports an error for an untyped nil there.
//! - `%f`, `%e` and `%g` accept integers.
//! - `join` prints non-string elements with `%v`; Go requires `[]string`.
//! - `truncate` counts characters, not bytes.
//! - `json` keeps object members in their order in the data (Go sorts map
//!   keys but keeps struct field order).
//!
//! # Errors
//!
//! Parse errors (unknown function, undeclared variable, unclosed action or
//! block, `{{end}}` or `{{else}}` without a block, bad literals, ...) and
//! execution errors (wrong argument count or type, field of a non-object,
//! failing function) are [`Error`]s naming the [`Pos`] in the template.
//!
//! # Tables
//!
//! [`strip_table`] recognises docker's `table` directive and [`tabwrite`]
//! aligns tab-separated output the way docker does; [`TabWriter`] exposes
//! the layout settings.

mod error;
mod exec;
mod funcs;
mod gofmt;
mod json;
mod lex;
mod parse;
pub mod tabwriter;

pub use error::{Error, Pos};
pub use tabwriter::TabWriter;

use serde_json::Value;

/// A parsed template, ready to be executed any number of times.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses template source.
    pub fn parse(src: &str) -> Result<Template, Error> {
        let nodes = parse::parse(src)?;
        Ok(Template {
            src: src.to_string(),
            nodes,
        })
    }

    /// Runs the template with `data` as dot and `$`.
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        exec::execute(&self.src, &self.nodes, data)
    }

    /// The source the template was parsed from.
    pub fn source(&self) -> &str {
        &self.src
    }
}

/// Parses `src` and executes it once with `data`.
pub fn render(src: &str, data: &Value) -> Result<String, Error> {
    Template::parse(src)?.execute(data)
}

/// docker's `table` directive: for a format starting with `table`, the rest
/// with surrounding spaces removed, as docker does:
/// `table {{.ID}}\t{{.Image}}` gives `Some("{{.ID}}\t{{.Image}}")`.
///
/// Plain templates give `None`. So does a bare `table` (nothing after it but
/// spaces), which in docker means the command's default table format — the
/// caller supplies that.
pub fn strip_table(src: &str) -> Option<&str> {
    let rest = src.strip_prefix("table")?.trim_matches(' ');
    (!rest.is_empty()).then_some(rest)
}

/// Aligns tab-separated `text` into columns with docker's table settings
/// (Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`): each column is
/// padded to its widest cell plus 3 spaces, and at least 10 characters; the
/// last cell of a line is not padded. See [`tabwriter`] for the details.
pub fn tabwrite(text: &str) -> String {
    TabWriter::docker().format(text)
}
