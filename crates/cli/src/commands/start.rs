//! `berth start`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attach stdout/stderr and forward the exit code.
    #[arg(short = 'a', long = "attach")]
    pub attach: bool,
    /// Attach stdin (not supported yet).
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    if args.interactive {
        return super::fail("start -i is not supported yet");
    }
    if args.attach {
        if args.containers.len() != 1 {
            return super::fail("you cannot start and attach multiple containers at once");
        }
        let id = &args.containers[0];
        let attached = match client.container_attach(id).await {
            Ok(a) => a,
            Err(e) => return super::fail(e),
        };
        let waiter = match client.container_wait(id, "next-exit").await {
            Ok(w) => w,
            Err(e) => return super::fail(e),
        };
        let output = tokio::spawn(super::run::copy_output(attached));
        if let Err(e) = client.container_start(id).await {
            output.abort();
            return super::fail(e);
        }
        let status = waiter.await;
        let _ = output.await;
        return match status {
            Ok(w) => w.status_code as i32,
            Err(e) => super::fail(e),
        };
    }
    let mut code = 0;
    for c in &args.containers {
        match client.container_start(c).await {
            Ok(()) => println!("{c}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    if code != 0 {
        eprintln!(
            "Error: failed to start containers: {}",
            args.containers.join(", ")
        );
    }
    code
}
