//! `berth kill`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Signal to send to the container.
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
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
        match client.container_kill(c, &args.signal).await {
            Ok(()) => println!("{c}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}
