//! `berth compose`: Docker Compose's commands over berth-compose (the
//! model, the plan and its execution) and the Engine API client.

mod args;
mod images;
mod lifecycle;
mod logs;
mod run;
mod view;
mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_compose::{LoadOptions, Project};

use crate::connect::Target;

/// The options every compose command takes.
#[derive(Debug, clap::Args)]
pub struct ComposeArgs {
    /// Compose configuration files.
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Alternate working directory (default: the first file's directory).
    #[arg(long = "project-directory")]
    pub project_directory: Option<PathBuf>,
    /// Alternate environment files (default: .env).
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Profiles to enable.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Progress output: auto (a live view on a terminal, else plain),
    /// tty, plain or quiet.
    #[arg(long = "progress", default_value = "auto")]
    pub progress: String,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ComposeCommand {
    /// Create and start containers.
    Up(args::UpArgs),
    /// Stop and remove containers, networks (and volumes, images).
    Down(args::DownArgs),
    /// Create containers without starting them.
    Create(args::UpArgs),
    /// Start existing containers.
    Start(args::ServicesArgs),
    /// Stop running containers.
    Stop(args::StopArgs),
    /// Restart containers.
    Restart(args::StopArgs),
    /// Kill containers.
    Kill(args::KillArgs),
    /// Remove stopped containers.
    Rm(args::RmArgs),
    /// Pause containers.
    Pause(args::ServicesArgs),
    /// Unpause containers.
    Unpause(args::ServicesArgs),
    /// Build or rebuild services.
    Build(images::BuildArgs),
    /// Pull service images.
    Pull(args::ServicesArgs),
    /// Push service images.
    Push(args::ServicesArgs),
    /// List containers.
    Ps(view::PsArgs),
    /// List running compose projects.
    Ls(view::LsArgs),
    /// View output from containers.
    Logs(logs::LogsArgs),
    /// Print the resolved model.
    Config(view::ConfigArgs),
    /// List images used by the created containers.
    Images(args::ServicesArgs),
    /// Print the public port of a port binding.
    Port(view::PortArgs),
    /// Display the running processes.
    Top(args::ServicesArgs),
    /// Execute a command in a running service container.
    Exec(view::ExecArgs),
    /// Block until the first container of the services stops.
    Wait(args::ServicesArgs),
    /// Show the compose version.
    Version(view::VersionArgs),
    /// Run a one-off command on a service.
    Run(run::RunArgs),
    /// Copy files between a service container and the host.
    Cp(view::CpArgs),
    /// Rebuild or sync services when files change.
    Watch(watch::WatchArgs),
}

/// Prints a compose failure and returns docker compose's exit code.
pub(crate) fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("{e}");
    1
}

/// Loads the project the options point at.
pub(crate) fn load(args: &ComposeArgs) -> Result<Project, berth_compose::Error> {
    let environ: BTreeMap<String, String> = std::env::vars().collect();
    let mut profiles = args.profiles.clone();
    if profiles.is_empty() {
        if let Some(p) = environ.get("COMPOSE_PROFILES") {
            profiles = p.split(',').map(str::to_string).collect();
        }
    }
    berth_compose::load(&LoadOptions {
        files: args.files.clone(),
        project_name: args
            .project_name
            .clone()
            .or_else(|| environ.get("COMPOSE_PROJECT_NAME").cloned()),
        project_directory: args.project_directory.clone(),
        env_files: args.env_files.clone(),
        profiles,
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        environ,
    })
}

pub async fn run(args: ComposeArgs, target: &Target) -> i32 {
    use berth_compose::progress::{set_mode, Mode};
    use std::io::IsTerminal;
    match args.progress.as_str() {
        "auto" if std::io::stderr().is_terminal() => set_mode(Mode::Tty),
        "auto" | "plain" => set_mode(Mode::Plain),
        "tty" => set_mode(Mode::Tty),
        "quiet" => set_mode(Mode::Quiet),
        other => {
            return fail(format!(
                "unsupported --progress {other:?}: use auto, tty, plain or quiet"
            ))
        }
    }
    match &args.command {
        ComposeCommand::Config(a) => return view::config(&args, a),
        ComposeCommand::Version(a) => return view::version(a),
        _ => {}
    }
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    if let ComposeCommand::Ls(a) = &args.command {
        return view::ls(&client, a).await;
    }
    let project = match load(&args) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let result = match &args.command {
        ComposeCommand::Up(a) => lifecycle::up(&client, target, &project, a, false).await,
        ComposeCommand::Create(a) => lifecycle::up(&client, target, &project, a, true).await,
        ComposeCommand::Down(a) => lifecycle::down(&client, &project, a).await,
        ComposeCommand::Start(a) => lifecycle::simple(&client, &project, a, "start").await,
        ComposeCommand::Pause(a) => lifecycle::simple(&client, &project, a, "pause").await,
        ComposeCommand::Unpause(a) => lifecycle::simple(&client, &project, a, "unpause").await,
        ComposeCommand::Stop(a) => lifecycle::stop(&client, &project, a, false).await,
        ComposeCommand::Restart(a) => lifecycle::stop(&client, &project, a, true).await,
        ComposeCommand::Kill(a) => lifecycle::kill(&client, &project, a).await,
        ComposeCommand::Rm(a) => lifecycle::rm(&client, &project, a).await,
        ComposeCommand::Build(a) => images::build(&client, target, &project, a).await,
        ComposeCommand::Pull(a) => images::pull(&client, target, &project, a).await,
        ComposeCommand::Push(a) => images::push(target, &project, a).await,
        ComposeCommand::Images(a) => view::images(&client, &project, a).await,
        ComposeCommand::Top(a) => view::top(&client, &project, a).await,
        ComposeCommand::Wait(a) => lifecycle::wait(&client, &project, a).await,
        ComposeCommand::Ps(a) => view::ps(&client, &project, a).await,
        ComposeCommand::Logs(a) => logs::logs(&client, &project, a).await,
        ComposeCommand::Port(a) => view::port(&client, &project, a).await,
        ComposeCommand::Exec(a) => view::exec(target, &project, a).await,
        ComposeCommand::Run(a) => run::run_oneoff(&client, target, &project, a).await,
        ComposeCommand::Cp(a) => view::cp(target, &project, a).await,
        ComposeCommand::Watch(a) => watch::watch(&client, target, &project, a).await,
        ComposeCommand::Ls(_) | ComposeCommand::Config(_) | ComposeCommand::Version(_) => Ok(0),
    };
    match result {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// The containers of the named services (all when none), not one-off.
async fn containers(
    client: &berth_client::Client,
    p: &Project,
    services: &[String],
) -> Result<Vec<berth_compose::plan::Observed>, berth_compose::Error> {
    for s in services {
        if !p.services.contains_key(s) {
            return Err(berth_compose::Error::Project(format!(
                "no such service: {s}"
            )));
        }
    }
    let mut list: Vec<berth_compose::plan::Observed> =
        berth_compose::apply::observe(client, &p.name)
            .await?
            .into_iter()
            .filter(|o| !o.oneoff && (services.is_empty() || services.contains(&o.service)))
            .collect();
    list.sort_by(|a, b| a.service.cmp(&b.service).then(a.number.cmp(&b.number)));
    Ok(list)
}
