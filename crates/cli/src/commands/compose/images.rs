//! `compose build/pull/push`, and the images `up` and `run` need (built
//! with berth build's own path, or pulled, by the pull policy).

use std::collections::BTreeMap;

use berth_client::Client;
use berth_compose::apply::{self, progress};
use berth_compose::convert;
use berth_compose::plan;
use berth_compose::{Error, Project};
use clap::Parser;

use super::args::{ServicesArgs, UpArgs};
use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Do not use cache when building the image.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    /// Set build-time variables for services.
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Don't print anything to stdout.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Debug, Parser)]
struct BuildCli {
    #[command(flatten)]
    args: crate::commands::build::Args,
}

/// Builds one service's image with berth's builder (the `build` command's
/// own path: context tar, .dockerignore, progress).
async fn build_service(
    target: &Target,
    p: &Project,
    name: &str,
    opts: &BuildArgs,
) -> Result<(), Error> {
    let s = &p.services[name];
    let Some(b) = &s.build else {
        return Ok(());
    };
    let image = convert::image_name(p, name, s);
    let mut argv: Vec<String> = vec!["build".into(), "-t".into(), image.clone()];
    for t in &b.tags {
        argv.extend(["-t".into(), t.clone()]);
    }
    if let Some(d) = &b.dockerfile {
        let path = std::path::Path::new(d);
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::path::Path::new(&b.context).join(path)
        };
        argv.extend(["-f".into(), full.display().to_string()]);
    }
    for (k, v) in &b.args {
        match v {
            Some(v) => argv.extend(["--build-arg".into(), format!("{k}={v}")]),
            None => {
                if let Some(v) = p.variables.get(k) {
                    argv.extend(["--build-arg".into(), format!("{k}={v}")]);
                }
            }
        }
    }
    for a in &opts.build_args {
        argv.extend(["--build-arg".into(), a.clone()]);
    }
    if let Some(t) = &b.target {
        argv.extend(["--target".into(), t.clone()]);
    }
    if !b.cache_from.is_empty() {
        argv.extend(["--cache-from".into(), b.cache_from.join(",")]);
    }
    for (k, v) in &b.labels {
        argv.extend(["--label".into(), format!("{k}={v}")]);
    }
    if let Some(n) = &b.network {
        argv.extend(["--network".into(), n.clone()]);
    }
    if let Some(size) = b.shm_size {
        argv.extend(["--shm-size".into(), size.to_string()]);
    }
    for h in &b.extra_hosts {
        argv.extend(["--add-host".into(), h.clone()]);
    }
    for (n, u) in &b.ulimits {
        argv.extend(["--ulimit".into(), format!("{n}={}:{}", u.soft, u.hard)]);
    }
    for sref in &b.secrets {
        let def = p.secrets.get(&sref.source).ok_or_else(|| {
            Error::Project(format!(
                "service {name:?} build refers to undefined secret {}",
                sref.source
            ))
        })?;
        let file = def.file.clone().ok_or_else(|| {
            Error::Unsupported(format!("build secret {:?} not from a file", sref.source))
        })?;
        let id = sref.target.clone().unwrap_or_else(|| sref.source.clone());
        argv.extend(["--secret".into(), format!("id={id},src={file}")]);
    }
    if opts.no_cache || b.no_cache {
        argv.push("--no-cache".into());
    }
    if opts.pull || b.pull {
        argv.push("--pull".into());
    }
    if opts.quiet {
        argv.push("-q".into());
    }
    argv.extend(["--progress".into(), "plain".into()]);
    argv.push(b.context.clone());
    let cli = BuildCli::try_parse_from(&argv)
        .map_err(|e| Error::Failed(format!("building {name}: {e}")))?;
    let code = crate::commands::build::run(cli.args, target).await;
    if code != 0 {
        return Err(Error::Failed(format!(
            "failed to build service {name:?}: exit status {code}"
        )));
    }
    Ok(())
}

pub async fn build(
    _client: &Client,
    target: &Target,
    p: &Project,
    a: &BuildArgs,
) -> Result<i32, Error> {
    let chosen = plan::selected(p, &a.services, true)?;
    for name in &chosen {
        build_service(target, p, name, a).await?;
    }
    Ok(0)
}

async fn pull_image(client: &Client, image: &str) -> Result<(), Error> {
    let (repo, mut tag) = crate::commands::pull::split(image);
    if tag.is_empty() {
        tag = "latest".into();
    }
    let mut stream = client.image_pull(&repo, &tag).await?;
    let mut lines = berth_client::demux::JsonLines::default();
    while let Some(chunk) = stream.next().await? {
        lines.feed(&chunk);
        while let Some(m) = lines.next_message::<serde_json::Value>() {
            let m = m.map_err(|e| Error::Failed(format!("pulling {image}: {e}")))?;
            if let Some(e) = m["error"].as_str() {
                return Err(Error::Failed(e.to_string()));
            }
        }
    }
    Ok(())
}

pub async fn pull(
    client: &Client,
    _target: &Target,
    p: &Project,
    a: &ServicesArgs,
) -> Result<i32, Error> {
    let chosen = plan::selected(p, &a.services, true)?;
    for name in &chosen {
        let s = &p.services[name];
        let Some(image) = &s.image else { continue };
        if s.build.is_some() && apply::image_id(client, image).await.is_some() {
            continue;
        }
        progress("", name, "Pulling");
        match pull_image(client, image).await {
            Ok(()) => progress("", name, "Pulled"),
            Err(e) if s.build.is_some() => {
                eprintln!(" {name}  Skipped: {e} (it is built)");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}

pub async fn push(target: &Target, p: &Project, a: &ServicesArgs) -> Result<i32, Error> {
    let chosen = plan::selected(p, &a.services, true)?;
    for name in &chosen {
        let s = &p.services[name];
        let Some(image) = &s.image else { continue };
        progress("", name, "Pushing");
        let args = crate::commands::push::Args {
            all_tags: false,
            quiet: true,
            name: image.clone(),
        };
        if crate::commands::push::run(args, target).await != 0 {
            return Err(Error::Failed(format!("failed to push {image}")));
        }
        progress("", name, "Pushed");
    }
    Ok(0)
}

/// Builds or pulls what the services need; their image ids.
pub(super) async fn ensure_images(
    client: &Client,
    target: &Target,
    p: &Project,
    services: &[String],
    a: &UpArgs,
) -> Result<BTreeMap<String, String>, Error> {
    let mut ids = BTreeMap::new();
    for name in services {
        let s = &p.services[name];
        let image = convert::image_name(p, name, s);
        let policy = a
            .pull
            .clone()
            .or_else(|| s.pull_policy.clone())
            .unwrap_or_else(|| "missing".into());
        let present = apply::image_id(client, &image).await;
        if s.build.is_some() && !a.no_build && (a.build || present.is_none() || policy == "build") {
            let opts = BuildArgs {
                no_cache: false,
                pull: false,
                build_args: Vec::new(),
                quiet: false,
                services: Vec::new(),
            };
            build_service(target, p, name, &opts).await?;
        } else if s.build.is_none() || present.is_none() {
            let pull = match policy.as_str() {
                "always" => true,
                "never" => false,
                "missing" | "if_not_present" | "build" => present.is_none(),
                other => {
                    return Err(Error::Project(format!(
                        "invalid pull policy {other:?} for service {name}"
                    )))
                }
            };
            if pull {
                progress("", name, "Pulling");
                pull_image(client, &image).await?;
                progress("", name, "Pulled");
            } else if present.is_none() {
                return Err(Error::Failed(format!(
                    "no such image: {image} (service {name})"
                )));
            }
        }
        if let Some(id) = apply::image_id(client, &image).await {
            ids.insert(name.clone(), id);
        }
    }
    Ok(ids)
}
