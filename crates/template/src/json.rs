//! JSON encoding as Go's `encoding/json` writes it with HTML escaping off,
//! which is what docker's `json` template function prints.
//!
//! Output is compact, with no trailing newline. Object members keep the
//! order they have in the input value (Go sorts map keys but keeps struct
//! field order; a JSON value cannot tell the two apart).

use std::fmt::Write as _;

use serde_json::Value as Json;

use crate::gofmt::{digits, format_e, format_f, int_of};

/// `v` encoded as compact JSON.
pub(crate) fn encode(v: &Json) -> String {
    let mut out = String::new();
    write(&mut out, v);
    out
}

fn write(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => match int_of(n) {
            Some(i) => {
                let _ = write!(out, "{i}");
            }
            None => float(out, n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => string(out, s),
        Json::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, e);
            }
            out.push(']');
        }
        Json::Object(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, k);
                out.push(':');
                write(out, e);
            }
            out.push('}');
        }
    }
}

/// Shortest decimal form, in exponent form only below 1e-6 or from 1e21 up.
fn float(out: &mut String, f: f64) {
    if f.is_sign_negative() && f != 0.0 {
        out.push('-');
    }
    let abs = f.abs();
    let (d, dp) = digits(abs, None);
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format_e(&d, dp, d.len().saturating_sub(1));
        // Go writes e-07 as e-7.
        match s.split_once("e-0") {
            Some((m, e)) => {
                let _ = write!(out, "{m}e-{e}");
            }
            None => out.push_str(&s),
        }
    } else {
        let frac =
            usize::try_from(i64::try_from(d.len()).unwrap_or(0) - i64::from(dp)).unwrap_or(0);
        out.push_str(&format_f(&d, dp, frac));
    }
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn like_go() {
        assert_eq!(
            encode(&json!({"b": 1, "a": [true, null, "x<y&z"]})),
            r#"{"b":1,"a":[true,null,"x<y&z"]}"#
        );
        assert_eq!(encode(&json!(2.0)), "2");
        assert_eq!(encode(&json!(1.5)), "1.5");
        assert_eq!(encode(&json!(-0.25)), "-0.25");
        assert_eq!(encode(&json!(1e21)), "1e+21");
        assert_eq!(encode(&json!(1e20)), "100000000000000000000");
        assert_eq!(encode(&json!(1.5e-7)), "1.5e-7");
        assert_eq!(encode(&json!(0.000001)), "0.000001");
        assert_eq!(
            encode(&json!("a\"\\\n\u{1}\u{2028}")),
            r#""a\"\\\n\u0001\u2028""#
        );
    }
}
