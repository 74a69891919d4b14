//! `berth events`.

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show events created since this timestamp (unix seconds or RFC 3339).
    #[arg(long, default_value = "")]
    pub since: String,
    /// Stream events until this timestamp.
    #[arg(long, default_value = "")]
    pub until: String,
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a Go template or 'json'.
    #[arg(long)]
    pub format: Option<String>,
}

/// Docker's default line: `2026-11-27T00:00:00.000000000Z container start <id> (image=busybox, name=web)`.
fn default_line(e: &Value) -> String {
    let nanos = e["timeNano"].as_i64().unwrap_or(0);
    let when =
        chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
            .unwrap_or_default();
    let attrs: Vec<String> = e["Actor"]["Attributes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{when} {} {} {} ({})",
        e["Type"].as_str().unwrap_or_default(),
        e["Action"].as_str().unwrap_or_default(),
        e["Actor"]["ID"].as_str().unwrap_or_default(),
        attrs.join(", ")
    )
}

/// The value a template sees: Docker formats its `events.Message` struct,
/// whose Go field names differ from the JSON names for a few members
/// (`{{.Time}}` reads `time`, `{{.TimeNano}}` reads `timeNano`).
fn template_data(event: &Value) -> Value {
    let mut data = event.clone();
    if let Value::Object(m) = &mut data {
        for (go, json) in [
            ("Time", "time"),
            ("TimeNano", "timeNano"),
            ("Status", "status"),
            ("ID", "id"),
            ("From", "from"),
        ] {
            if let Some(v) = m.get(json).cloned() {
                m.entry(go).or_insert(v);
            }
        }
    }
    data
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let filters = match super::filters_json(&args.filter) {
        Ok(f) => f,
        Err(e) => return super::fail(e),
    };
    let json_lines = args.format.as_deref() == Some("json");
    let template = match args.format.as_deref().filter(|f| !f.is_empty()) {
        Some("json") => Some(berth_template::Template::parse("{{json .}}")),
        Some(f) => Some(berth_template::Template::parse(f)),
        None => None,
    };
    let template = match template.transpose() {
        Ok(t) => t,
        Err(e) => return super::fail(format!("template parsing error: {e}")),
    };
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut stream = match client.events(&args.since, &args.until, &filters).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    let mut lines = berth_client::demux::JsonLines::default();
    loop {
        let chunk = match stream.next().await {
            Ok(Some(c)) => c,
            Ok(None) => return 0,
            Err(e) => return super::fail(e),
        };
        lines.feed(&chunk);
        while let Some(msg) = lines.next_message::<Value>() {
            let Ok(event) = msg else { continue };
            let line = match &template {
                Some(t) if json_lines => match t.execute(&event) {
                    Ok(s) => s,
                    Err(e) => return super::fail(format!("template: {e}")),
                },
                Some(t) => match t.execute(&template_data(&event)) {
                    Ok(s) => s,
                    Err(e) => return super::fail(format!("template: {e}")),
                },
                None => default_line(&event),
            };
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_see_go_field_names() {
        let event = serde_json::json!({
            "Type": "container", "Action": "start", "time": 5, "timeNano": 5000000001u64,
            "status": "start", "id": "abc", "from": "busybox",
            "Actor": {"ID": "abc", "Attributes": {"name": "web"}}
        });
        let t = berth_template::Template::parse(
            "{{.Time}} {{.TimeNano}} {{.Status}} {{.ID}} {{.From}} {{.Actor.Attributes.name}}",
        )
        .expect("parse");
        assert_eq!(
            t.execute(&template_data(&event)).expect("render"),
            "5 5000000001 start abc busybox web"
        );
    }
}
