//! `berth wait`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut code = 0;
    for c in &args.containers {
        let result = match client.container_wait(c, "not-running").await {
            Ok(w) => w.await,
            Err(e) => Err(e),
        };
        match result {
            Ok(w) => println!("{}", w.status_code),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}
