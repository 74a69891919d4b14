//! `berth update`: change a container's limits (live when it runs) and
//! restart policy.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub resources: super::hostflags::ResourceFlags,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let resources = match args.resources.to_resources() {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    let restart_policy = match args
        .restart
        .as_deref()
        .map(berth_api::container::RestartPolicy::parse)
    {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return super::fail(e),
        None => None,
    };
    let body = berth_api::container::UpdateRequest {
        resources,
        restart_policy,
        other: Default::default(),
    };
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut code = 0;
    for c in &args.containers {
        match client.container_update(c, &body).await {
            Ok(v) => {
                for w in &v.warnings {
                    eprintln!("WARNING: {w}");
                }
                println!("{c}");
            }
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}
