//! The arguments of the compose commands several modules share.

#[derive(Debug, Default, clap::Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Build images before starting containers.
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing.
    #[arg(long = "no-build")]
    pub no_build: bool,
    /// Recreate containers even if their configuration hasn't changed.
    #[arg(long = "force-recreate")]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long = "no-recreate")]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances.
    #[arg(long = "scale")]
    pub scale: Vec<String>,
    /// Wait for services to be running and healthy (implies detached).
    #[arg(long)]
    pub wait: bool,
    /// Maximum seconds to wait with --wait.
    #[arg(long = "wait-timeout")]
    pub wait_timeout: Option<u64>,
    /// Stop all containers if any container was stopped.
    #[arg(long = "abort-on-container-exit")]
    pub abort_on_container_exit: bool,
    /// Return the exit code of the selected service container.
    #[arg(long = "exit-code-from")]
    pub exit_code_from: Option<String>,
    /// Don't start linked services.
    #[arg(long = "no-deps")]
    pub no_deps: bool,
    /// Don't start the services after creating them.
    #[arg(long = "no-start")]
    pub no_start: bool,
    /// Produce monochrome output.
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Don't prefix the log lines with the container name.
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,
    /// Pull images before running (always, missing, never).
    #[arg(long)]
    pub pull: Option<String>,
    /// Seconds to wait when stopping containers.
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
    /// Print the plan without doing anything.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the volumes section and anonymous
    /// volumes attached to containers.
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    /// Remove images used by services: "local" (built ones) or "all".
    #[arg(long)]
    pub rmi: Option<String>,
    /// Remove containers for services not defined in the compose file.
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Seconds to wait when stopping containers.
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing.
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short = 's', long = "signal", default_value = "SIGKILL")]
    pub signal: String,
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Stop the containers first.
    #[arg(short = 's', long = "stop")]
    pub stop: bool,
    /// Remove anonymous volumes attached to containers.
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    pub services: Vec<String>,
}
