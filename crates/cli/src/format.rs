//! `--format` handling as the docker CLI does it: `table`, `json`, or a Go
//! template (the subset documented in `berth-template`), and tables laid out
//! with docker's tabwriter settings.

use serde_json::{Map, Value};

/// Renders `rows` with the user's format, or `default_table` when none.
/// `headers` maps each field name to its column title for `table` formats.
pub fn render(
    rows: &[Value],
    format: Option<&str>,
    default_table: &str,
    headers: &[(&str, &str)],
) -> Result<String, String> {
    let format = format.filter(|f| !f.is_empty()).unwrap_or(default_table);
    let format = if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    let (template_src, table) = match berth_template::strip_table(format) {
        Some(rest) => (rest, true),
        None if format == "table" => (
            default_table
                .strip_prefix("table ")
                .unwrap_or(default_table),
            true,
        ),
        None => (format, false),
    };
    // Docker's CLI turns the two characters `\t` in a format into a tab.
    let template_src = template_src.replace("\\t", "\t");
    let template = berth_template::Template::parse(&template_src)
        .map_err(|e| format!("template parsing error: {e}"))?;
    let mut out = String::new();
    if table {
        let header: Map<String, Value> = headers
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
            .collect();
        out.push_str(
            &template
                .execute(&Value::Object(header))
                .map_err(|e| format!("template: {e}"))?,
        );
        out.push('\n');
    }
    for row in rows {
        out.push_str(
            &template
                .execute(row)
                .map_err(|e| format!("template: {e}"))?,
        );
        out.push('\n');
    }
    Ok(if table {
        berth_template::tabwrite(&out)
    } else {
        out
    })
}

/// Pretty JSON with docker's 4-space indent.
pub fn pretty_json(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return v.to_string();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Docker's truncation with an ellipsis.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
