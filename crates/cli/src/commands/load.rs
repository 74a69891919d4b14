//! `berth load`.

use std::io::IsTerminal;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read from a tar archive file instead of STDIN.
    #[arg(short = 'i', long = "input")]
    pub input: Option<String>,
    /// Suppress the load progress (the loaded names are still printed).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let body = match &args.input {
        Some(path) => match tokio::fs::File::open(path).await {
            Ok(f) => super::file_body(f),
            Err(e) => return super::fail(format!("open {path}: {e}")),
        },
        None => {
            if std::io::stdin().is_terminal() {
                return super::fail("requested load from stdin, but stdin is empty");
            }
            super::file_body(tokio::io::stdin())
        }
    };
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let stream = match client.image_load(body, args.quiet).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    match super::print_messages(stream).await {
        Ok(_) => 0,
        Err(e) => super::fail(e),
    }
}
