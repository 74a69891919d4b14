//! `berth start` (with `-a`/`-i`) and `berth attach`.

use crate::connect::Target;
use crate::session::{Resize, SessionOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attach stdout/stderr and forward the exit code.
    #[arg(short = 'a', long = "attach")]
    pub attach: bool,
    /// Attach the container's stdin.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// Do not attach stdin.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process (without a terminal).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    pub container: String,
}

fn resizer(client: &berth_client::Client, id: &str) -> Resize {
    let (client, id) = (client.clone(), id.to_string());
    Box::new(move |rows, cols| {
        let (client, id) = (client.clone(), id.clone());
        Box::pin(async move {
            let _ = client.container_resize(&id, rows, cols).await;
        })
    })
}

/// The container's TTY and stdin settings from inspect.
async fn tty_and_stdin(
    client: &berth_client::Client,
    id: &str,
) -> Result<(bool, bool, bool), berth_client::Error> {
    let v = client.container_inspect(id).await?;
    Ok((v.config.tty, v.config.open_stdin, v.state.running))
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    if args.attach || args.interactive {
        if args.containers.len() != 1 {
            return super::fail("you cannot start and attach multiple containers at once");
        }
        let id = &args.containers[0];
        let (tty, open_stdin, _) = match tty_and_stdin(&client, id).await {
            Ok(t) => t,
            Err(e) => return super::fail(e),
        };
        let stdin = args.interactive && open_stdin;
        let attached = match client
            .container_attach(id, stdin, args.detach_keys.as_deref())
            .await
        {
            Ok(a) => a,
            Err(e) => return super::fail(e),
        };
        let waiter = match client.container_wait(id, "next-exit").await {
            Ok(w) => w,
            Err(e) => return super::fail(e),
        };
        if let Err(e) = client.container_start(id).await {
            return super::fail(e);
        }
        let resize = tty.then(|| resizer(&client, id));
        let opts = SessionOptions {
            tty,
            stdin,
            resize,
            detach_keys: args.detach_keys.clone(),
        };
        let _proxy = crate::sigproxy::Guard::start(!tty, &client, id);
        if crate::session::run(attached, opts).await == crate::session::SessionEnd::Detached {
            return 0;
        }
        return match waiter.await {
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

/// `berth attach`: re-enter a running container's stdio.
pub async fn attach(args: AttachArgs, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let (tty, open_stdin, running) = match tty_and_stdin(&client, &args.container).await {
        Ok(t) => t,
        Err(e) => return super::fail(e),
    };
    if !running {
        return super::fail("You cannot attach to a stopped container, start it first");
    }
    let stdin = open_stdin && !args.no_stdin;
    // Registered first, so an exit while attached is never missed.
    let waiter = match client.container_wait(&args.container, "next-exit").await {
        Ok(w) => w,
        Err(e) => return super::fail(e),
    };
    let attached = match client
        .container_attach(&args.container, stdin, args.detach_keys.as_deref())
        .await
    {
        Ok(a) => a,
        Err(e) => return super::fail(e),
    };
    let resize = tty.then(|| resizer(&client, &args.container));
    let opts = SessionOptions {
        tty,
        stdin,
        resize,
        detach_keys: args.detach_keys.clone(),
    };
    let _proxy = crate::sigproxy::Guard::start(args.sig_proxy && !tty, &client, &args.container);
    if crate::session::run(attached, opts).await == crate::session::SessionEnd::Detached {
        return 0;
    }
    match waiter.await {
        Ok(w) => w.status_code as i32,
        Err(e) => super::fail(e),
    }
}
