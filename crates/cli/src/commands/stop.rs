//! `berth stop` and `berth restart`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Signal to send to the container.
    #[arg(short = 's', long = "signal")]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "timeout", alias = "time")]
    pub timeout: Option<i64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(args: Args, target: &Target, restart: bool) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut code = 0;
    for c in &args.containers {
        let result = if restart {
            client
                .container_restart(c, args.timeout, args.signal.as_deref())
                .await
        } else {
            client
                .container_stop(c, args.timeout, args.signal.as_deref())
                .await
                .map(|_| ())
        };
        match result {
            Ok(()) => println!("{c}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}
