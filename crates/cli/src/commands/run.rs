//! `berth run`: create, attach, wait, start, stream output, exit with the
//! container's code.

use super::create::{create_container, ContainerFlags};
use crate::connect::Target;
use crate::EXIT_BERTH;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: ContainerFlags,
    /// Run the container in the background and print its id.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Proxy received signals to the process (without a terminal).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// The image to run.
    pub image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Docker's mapping of a failed start to an exit code: 127 when the command
/// does not exist, 126 when it cannot be invoked, else 125.
pub fn start_failure_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied")
        || message.contains("is a directory")
        || message.contains("exec format error")
    {
        126
    } else {
        EXIT_BERTH
    }
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth: {e}");
            return EXIT_BERTH;
        }
    };
    let id = match create_container(&client, &args.flags, &args.image, &args.command).await {
        Ok(id) => id,
        Err(e) => {
            eprintln!("berth: {e}");
            eprintln!("Run 'berth run --help' for more information");
            return EXIT_BERTH;
        }
    };
    run_created(
        &client,
        &id,
        &RunMode {
            detach: args.detach,
            interactive: args.flags.interactive,
            tty: args.flags.tty,
            rm: args.flags.rm,
            detach_keys: args.flags.detach_keys.clone(),
            sig_proxy: args.sig_proxy,
        },
    )
    .await
}

/// How a created container is run.
#[derive(Debug, Clone, Default)]
pub struct RunMode {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    /// Removed when it exits (wait for `removed`).
    pub rm: bool,
    pub detach_keys: Option<String>,
    /// Pass the signals this process receives to the container (only
    /// without a terminal).
    pub sig_proxy: bool,
}

/// Starts a created container: detached (prints its id), or attached until
/// it exits; the exit code to return.
pub async fn run_created(client: &berth_client::Client, id: &str, mode: &RunMode) -> i32 {
    let id = id.to_string();
    if mode.detach {
        if let Err(e) = client.container_start(&id).await {
            let msg = e.to_string();
            eprintln!("berth: {msg}");
            return start_failure_code(&msg);
        }
        println!("{id}");
        return 0;
    }
    let attached = match client
        .container_attach(&id, mode.interactive, mode.detach_keys.as_deref())
        .await
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth: {e}");
            return EXIT_BERTH;
        }
    };
    let condition = if mode.rm { "removed" } else { "next-exit" };
    let waiter = match client.container_wait(&id, condition).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("berth: {e}");
            return EXIT_BERTH;
        }
    };
    if let Err(e) = client.container_start(&id).await {
        let msg = e.to_string();
        eprintln!("berth: {msg}");
        return start_failure_code(&msg);
    }
    let resize: Option<crate::session::Resize> = mode.tty.then(|| {
        let (client, id) = (client.clone(), id.clone());
        let f: crate::session::Resize = Box::new(move |rows, cols| {
            let (client, id) = (client.clone(), id.clone());
            Box::pin(async move {
                let _ = client.container_resize(&id, rows, cols).await;
            })
        });
        f
    });
    let opts = crate::session::SessionOptions {
        tty: mode.tty,
        stdin: mode.interactive,
        resize,
        detach_keys: mode.detach_keys.clone(),
    };
    let _proxy = crate::sigproxy::Guard::start(mode.sig_proxy && !mode.tty, client, &id);
    if crate::session::run(attached, opts).await == crate::session::SessionEnd::Detached {
        return 0;
    }
    // Until the exit is known: a signal now still belongs to the container.
    let status = waiter.await;
    match status {
        Ok(w) => {
            if let Some(err) = w.error {
                eprintln!("berth: {}", err.message);
                return EXIT_BERTH;
            }
            w.status_code as i32
        }
        Err(e) => {
            eprintln!("berth: {e}");
            EXIT_BERTH
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_for_start_failures() {
        assert_eq!(
            start_failure_code("exec: \"nosuchcmd\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec: \"/etc\": is a directory"), 126);
        assert_eq!(start_failure_code("something else"), 125);
    }
}
