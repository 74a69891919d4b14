//! `berth exec`.

use crate::connect::Target;
use crate::session::{Resize, SessionOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Detached mode: run the command in the background.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    pub container: String,
    /// Command and arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let mut env = Vec::new();
    for path in &args.env_file {
        match std::fs::read_to_string(path) {
            Ok(text) => match super::create::parse_env_file(&text, path) {
                Ok(e) => env.extend(e),
                Err(e) => return super::fail(e),
            },
            Err(e) => return super::fail(format!("open {path}: {e}")),
        }
    }
    env.extend(args.env.iter().cloned());
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let config = berth_api::exec::ExecCreate {
        attach_stdin: args.interactive && !args.detach,
        attach_stdout: !args.detach,
        attach_stderr: !args.detach,
        tty: args.tty,
        env,
        cmd: args.command.clone(),
        working_dir: args.workdir.clone().unwrap_or_default(),
        user: args.user.clone().unwrap_or_default(),
        privileged: args.privileged,
        detach_keys: args.detach_keys.clone().unwrap_or_default(),
        console_size: None,
    };
    let exec_id = match client.exec_create(&args.container, &config).await {
        Ok(id) => id,
        Err(e) => return super::fail(e),
    };
    if args.detach {
        return match client.exec_start_detached(&exec_id).await {
            Ok(()) => 0,
            Err(e) => super::fail(e),
        };
    }
    let attached = match client.exec_start_attached(&exec_id, args.tty).await {
        Ok(a) => a,
        Err(e) => {
            let msg = e.to_string();
            eprintln!("{msg}");
            return super::run::start_failure_code(&msg);
        }
    };
    let resize: Option<Resize> = args.tty.then(|| {
        let (client, exec_id) = (client.clone(), exec_id.clone());
        let f: Resize = Box::new(move |rows, cols| {
            let (client, exec_id) = (client.clone(), exec_id.clone());
            Box::pin(async move {
                let _ = client.exec_resize(&exec_id, rows, cols).await;
            })
        });
        f
    });
    let end = crate::session::run(
        attached,
        SessionOptions {
            tty: args.tty,
            stdin: args.interactive,
            resize,
            detach_keys: args.detach_keys.clone(),
        },
    )
    .await;
    if end == crate::session::SessionEnd::Detached {
        return 0;
    }
    match client.exec_inspect(&exec_id).await {
        Ok(i) => i.exit_code.unwrap_or(0) as i32,
        Err(e) => super::fail(e),
    }
}
