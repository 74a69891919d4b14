//! `berth rename CONTAINER NEW_NAME`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub container: String,
    pub new_name: String,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    match client
        .container_rename(&args.container, &args.new_name)
        .await
    {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}
