//! `berth commit` and `berth export`.

use std::io::IsTerminal;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Author (e.g. "Jane <jane@example.com>").
    #[arg(short = 'a', long = "author", default_value = "")]
    pub author: String,
    /// Apply Dockerfile instructions to the created image.
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short = 'm', long = "message", default_value = "")]
    pub message: String,
    /// Pause the container during commit (the default).
    #[arg(short = 'p', long = "pause", default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG] for the new image.
    pub reference: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file instead of STDOUT.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    pub container: String,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let (repo, tag) = match &args.reference {
        Some(r) => super::create::split_tag(r),
        None => (String::new(), String::new()),
    };
    let params = berth_client::calls::CommitParams {
        container: &args.container,
        repo: &repo,
        tag: &tag,
        author: &args.author,
        comment: &args.message,
        changes: &args.change,
        pause: args.pause,
    };
    match client.commit(&params).await {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => super::fail(e),
    }
}

pub async fn export(args: ExportArgs, target: &Target) -> i32 {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return super::fail("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let stream = match client.container_export(&args.container).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    let result = match &args.output {
        None => super::copy_stream(stream, &mut tokio::io::stdout()).await,
        Some(path) => match tokio::fs::File::create(path).await {
            Ok(mut f) => super::copy_stream(stream, &mut f).await,
            Err(e) => Err(format!("open {path}: {e}")),
        },
    };
    match result {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}
