//! Go `fmt`-style printing of JSON values: the `%v` form used when a
//! template prints a value, and the `print`, `println` and `printf` functions.
//!
//! JSON values stand in for Go's `interface{}` values: strings are `string`,
//! integral numbers are `int`, other numbers `float64`, arrays
//! `[]interface {}`, objects `map[string]interface {}` and `null` is `nil`.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value as Json};

/// Go's name for the type of `v`.
pub(crate) fn type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "nil",
        Json::Bool(_) => "bool",
        Json::Number(n) if int_of(n).is_some() => "int",
        Json::Number(_) => "float64",
        Json::String(_) => "string",
        Json::Array(_) => "[]interface {}",
        Json::Object(_) => "map[string]interface {}",
    }
}

/// The value of an integral JSON number (one written without fraction or exponent).
pub(crate) fn int_of(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// Object entries in Go's map printing order (sorted by key).
pub(crate) fn sorted_entries(m: &Map<String, Json>) -> Vec<(&String, &Json)> {
    let mut e: Vec<_> = m.iter().collect();
    e.sort_by(|a, b| a.0.cmp(b.0));
    e
}

/// `v` printed with `%v`.
pub(crate) fn to_v(v: &Json) -> String {
    let mut s = String::new();
    write_v(&mut s, v);
    s
}

/// Appends `v` printed with `%v`.
pub(crate) fn write_v(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("<nil>"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => match int_of(n) {
            Some(i) => {
                let _ = write!(out, "{i}");
            }
            None => {
                let f = n.as_f64().unwrap_or(0.0);
                if f.is_sign_negative() {
                    out.push('-');
                }
                out.push_str(&format_g(f.abs(), None, false));
            }
        },
        Json::String(s) => out.push_str(s),
        Json::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, e);
            }
            out.push(']');
        }
        Json::Object(m) => {
            out.push_str("map[");
            for (i, (k, e)) in sorted_entries(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, e);
            }
            out.push(']');
        }
    }
}

/// Go's `fmt.Sprint`: operands printed with `%v`, with a space between two
/// operands when neither is a string.
pub(crate) fn sprint(args: &[&Json]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = a.is_string();
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        write_v(&mut out, a);
        prev_string = is_string;
    }
    out
}

/// Go's `fmt.Sprintln`: operands printed with `%v`, separated by spaces, then a newline.
pub(crate) fn sprintln(args: &[&Json]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, a);
    }
    out.push('\n');
    out
}

/// Flags, width and precision of one `%` directive.
#[derive(Debug, Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's upper bound on widths and precisions.
const MAX_WIDTH: usize = 1_000_000;

/// Go's `fmt.Sprintf` over JSON values.
pub(crate) fn sprintf(format: &str, args: &[&Json]) -> String {
    let mut out = String::with_capacity(format.len());
    let mut it = format.chars().peekable();
    let mut argn = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = it.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            it.next();
        }
        if it.peek() == Some(&'*') {
            it.next();
            match args.get(argn).and_then(|a| as_small_int(a)) {
                Some(w) => {
                    argn += 1;
                    if w < 0 {
                        spec.minus = true;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                None => {
                    if argn < args.len() {
                        argn += 1;
                    }
                    out.push_str("%!(BADWIDTH)");
                }
            }
        } else if let Some(w) = read_num(&mut it) {
            match w {
                Some(w) => spec.width = Some(w),
                None => out.push_str("%!(BADWIDTH)"),
            }
        }
        if it.peek() == Some(&'.') {
            it.next();
            if it.peek() == Some(&'*') {
                it.next();
                match args.get(argn).and_then(|a| as_small_int(a)) {
                    Some(p) => {
                        argn += 1;
                        spec.prec = usize::try_from(p).ok();
                    }
                    None => {
                        if argn < args.len() {
                            argn += 1;
                        }
                        out.push_str("%!(BADPREC)");
                    }
                }
            } else {
                match read_num(&mut it) {
                    None => spec.prec = Some(0),
                    Some(Some(p)) => spec.prec = Some(p),
                    Some(None) => out.push_str("%!(BADPREC)"),
                }
            }
        }
        if spec.minus {
            spec.zero = false;
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argn) {
            Some(a) => {
                argn += 1;
                fmt_arg(&mut out, spec, verb, a);
            }
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
        }
    }
    if argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argn..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            describe_typed(&mut out, a);
        }
        out.push(')');
    }
    out
}

/// Reads a run of digits: `None` when there is none, `Some(None)` when too large.
fn read_num(it: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Option<usize>> {
    let mut n: Option<usize> = None;
    let mut too_large = false;
    while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
        it.next();
        let v = n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize);
        too_large |= v > MAX_WIDTH;
        n = Some(v);
    }
    n.map(|v| if too_large { None } else { Some(v) })
}

fn as_small_int(v: &Json) -> Option<i64> {
    let i = i64::try_from(int_of(v.as_number()?)?).ok()?;
    (i.unsigned_abs() <= MAX_WIDTH as u64).then_some(i)
}

/// `type=value`, as in Go's `%!verb(int=5)`; `<nil>` for null.
fn describe_typed(out: &mut String, v: &Json) {
    if v.is_null() {
        out.push_str("<nil>");
    } else {
        out.push_str(type_name(v));
        out.push('=');
        write_v(out, v);
    }
}

fn bad_verb(out: &mut String, verb: char, v: &Json) {
    let _ = write!(out, "%!{verb}(");
    describe_typed(out, v);
    out.push(')');
}

/// Pads `s` to the width, on the left unless `-`; with zeros when `0`.
fn pad(out: &mut String, spec: Spec, s: &str) {
    let n = s.chars().count();
    let w = spec.width.unwrap_or(0);
    if n >= w {
        out.push_str(s);
        return;
    }
    let fill = w - n;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        out.extend(std::iter::repeat_n(if spec.zero { '0' } else { ' ' }, fill));
        out.push_str(s);
    }
}

/// Pads a number: zero padding goes between the sign and the digits.
fn pad_number(out: &mut String, spec: Spec, sign: &str, digits: &str, zero_ok: bool) {
    let w = spec.width.unwrap_or(0);
    let n = sign.chars().count() + digits.chars().count();
    if spec.zero && zero_ok && !spec.minus && n < w {
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', w - n));
        out.push_str(digits);
    } else {
        let s = format!("{sign}{digits}");
        pad(
            out,
            Spec {
                zero: false,
                ..spec
            },
            &s,
        );
    }
}

fn sign_of(spec: Spec, negative: bool) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn fmt_arg(out: &mut String, spec: Spec, verb: char, v: &Json) {
    if verb == 'T' {
        pad(out, spec, if v.is_null() { "<nil>" } else { type_name(v) });
        return;
    }
    match v {
        Json::Null => {
            if verb == 'v' {
                pad(out, spec, "<nil>");
            } else {
                bad_verb(out, verb, v);
            }
        }
        Json::Bool(b) => {
            if matches!(verb, 'v' | 't') {
                pad(out, spec, if *b { "true" } else { "false" });
            } else {
                bad_verb(out, verb, v);
            }
        }
        Json::Number(n) => match int_of(n) {
            Some(i) => fmt_int(out, spec, verb, i, v),
            None => fmt_float(out, spec, verb, n.as_f64().unwrap_or(0.0), v),
        },
        Json::String(s) => match verb {
            'v' | 's' => {
                let shown: String = match spec.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                pad(out, spec, &shown);
            }
            'q' => pad(out, spec, &quote(s)),
            'x' | 'X' => {
                let mut h = String::with_capacity(s.len() * 2);
                for b in s.bytes() {
                    let _ = if verb == 'x' {
                        write!(h, "{b:02x}")
                    } else {
                        write!(h, "{b:02X}")
                    };
                }
                pad(out, spec, &h);
            }
            _ => bad_verb(out, verb, v),
        },
        Json::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_arg(out, spec, verb, e);
            }
            out.push(']');
        }
        Json::Object(m) => {
            out.push_str("map[");
            for (i, (k, e)) in sorted_entries(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_arg(out, spec, verb, &Json::String(k.clone()));
                out.push(':');
                fmt_arg(out, spec, verb, e);
            }
            out.push(']');
        }
    }
}

fn fmt_int(out: &mut String, spec: Spec, verb: char, i: i128, v: &Json) {
    let abs = i.unsigned_abs();
    let (mut digits, prefix) = match verb {
        'd' | 'v' => (abs.to_string(), ""),
        'b' => (format!("{abs:b}"), "0b"),
        'o' => (format!("{abs:o}"), "0"),
        'x' => (format!("{abs:x}"), "0x"),
        'X' => (format!("{abs:X}"), "0X"),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            pad(out, spec, &c.to_string());
            return;
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            pad(out, spec, &quote_char(c));
            return;
        }
        'U' => {
            pad(out, spec, &format!("U+{abs:04X}"));
            return;
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            fmt_float(out, spec, verb, i as f64, v);
            return;
        }
        _ => {
            bad_verb(out, verb, v);
            return;
        }
    };
    if let Some(p) = spec.prec {
        if p == 0 && abs == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
    }
    let sign = sign_of(spec, i < 0);
    let prefix = if spec.sharp && verb != 'd' && verb != 'v' {
        prefix
    } else {
        ""
    };
    pad_number(
        out,
        spec,
        &format!("{sign}{prefix}"),
        &digits,
        spec.prec.is_none(),
    );
}

fn fmt_float(out: &mut String, spec: Spec, verb: char, f: f64, v: &Json) {
    let abs = f.abs();
    let body = match verb {
        'v' | 'g' => format_g(abs, spec.prec, false),
        'G' => format_g(abs, spec.prec, true),
        'e' | 'E' => {
            let p = spec.prec.unwrap_or(6);
            let (d, dp) = digits(abs, Some(p + 1));
            let s = format_e(&d, dp, p);
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        'f' | 'F' => format!("{abs:.*}", spec.prec.unwrap_or(6)),
        _ => {
            bad_verb(out, verb, v);
            return;
        }
    };
    pad_number(out, spec, sign_of(spec, f.is_sign_negative()), &body, true);
}

/// The decimal digits of `f` (no trailing zeros; none for zero) and the
/// position of the decimal point: `f = 0.d1d2d3... × 10^dp`. With `sig`,
/// rounded to that many significant digits; without, the shortest digits
/// that read back as `f`.
pub(crate) fn digits(f: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    if f == 0.0 {
        return (Vec::new(), 0);
    }
    let s = match sig {
        None => format!("{:e}", f.abs()),
        Some(p) => format!("{:.*e}", p.max(1) - 1, f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    (d, exp + 1)
}

/// `d.ddd` with `prec` digits after the point and a Go exponent (`e+06`).
pub(crate) fn format_e(d: &[u8], dp: i32, prec: usize) -> String {
    let mut s = String::new();
    s.push(d.first().map_or('0', |&c| char::from(c)));
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(d.get(i).map_or('0', |&c| char::from(c)));
        }
    }
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    let _ = write!(s, "{a}");
    s
}

/// Plain decimal with `prec` digits after the point.
pub(crate) fn format_f(d: &[u8], dp: i32, prec: usize) -> String {
    let digit = |i: i64| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| d.get(i))
            .map_or('0', |&c| char::from(c))
    };
    let mut s = String::new();
    if dp > 0 {
        for i in 0..i64::from(dp) {
            s.push(digit(i));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec {
            s.push(digit(i64::from(dp) + i as i64));
        }
    }
    s
}

/// Go's `%g` of a non-negative float (`%v` when `prec` is `None`): the
/// shortest form, in exponent notation when the exponent is below -4 or at
/// least the precision (6 for the shortest form).
pub(crate) fn format_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    let (d, dp) = digits(f, prec);
    let nd = i64::try_from(d.len()).unwrap_or(i64::MAX);
    let dp64 = i64::from(dp);
    let mut p = match prec {
        None => nd,
        Some(p) => i64::try_from(p.max(1)).unwrap_or(i64::MAX),
    };
    let mut eprec = p;
    if eprec > nd && nd >= dp64 {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = dp64 - 1;
    let s = if exp < -4 || exp >= eprec {
        if p > nd {
            p = nd;
        }
        format_e(&d, dp, usize::try_from(p - 1).unwrap_or(0))
    } else {
        if p > dp64 {
            p = nd;
        }
        format_f(&d, dp, usize::try_from(p - dp64).unwrap_or(0))
    };
    if upper {
        s.to_uppercase()
    } else {
        s
    }
}

fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'))
}

fn push_escaped(q: &mut String, c: char, quote: char) {
    match c {
        '\\' => q.push_str("\\\\"),
        '\u{7}' => q.push_str("\\a"),
        '\u{8}' => q.push_str("\\b"),
        '\u{c}' => q.push_str("\\f"),
        '\n' => q.push_str("\\n"),
        '\r' => q.push_str("\\r"),
        '\t' => q.push_str("\\t"),
        '\u{b}' => q.push_str("\\v"),
        c if c == quote => {
            q.push('\\');
            q.push(c);
        }
        c if is_printable(c) => q.push(c),
        c if (c as u32) < 0x80 => {
            let _ = write!(q, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(q, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(q, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        push_escaped(&mut q, c, '"');
    }
    q.push('"');
    q
}

/// Go's `strconv.QuoteRune`.
fn quote_char(c: char) -> String {
    let mut q = String::from("'");
    push_escaped(&mut q, c, '\'');
    q.push('\'');
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pf(f: &str, args: &[Json]) -> String {
        let refs: Vec<&Json> = args.iter().collect();
        sprintf(f, &refs)
    }

    #[test]
    fn floats_like_go() {
        let g = |f: f64| format_g(f, None, false);
        assert_eq!(g(0.0), "0");
        assert_eq!(g(1.5), "1.5");
        assert_eq!(g(2.0), "2");
        assert_eq!(g(123456.0), "123456");
        assert_eq!(g(1234567.0), "1.234567e+06");
        assert_eq!(g(1e6), "1e+06");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(1e100), "1e+100");
        assert_eq!(format_g(1.23456, Some(3), false), "1.23");
        assert_eq!(format_g(100.0, Some(5), false), "100");
        assert_eq!(format_g(123456.0, Some(2), false), "1.2e+05");
    }

    #[test]
    fn printf_verbs() {
        assert_eq!(
            pf(
                "%s|%d|%v|%t",
                &[json!("a"), json!(5), json!([1, "b"]), json!(true)]
            ),
            "a|5|[1 b]|true"
        );
        assert_eq!(
            pf("%-5s|%5s|%.2s", &[json!("ab"), json!("cd"), json!("xyz")]),
            "ab   |   cd|xy"
        );
        assert_eq!(
            pf(
                "%05d|%+d|%x|%X|%#x",
                &[json!(42), json!(3), json!(255), json!(255), json!(255)]
            ),
            "00042|+3|ff|FF|0xff"
        );
        assert_eq!(pf("%x", &[json!(-255)]), "-ff");
        assert_eq!(
            pf(
                "%.2f|%f|%8.3f|%e",
                &[json!(1.23456), json!(2.5), json!(-1.5), json!(1234.5678)]
            ),
            "1.23|2.500000|  -1.500|1.234568e+03"
        );
        assert_eq!(
            pf("%q|%q", &[json!("a\"b\n"), json!(97)]),
            "\"a\\\"b\\n\"|'a'"
        );
        assert_eq!(pf("%x", &[json!("hi")]), "6869");
        assert_eq!(pf("100%%", &[]), "100%");
        assert_eq!(
            pf("%T %T %T", &[json!(1), json!("s"), json!(null)]),
            "int string <nil>"
        );
    }

    #[test]
    fn printf_errors_like_go() {
        assert_eq!(pf("%d", &[json!("x")]), "%!d(string=x)");
        assert_eq!(pf("%s", &[json!(5)]), "%!s(int=5)");
        assert_eq!(pf("%d", &[json!(1.5)]), "%!d(float64=1.5)");
        assert_eq!(pf("%s", &[json!(null)]), "%!s(<nil>)");
        assert_eq!(pf("%s %s", &[json!("a")]), "a %!s(MISSING)");
        assert_eq!(
            pf("%s", &[json!("a"), json!(1), json!("b")]),
            "a%!(EXTRA int=1, string=b)"
        );
        assert_eq!(pf("%z", &[json!(1)]), "%!z(int=1)");
        assert_eq!(pf("abc%", &[]), "abc%!(NOVERB)");
        assert_eq!(
            pf("%*d|%-*d|", &[json!(4), json!(7), json!(3), json!(1)]),
            "   7|1  |"
        );
    }

    #[test]
    fn sprint_spacing() {
        let a = json!(1);
        let b = json!(2);
        let s = json!("s");
        assert_eq!(sprint(&[&a, &b]), "1 2");
        assert_eq!(sprint(&[&s, &a, &s]), "s1s");
        assert_eq!(sprint(&[&s, &s]), "ss");
        assert_eq!(sprintln(&[&s, &a]), "s 1\n");
    }

    #[test]
    fn values() {
        assert_eq!(
            to_v(&json!({"b": [1, 2.5, null], "a": {"x": true}})),
            "map[a:map[x:true] b:[1 2.5 <nil>]]"
        );
        assert_eq!(quote("é\u{1}\u{7f}"), "\"é\\x01\\x7f\"");
    }
}
