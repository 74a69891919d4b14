//! `berth push NAME[:TAG]`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Push all tags of the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    pub name: String,
}

pub async fn run(a: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c.with_registry_auth(crate::dockercfg::auth_for(&a.name)),
        Err(e) => return super::fail(e),
    };
    let (name, mut tag) = super::pull::split(&a.name);
    if tag.contains(':') {
        return super::fail("pushing by digest is not supported: push a tag");
    }
    if a.all_tags {
        if !tag.is_empty() {
            return super::fail("tag can't be used with --all-tags/-a");
        }
    } else if tag.is_empty() {
        if !a.quiet {
            println!("Using default tag: latest");
        }
        tag = "latest".into();
    }
    let stream = match client.image_push(&name, &tag).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    match super::pull::follow(stream, a.quiet).await {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}
