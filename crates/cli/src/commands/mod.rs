//! One module per command.

pub mod build;
pub mod build_view;
pub mod commit;
pub mod compose;
pub mod cp;
pub mod create;
pub mod diff;
pub mod events;
pub mod exec;
pub mod history;
pub mod hostflags;
pub mod image_prune;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod kill;
pub mod load;
pub mod login;
pub mod logs;
pub mod netflags;
pub mod network;
pub mod pause;
pub mod port;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod rename;
pub mod rm;
pub mod rmi;
pub mod run;
pub mod save;
pub mod search;
pub mod start;
pub mod stats;
pub mod stop;
pub mod system;
pub mod tag;
pub mod top;
pub mod update;
pub mod version;
pub mod volume;
pub mod wait;

use std::collections::BTreeMap;

/// Prints a failure as docker does (`Error response from daemon: ...`) and
/// returns docker's exit code for non-run commands.
/// A prune's confirmation: `Ok` with `-f` or the user's yes on a terminal;
/// otherwise the exit code to return (an error when not on a terminal).
pub(crate) fn confirm(force: bool, command: &str, warning: &str) -> Result<(), i32> {
    use std::io::{BufRead, IsTerminal, Write};
    if force {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(format!(
            "{command} needs confirmation: use -f when not on a terminal"
        )));
    }
    print!("WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err()
        || !matches!(line.trim(), "y" | "Y" | "yes" | "Yes")
    {
        return Err(0);
    }
    Ok(())
}

pub(crate) fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("{e}");
    1
}

/// `-f key=value` flags as the API's JSON filters.
pub(crate) fn filters_json(filters: &[String]) -> Result<String, String> {
    if filters.is_empty() {
        return Ok(String::new());
    }
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter (expected name=value): {f}"))?;
        map.entry(k.trim().to_lowercase())
            .or_default()
            .push(v.to_string());
    }
    serde_json::to_string(&map).map_err(|e| e.to_string())
}

/// `-f key=value` flags as a `?filters=...` query (empty without filters).
pub(crate) fn filters_query(filters: &[String]) -> Result<String, String> {
    let json = filters_json(filters)?;
    Ok(if json.is_empty() {
        String::new()
    } else {
        berth_client::transport::query(&[("filters", json)])
    })
}

/// `inspect` of several objects at `path(name)`: a JSON array, or each
/// through the `--format` template. 1 when any was not found.
pub(crate) async fn inspect_each(
    client: &berth_client::Client,
    names: &[String],
    path: impl Fn(&str) -> String,
    format: Option<&str>,
) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for n in names {
        match client.get_json::<serde_json::Value>(&path(n)).await {
            Ok(v) => found.push(v),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    match format {
        Some(f) => {
            for v in &found {
                match berth_template::render(f, v) {
                    Ok(s) => println!("{s}"),
                    Err(e) => return fail(format!("template: {e}")),
                }
            }
        }
        None => println!(
            "{}",
            crate::format::pretty_json(&serde_json::Value::Array(found))
        ),
    }
    code
}

/// Writes everything a body stream yields to `out`.
pub(crate) async fn copy_stream(
    mut stream: berth_client::calls::BodyStream,
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    while let Some(chunk) = stream.next().await.map_err(|e| e.to_string())? {
        out.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    out.flush().await.map_err(|e| e.to_string())
}

/// Prints a JSON message stream (load, import, pull) as docker does: `stream`
/// text as is, `status` lines, and fails on an `error` message.
pub(crate) async fn print_messages(
    mut stream: berth_client::calls::BodyStream,
) -> Result<Vec<String>, String> {
    use berth_api::image::StreamMessage;
    let mut lines = berth_client::demux::JsonLines::default();
    let mut statuses = Vec::new();
    let handle = |msg: StreamMessage, statuses: &mut Vec<String>| -> Result<(), String> {
        if let Some(err) = msg.error {
            return Err(err);
        }
        if let Some(s) = msg.stream {
            print!("{s}");
        }
        if let Some(s) = msg.status {
            statuses.push(s);
        }
        Ok(())
    };
    while let Some(chunk) = stream.next().await.map_err(|e| e.to_string())? {
        lines.feed(&chunk);
        while let Some(msg) = lines.next_message::<StreamMessage>() {
            handle(
                msg.map_err(|e| format!("decoding the daemon's answer: {e}"))?,
                &mut statuses,
            )?;
        }
    }
    if let Some(msg) = lines.finish::<StreamMessage>() {
        handle(
            msg.map_err(|e| format!("decoding the daemon's answer: {e}"))?,
            &mut statuses,
        )?;
    }
    Ok(statuses)
}

/// A request body streamed from a file or stdin.
pub(crate) fn file_body(
    reader: impl tokio::io::AsyncRead + Send + Sync + 'static,
) -> berth_client::RequestBody {
    use http_body_util::BodyExt;
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
    let body = http_body_util::StreamBody::new(futures_util::StreamExt::map(stream, |r| {
        r.map(hyper::body::Frame::data)
    }));
    body.boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_json() {
        assert_eq!(
            filters_json(&[
                "status=exited".into(),
                "label=a=b".into(),
                "status=created".into()
            ])
            .unwrap(),
            r#"{"label":["a=b"],"status":["exited","created"]}"#
        );
        assert!(filters_json(&["nope".into()]).is_err());
        assert_eq!(filters_json(&[]).unwrap(), "");
    }
}
