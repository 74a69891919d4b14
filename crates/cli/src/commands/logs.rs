//! `berth logs`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Follow log output.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" by default).
    #[arg(short = 'n', long = "tail", default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long = "timestamps")]
    pub timestamps: bool,
    /// Show logs since a timestamp (RFC 3339 or unix seconds).
    #[arg(long, default_value = "")]
    pub since: String,
    /// Show logs before a timestamp (RFC 3339 or unix seconds).
    #[arg(long, default_value = "")]
    pub until: String,
    pub container: String,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut stream = match client
        .container_logs(
            &args.container,
            args.follow,
            &args.tail,
            args.timestamps,
            &args.since,
            &args.until,
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    let tty = client
        .container_inspect(&args.container)
        .await
        .is_ok_and(|v| v.config.tty);
    let mut out = crate::output::StdStreams::new(tty);
    loop {
        match stream.next().await {
            Ok(Some(chunk)) => out.write(&chunk).await,
            Ok(None) => break,
            Err(e) => return super::fail(e),
        }
    }
    0
}
