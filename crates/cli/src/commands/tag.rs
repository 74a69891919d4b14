//! `berth tag SOURCE TARGET`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub source: String,
    pub target: String,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let (repo, tag) = super::create::split_tag(&args.target);
    match client.image_tag(&args.source, &repo, &tag).await {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}
