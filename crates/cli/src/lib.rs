//! The `berth` command line: Docker's commands, flags, output and exit
//! codes, talking to the daemon only through the Engine API.

pub mod commands;
pub mod connect;
pub mod dockercfg;
pub mod format;
pub mod human;
pub mod output;
pub mod session;
pub mod sigproxy;

use clap::{Parser, Subcommand};

use commands::*;

/// Exit code when berth itself fails (docker's 125).
pub const EXIT_BERTH: i32 = 125;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "A container engine that speaks the Docker Engine API",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Daemon socket to connect to (unix://PATH); also BERTH_HOST.
    #[arg(short = 'H', long = "host", global = true, env = "BERTH_HOST")]
    pub host: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the client and daemon versions.
    Version(version::Args),
    /// Show system-wide information.
    Info(info::Args),
    /// List images.
    #[command(alias = "image-ls")]
    Images(images::Args),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Download an image from a registry.
    Pull(pull::Args),
    /// Log in to a registry.
    Login(login::LoginArgs),
    /// Log out from a registry.
    Logout(login::LogoutArgs),
    /// Upload an image to a registry.
    Push(push::Args),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// List port mappings or a specific mapping for the container.
    Port(port::PortArgs),
    /// Manage Berth (df, prune, info, events).
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(tag::Args),
    /// Remove one or more images.
    Rmi(rmi::Args),
    /// Import a rootfs tarball to create an image.
    Import(import::Args),
    /// Load images from a tar archive.
    Load(load::Args),
    /// Save images to a tar archive.
    Save(save::Args),
    /// Create a new container.
    Create(create::CreateArgs),
    /// Start stopped containers.
    Start(start::Args),
    /// Create and run a new container from an image.
    Run(run::Args),
    /// List containers.
    Ps(ps::Args),
    /// Fetch the logs of a container.
    Logs(logs::Args),
    /// Remove one or more containers.
    Rm(rm::Args),
    /// Return low-level information on containers or images.
    Inspect(inspect::Args),
    /// Block until containers stop, then print their exit codes.
    Wait(wait::Args),
    /// Stop running containers (the stop signal, then SIGKILL after the timeout).
    Stop(stop::Args),
    /// Restart containers.
    Restart(stop::Args),
    /// Send a signal to running containers.
    Kill(kill::Args),
    /// Build an image from a Dockerfile.
    Build(build::Args),
    /// Show the history of an image.
    History(history::Args),
    /// Manage builds (prune the build cache).
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// Rename a container.
    Rename(rename::Args),
    /// Search registries for images (not supported yet).
    Search(search::Args),
    /// Display the running processes of a container.
    Top(top::Args),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(diff::Args),
    /// Get real time events from the daemon.
    Events(events::Args),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(start::AttachArgs),
    /// Execute a command in a running container.
    Exec(exec::Args),
    /// Pause all processes within containers.
    Pause(pause::Args),
    /// Unpause all processes within containers.
    Unpause(pause::Args),
    /// Update the resource limits or restart policy of containers.
    Update(update::Args),
    /// Display a live stream of container resource usage statistics.
    Stats(stats::Args),
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::Args),
    /// Create a new image from a container's changes.
    Commit(commit::Args),
    /// Export a container's filesystem as a tar archive.
    Export(commit::ExportArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Define and run multi-container applications.
    Compose(commands::compose::ComposeArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images.
    #[command(alias = "list")]
    Ls(images::Args),
    /// Display detailed information on one or more images.
    Inspect(inspect::ImageArgs),
    /// Remove one or more images.
    Rm(rmi::Args),
    /// Create a tag.
    Tag(tag::Args),
    /// Import a rootfs tarball.
    Import(import::Args),
    /// Load images from a tar archive.
    Load(load::Args),
    /// Save images to a tar archive.
    Save(save::Args),
    /// Remove unused images.
    Prune(image_prune::Args),
    /// Show the history of an image.
    History(history::Args),
    /// Build an image from a Dockerfile.
    Build(Box<build::Args>),
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// List containers.
    #[command(alias = "list")]
    Ls(ps::Args),
    Create(create::CreateArgs),
    Start(start::Args),
    Run(run::Args),
    Logs(logs::Args),
    Rm(rm::Args),
    Inspect(inspect::ContainerArgs),
    Wait(wait::Args),
    Stop(stop::Args),
    Restart(stop::Args),
    Kill(kill::Args),
    Rename(rename::Args),
    Top(top::Args),
    Diff(diff::Args),
    Attach(start::AttachArgs),
    Exec(exec::Args),
    Pause(pause::Args),
    Unpause(pause::Args),
    Update(update::Args),
    Stats(stats::Args),
    Cp(cp::Args),
    Commit(commit::Args),
    Export(commit::ExportArgs),
    /// Remove all stopped containers.
    Prune(prune::Args),
}

/// Parses `args` (without the program name check) and runs the command;
/// returns the process exit code.
pub async fn main(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => EXIT_BERTH,
            };
            let _ = e.print();
            return code;
        }
    };
    let target = match connect::Target::from_host(cli.host.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("berth: {e}");
            return EXIT_BERTH;
        }
    };
    run_command(cli.command, &target).await
}

async fn run_command(command: Command, target: &connect::Target) -> i32 {
    match command {
        Command::Version(a) => version::run(a, target).await,
        Command::Info(a) => info::run(a, target).await,
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(a, target).await,
        Command::Image(ImageCommand::Inspect(a)) => inspect::run_image(a, target).await,
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(a, target).await,
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(a, target).await,
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => {
            import::run(a, target).await
        }
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(a, target).await,
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save::run(a, target).await,
        Command::Image(ImageCommand::Prune(a)) => image_prune::run(a, target).await,
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            history::run(a, target).await
        }
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            create::run(a, target).await
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            start::run(a, target).await
        }
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => run::run(a, target).await,
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => ps::run(a, target).await,
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            logs::run(a, target).await
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => rm::run(a, target).await,
        Command::Inspect(a) => inspect::run(a, target).await,
        Command::Container(ContainerCommand::Inspect(a)) => inspect::run_container(a, target).await,
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            wait::run(a, target).await
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            stop::run(a, target, false).await
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            stop::run(a, target, true).await
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            kill::run(a, target).await
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            rename::run(a, target).await
        }
        Command::Search(a) => search::run(a).await,
        Command::Build(a) => build::run(a, target).await,
        Command::Image(ImageCommand::Build(a)) => build::run(*a, target).await,
        Command::Builder(c) => build::run_builder(c, target).await,
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => top::run(a, target).await,
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => {
            diff::run(a, target).await
        }
        Command::Container(ContainerCommand::Prune(a)) => prune::run(a, target).await,
        Command::Events(a) => events::run(a, target).await,
        Command::Volume(c) => volume::run(c, target).await,
        Command::Pull(a) => pull::run(a, target).await,
        Command::Login(a) => login::login(a, target).await,
        Command::Logout(a) => login::logout(a).await,
        Command::Push(a) => push::run(a, target).await,
        Command::Network(c) => network::run(c, target).await,
        Command::Port(a) => port::run(a, target).await,
        Command::System(c) => system::run(c, target).await,
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            pause::run(a, target, true).await
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            pause::run(a, target, false).await
        }
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            update::run(a, target).await
        }
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            stats::run(a, target).await
        }
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => cp::run(a, target).await,
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            commit::run(a, target).await
        }
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            commit::export(a, target).await
        }
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            start::attach(a, target).await
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            exec::run(a, target).await
        }
        Command::Compose(a) => commands::compose::run(a, target).await,
    }
}
