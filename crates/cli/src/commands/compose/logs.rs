//! `compose logs` and the attached mode of `compose up`: every container's
//! output, line by line, prefixed with its name (coloured on a terminal).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use berth_client::demux::{Demuxer, StreamKind};
use berth_client::Client;
use berth_compose::apply::{self, progress};
use berth_compose::plan::Observed;
use berth_compose::{Error, Project};

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container.
    #[arg(short = 'n', long = "tail", default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long = "timestamps")]
    pub timestamps: bool,
    /// Produce monochrome output.
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Don't print the prefix in logs.
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,
    /// Show logs since a timestamp.
    #[arg(long, default_value = "")]
    pub since: String,
    /// Show logs before a timestamp.
    #[arg(long, default_value = "")]
    pub until: String,
    pub services: Vec<String>,
}

const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Prefixes and writes whole lines, one container's at a time.
#[derive(Clone)]
struct Printer {
    out: Arc<Mutex<std::io::Stdout>>,
    width: usize,
    color: bool,
    prefix: bool,
}

impl Printer {
    fn line(&self, name: &str, index: usize, line: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = Vec::new();
        if self.prefix {
            let pad = format!("{name:<w$} | ", w = self.width);
            if self.color {
                let c = COLORS[index % COLORS.len()];
                buf.extend_from_slice(format!("\x1b[{c}m{pad}\x1b[0m").as_bytes());
            } else {
                buf.extend_from_slice(pad.as_bytes());
            }
        }
        buf.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            buf.push(b'\n');
        }
        let _ = out.write_all(&buf);
        let _ = out.flush();
    }
}

/// Streams one container's log to the printer until it ends.
async fn follow_one(
    client: Client,
    c: Observed,
    index: usize,
    printer: Printer,
    opts: (bool, String, bool, String, String),
) -> Result<(), Error> {
    let (follow, tail, timestamps, since, until) = opts;
    let tty = client
        .container_inspect(&c.id)
        .await
        .is_ok_and(|v| v.config.tty);
    let mut stream = client
        .container_logs(&c.id, follow, &tail, timestamps, &since, &until)
        .await?;
    let mut demux = Demuxer::default();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await? {
        if tty {
            pending.extend_from_slice(&chunk);
        } else {
            demux.feed(&chunk);
            while let Some((kind, data)) = demux.next_frame() {
                if matches!(kind, StreamKind::Stdout | StreamKind::Stderr) {
                    pending.extend_from_slice(&data);
                }
            }
        }
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            printer.line(&c.name, index, &line);
        }
    }
    if !pending.is_empty() {
        printer.line(&c.name, index, &pending);
    }
    Ok(())
}

fn printer(list: &[Observed], no_color: bool, no_prefix: bool) -> Printer {
    Printer {
        out: Arc::new(Mutex::new(std::io::stdout())),
        width: list.iter().map(|c| c.name.len()).max().unwrap_or(0),
        color: !no_color && std::io::stdout().is_terminal(),
        prefix: !no_prefix,
    }
}

pub async fn logs(client: &Client, p: &Project, a: &LogsArgs) -> Result<i32, Error> {
    let list = super::containers(client, p, &a.services).await?;
    let printer = printer(&list, a.no_color, a.no_log_prefix);
    let tasks: Vec<_> = list
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, c)| {
            tokio::spawn(follow_one(
                client.clone(),
                c,
                i,
                printer.clone(),
                (
                    a.follow,
                    a.tail.clone(),
                    a.timestamps,
                    a.since.clone(),
                    a.until.clone(),
                ),
            ))
        })
        .collect();
    for t in tasks {
        t.await
            .map_err(|e| Error::Failed(format!("log task: {e}")))??;
    }
    Ok(0)
}

/// `up` without `-d`: prints every container's output until they all
/// exit (or one does, with `--abort-on-container-exit`/`--exit-code-from`);
/// Ctrl+C stops them.
pub async fn attached(
    client: &Client,
    p: &Project,
    a: &super::args::UpArgs,
    services: &[String],
) -> Result<i32, Error> {
    let list: Vec<Observed> = super::containers(client, p, &[])
        .await?
        .into_iter()
        .filter(|c| services.contains(&c.service))
        .collect();
    let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
    println!("Attaching to {}", names.join(", "));
    let printer = printer(&list, a.no_color, a.no_log_prefix);
    let abort = a.abort_on_container_exit || a.exit_code_from.is_some();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Observed, i64)>();
    for (i, c) in list.iter().cloned().enumerate() {
        let (client, printer, tx) = (client.clone(), printer.clone(), tx.clone());
        tokio::spawn(async move {
            let _ = follow_one(
                client.clone(),
                c.clone(),
                i,
                printer,
                (true, "all".into(), false, String::new(), String::new()),
            )
            .await;
            let code = match client.container_wait(&c.id, "not-running").await {
                Ok(f) => f.await.map(|r| r.status_code).unwrap_or(-1),
                Err(_) => -1,
            };
            let _ = tx.send((c, code));
        });
    }
    drop(tx);
    let mut codes: BTreeMap<String, i64> = BTreeMap::new();
    let mut first_exit: Option<i64> = None;
    let mut remaining = list.len();
    let interrupted = loop {
        if remaining == 0 {
            break false;
        }
        tokio::select! {
            got = rx.recv() => {
                let Some((c, code)) = got else { break false };
                remaining -= 1;
                println!("{} exited with code {code}", c.name);
                codes.insert(c.service.clone(), code);
                first_exit.get_or_insert(code);
                if abort {
                    println!("Aborting on container exit...");
                    break true;
                }
            }
            _ = tokio::signal::ctrl_c() => {
                println!("Gracefully stopping... (press Ctrl+C again to force)");
                break true;
            }
        }
    };
    if interrupted {
        let current = apply::observe(client, &p.name).await?;
        for group in apply::stop_groups(p, &current)? {
            for c in group {
                if c.state == "running" {
                    progress("Container", &c.name, "Stopping");
                    client.container_stop(&c.id, a.timeout, None).await?;
                    progress("Container", &c.name, "Stopped");
                }
            }
        }
    }
    let code = match &a.exit_code_from {
        Some(svc) => match codes.get(svc) {
            Some(c) => *c,
            None => {
                let c = super::containers(client, p, std::slice::from_ref(svc)).await?;
                match c.first() {
                    Some(o) => client.container_inspect(&o.id).await?.state.exit_code,
                    None => 0,
                }
            }
        },
        None if a.abort_on_container_exit => first_exit.unwrap_or(0),
        None => 0,
    };
    Ok(i32::try_from(code).unwrap_or(1))
}
