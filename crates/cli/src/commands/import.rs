//! `berth import FILE|URL|- [REPOSITORY[:TAG]]`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Apply Dockerfile instructions to the created image.
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Set a commit message for the imported image.
    #[arg(short = 'm', long = "message", default_value = "")]
    pub message: String,
    /// Set platform (only linux/amd64).
    #[arg(long)]
    pub platform: Option<String>,
    /// A tarball path, or - for STDIN.
    pub source: String,
    /// Name for the new image.
    pub reference: Option<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    if let Some(p) = args.platform.as_deref() {
        if !matches!(p, "linux" | "linux/amd64") {
            return super::fail(format!("platform {p} is not supported"));
        }
    }
    if args.source.starts_with("http://") || args.source.starts_with("https://") {
        return super::fail(
            "importing from a URL is not supported yet: download the file and import it",
        );
    }
    let body = if args.source == "-" {
        super::file_body(tokio::io::stdin())
    } else {
        match tokio::fs::File::open(&args.source).await {
            Ok(f) => super::file_body(f),
            Err(e) => return super::fail(format!("open {}: {e}", args.source)),
        }
    };
    let (repo, tag) = match &args.reference {
        Some(r) => super::create::split_tag(r),
        None => (String::new(), String::new()),
    };
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let stream = match client
        .image_import(body, &repo, &tag, &args.message, &args.change)
        .await
    {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    match super::print_messages(stream).await {
        Ok(statuses) => {
            for s in statuses {
                println!("{s}");
            }
            0
        }
        Err(e) => super::fail(e),
    }
}
