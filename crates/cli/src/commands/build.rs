//! `berth build PATH | -`: sends the context (minus what `.dockerignore`
//! excludes) as a tar to `POST /build` and prints the build's output, as
//! `docker build` with the legacy builder does.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name and optionally a tag in the "name:tag" format (several allowed).
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile").
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Do not cache the named stages (several, or comma-separated).
    #[arg(long = "no-cache-filter", value_delimiter = ',')]
    pub no_cache_filter: Vec<String>,
    /// Always attempt to pull a newer version of the base images.
    #[arg(long)]
    pub pull: bool,
    /// Set metadata for an image (KEY=VALUE).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Suppress the build output and print the image ID on success.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Set the networking mode for the RUN instructions during build.
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Set platform (only the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Write the image ID to the file.
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip) for RUN steps.
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Memory limit of RUN steps.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit of RUN steps (memory + swap; -1: unlimited).
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight) of RUN steps.
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// CPUs in which RUN steps may execute (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// CPU CFS period of RUN steps.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// CPU CFS quota of RUN steps.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// Size of /dev/shm in RUN containers (64m when not given).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Ulimit options for RUN containers (nofile=1024:2048).
    #[arg(long = "ulimit")]
    pub ulimits: Vec<String>,
    /// Images to consider as cache sources.
    #[arg(long = "cache-from", value_delimiter = ',')]
    pub cache_from: Vec<String>,
    /// Secret to expose to RUN --mount=type=secret (id=NAME,src=FILE or id=NAME,env=VAR).
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// Remove intermediate containers after a successful build.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub rm: bool,
    /// Always remove intermediate containers, even after a failed step.
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Type of progress output: auto (a compact live view on a terminal),
    /// plain (the legacy builder's lines), tty.
    #[arg(long, default_value = "auto")]
    pub progress: String,
    pub path: String,
}

/// `KEY=VALUE` (or `KEY`, from the environment) pairs as a JSON object.
fn pairs_json(items: &[String], from_env: bool) -> Result<String, String> {
    let mut map = serde_json::Map::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) => {
                map.insert(k.to_string(), Value::String(v.to_string()));
            }
            None if from_env => {
                if let Ok(v) = std::env::var(i) {
                    map.insert(i.clone(), Value::String(v));
                }
            }
            None => {
                map.insert(i.clone(), Value::String(String::new()));
            }
        }
    }
    serde_json::to_string(&map).map_err(|e| e.to_string())
}

/// The context's files (relative, `/`-separated) the build may see.
fn context_files(
    root: &Path,
    matcher: &berth_builder::ignore::Matcher,
    keep: &[String],
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let dir = root.join(&rel);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let r = if rel.as_os_str().is_empty() {
                n.clone()
            } else {
                format!("{}/{n}", rel.display())
            };
            let is_dir = root.join(&r).symlink_metadata().is_ok_and(|m| m.is_dir());
            let ignored = !keep.contains(&r) && matcher.ignored(&r);
            if ignored && !(is_dir && matcher.has_exclusions()) {
                continue;
            }
            if !ignored {
                out.push(r.clone());
            }
            if is_dir {
                todo.push(PathBuf::from(r));
            }
        }
    }
    // Directories holding kept files travel too (an exception inside an
    // ignored directory).
    let mut parents = Vec::new();
    for f in &out {
        let mut p = f.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            parents.push(parent.to_string());
            p = parent;
        }
    }
    out.extend(parents);
    out.sort();
    out.dedup();
    Ok(out)
}

/// Writes the context tar to `w`: the files, plus an outside Dockerfile
/// under `extra` when given.
fn write_context(
    root: &Path,
    files: &[String],
    extra: Option<(&str, &[u8])>,
    w: impl Write,
) -> Result<(), String> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    for f in files {
        b.append_path_with_name(root.join(f), f)
            .map_err(|e| format!("adding {f} to the context: {e}"))?;
    }
    if let Some((name, bytes)) = extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, bytes)
            .map_err(|e| format!("adding the Dockerfile: {e}"))?;
    }
    b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| format!("writing the context: {e}"))
}

/// `--secret` values as the header berth's daemon reads: base64 of a JSON
/// object of ids to base64 contents.
fn secrets_header(specs: &[String]) -> Result<Option<String>, String> {
    use base64::Engine;
    if specs.is_empty() {
        return Ok(None);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut map = serde_json::Map::new();
    for spec in specs {
        let (mut id, mut src, mut env) = (None, None, None);
        for part in spec.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(v.to_string()),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", "file" | "env")) => {}
                _ => {
                    return Err(format!(
                        "invalid --secret {spec:?}: use id=NAME,src=FILE or id=NAME,env=VAR"
                    ))
                }
            }
        }
        let id = id.ok_or_else(|| format!("invalid --secret {spec:?}: no id"))?;
        let bytes = match (src, env) {
            (Some(f), _) => {
                std::fs::read(&f).map_err(|e| format!("reading secret {id} from {f}: {e}"))?
            }
            (None, Some(v)) => std::env::var(&v)
                .map_err(|_| format!("secret {id}: the environment variable {v} is not set"))?
                .into_bytes(),
            (None, None) => std::env::var(&id)
                .map_err(|_| format!("secret {id}: give src=FILE or env=VAR"))?
                .into_bytes(),
        };
        map.insert(id, Value::String(b64.encode(bytes)));
    }
    let json = serde_json::to_vec(&map).map_err(|e| e.to_string())?;
    Ok(Some(b64.encode(json)))
}

/// The terminal's width (80 when unknown).
fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .map(|w| usize::from(w.ws_col))
        .ok()
        .filter(|w| *w > 20)
        .unwrap_or(80)
}

fn looks_like_tar(bytes: &[u8]) -> bool {
    bytes.len() >= 262 && &bytes[257..262] == b"ustar"
}

/// The request body and the Dockerfile's name in it.
fn context_body(a: &Args) -> Result<(berth_client::RequestBody, String), String> {
    if a.path == "-" {
        let mut input = Vec::new();
        std::io::stdin()
            .read_to_end(&mut input)
            .map_err(|e| format!("reading the context from stdin: {e}"))?;
        if looks_like_tar(&input) || input.starts_with(&[0x1f, 0x8b]) {
            let name = a.file.clone().unwrap_or_default();
            return Ok((bytes_body(input), name));
        }
        // A Dockerfile alone: an empty context.
        let mut tar = Vec::new();
        write_context(Path::new("."), &[], Some(("Dockerfile", &input)), &mut tar)?;
        return Ok((bytes_body(tar), "Dockerfile".into()));
    }
    let remote = ["http://", "https://", "git://", "git@", "github.com/"];
    if remote.iter().any(|p| a.path.starts_with(p)) {
        return Err(format!(
            "unable to prepare context: building from a URL or git repository ({}) is not supported yet: clone or download it and build the directory",
            a.path
        ));
    }
    let root = PathBuf::from(&a.path);
    if !root.is_dir() {
        return Err(format!(
            "unable to prepare context: path {:?} not found",
            a.path
        ));
    }
    let (dockerfile_in_ctx, outside): (String, Option<Vec<u8>>) = match &a.file {
        None => ("Dockerfile".into(), None),
        Some(f) => {
            let p = PathBuf::from(f);
            let abs = std::fs::canonicalize(&p)
                .map_err(|e| format!("unable to prepare context: the Dockerfile {f}: {e}"))?;
            let root_abs = std::fs::canonicalize(&root).map_err(|e| e.to_string())?;
            match abs.strip_prefix(&root_abs) {
                Ok(rel) => (rel.to_string_lossy().into_owned(), None),
                Err(_) => {
                    let bytes = std::fs::read(&abs).map_err(|e| format!("reading {f}: {e}"))?;
                    (format!(".dockerfile.{}", std::process::id()), Some(bytes))
                }
            }
        }
    };
    let ignore_text = match &a.file {
        Some(f) => std::fs::read_to_string(format!("{f}.dockerignore")).ok(),
        None => None,
    }
    .or_else(|| std::fs::read_to_string(root.join(".dockerignore")).ok())
    .unwrap_or_default();
    let matcher = berth_builder::ignore::Matcher::new(&berth_builder::ignore::read(&ignore_text))
        .map_err(|e| format!("parsing .dockerignore: {e}"))?;
    let keep = vec![dockerfile_in_ctx.clone(), ".dockerignore".to_string()];
    let files = context_files(&root, &matcher, &keep)?;
    let (rd, wr): (OwnedFd, OwnedFd) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let name = dockerfile_in_ctx.clone();
    std::thread::spawn(move || {
        let w = std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::from(wr));
        let extra = outside.as_deref().map(|b| (name.as_str(), b));
        if let Err(e) = write_context(&root, &files, extra, w) {
            eprintln!("{e}");
        }
    });
    let reader = tokio::fs::File::from_std(std::fs::File::from(rd));
    Ok((super::file_body(reader), dockerfile_in_ctx))
}

fn bytes_body(bytes: Vec<u8>) -> berth_client::RequestBody {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes::Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed()
}

pub async fn run(a: Args, target: &Target) -> i32 {
    let live = match a.progress.as_str() {
        "plain" => false,
        "tty" => true,
        "auto" => std::io::IsTerminal::is_terminal(&std::io::stdout()),
        other => {
            return super::fail(format!(
                "invalid --progress value {other:?}: use auto, plain or tty"
            ))
        }
    } && !a.quiet;
    let (body, dockerfile) = match context_body(&a) {
        Ok(b) => b,
        Err(e) => return super::fail(e),
    };
    let secrets = match secrets_header(&a.secrets) {
        Ok(h) => h,
        Err(e) => return super::fail(e),
    };
    let client = match target.client().await {
        Ok(c) => match secrets {
            Some(h) => c.with_header("X-Berth-Build-Secrets", h),
            None => c,
        },
        Err(e) => return super::fail(e),
    };
    // As buildx: SOURCE_DATE_EPOCH from the environment is a build arg.
    let mut arg_items = a.build_args.clone();
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        if !arg_items
            .iter()
            .any(|b| b.split('=').next() == Some("SOURCE_DATE_EPOCH"))
        {
            arg_items.push(format!("SOURCE_DATE_EPOCH={v}"));
        }
    }
    let build_args = match pairs_json(&arg_items, true) {
        Ok(j) => j,
        Err(e) => return super::fail(e),
    };
    let labels = match pairs_json(&a.labels, false) {
        Ok(j) => j,
        Err(e) => return super::fail(e),
    };
    let mut q: Vec<(&str, String)> = vec![
        ("dockerfile", dockerfile),
        ("buildargs", build_args),
        ("labels", labels),
        ("networkmode", a.network.clone()),
        ("rm", if a.rm { "1" } else { "0" }.into()),
    ];
    if a.force_rm {
        q.push(("forcerm", "1".into()));
    }
    for t in &a.tags {
        q.push(("t", t.clone()));
    }
    if let Some(t) = &a.target {
        q.push(("target", t.clone()));
    }
    if a.no_cache {
        q.push(("nocache", "1".into()));
    }
    if !a.no_cache_filter.is_empty() {
        q.push((
            "nocachefilter",
            serde_json::to_string(&a.no_cache_filter).unwrap_or_default(),
        ));
    }
    if a.pull {
        q.push(("pull", "1".into()));
    }
    if a.quiet {
        q.push(("q", "1".into()));
    }
    if let Some(p) = &a.platform {
        q.push(("platform", p.clone()));
    }
    if !a.add_host.is_empty() {
        q.push(("extrahosts", a.add_host.join(",")));
    }
    for (key, value) in [("memory", &a.memory), ("memswap", &a.memory_swap)] {
        if let Some(v) = value {
            let bytes = if v == "-1" {
                Ok(-1)
            } else {
                super::hostflags::ram_in_bytes(v)
            };
            match bytes {
                Ok(b) => q.push((key, b.to_string())),
                Err(e) => return super::fail(format!("invalid --{key} {v:?}: {e}")),
            }
        }
    }
    for (key, value) in [
        ("cpushares", a.cpu_shares),
        ("cpuperiod", a.cpu_period),
        ("cpuquota", a.cpu_quota),
    ] {
        if let Some(v) = value {
            q.push((key, v.to_string()));
        }
    }
    if let Some(c) = &a.cpuset_cpus {
        q.push(("cpusetcpus", c.clone()));
    }
    if let Some(v) = &a.shm_size {
        match super::hostflags::ram_in_bytes(v) {
            Ok(b) => q.push(("shmsize", b.to_string())),
            Err(e) => return super::fail(format!("invalid --shm-size {v:?}: {e}")),
        }
    }
    if !a.ulimits.is_empty() {
        let list = match a
            .ulimits
            .iter()
            .map(|u| super::hostflags::ulimit(u))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(l) => l,
            Err(e) => return super::fail(e),
        };
        q.push(("ulimits", serde_json::to_string(&list).unwrap_or_default()));
    }
    if !a.cache_from.is_empty() {
        q.push((
            "cachefrom",
            serde_json::to_string(&a.cache_from).unwrap_or_default(),
        ));
    }
    let mut stream = match client.build(body, &q).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    let mut lines = berth_client::demux::JsonLines::default();
    let mut id = None;
    let width = terminal_width();
    let mut view = live.then(|| super::build_view::View::new(width));
    let mut handle = |msg: Value| -> Result<(), String> {
        if let Some(e) = msg["error"].as_str() {
            if let Some(v) = &mut view {
                v.failed();
            }
            return Err(e.to_string());
        }
        if let Some(s) = msg["stream"].as_str() {
            match &mut view {
                Some(v) => v.stream(s),
                None => {
                    print!("{s}");
                    let _ = std::io::stdout().flush();
                }
            }
        } else if let Some(s) = msg["status"].as_str() {
            if view.is_none() {
                println!("{s}");
            }
        }
        if let Some(i) = msg["aux"]["ID"].as_str() {
            id = Some(i.to_string());
        }
        Ok(())
    };
    let result: Result<(), String> = async {
        while let Some(chunk) = stream.next().await.map_err(|e| e.to_string())? {
            lines.feed(&chunk);
            while let Some(msg) = lines.next_message::<Value>() {
                handle(msg.map_err(|e| format!("decoding the daemon's answer: {e}"))?)?;
            }
        }
        if let Some(msg) = lines.finish::<Value>() {
            handle(msg.map_err(|e| format!("decoding the daemon's answer: {e}"))?)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        return super::fail(e);
    }
    if let Some(v) = &mut view {
        v.done();
    }
    let Some(id) = id else {
        return super::fail("the build ended without an image");
    };
    if a.quiet {
        println!("{id}");
    }
    if let Some(f) = &a.iidfile {
        if let Err(e) = std::fs::write(f, &id) {
            return super::fail(format!("writing {f}: {e}"));
        }
    }
    0
}

/// `berth builder ...`.
#[derive(Debug, clap::Subcommand)]
pub enum BuilderCommand {
    /// Remove build cache.
    Prune(PruneArgs),
    /// Build an image from a Dockerfile.
    Build(Box<Args>),
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused build cache, not just dangling ones.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Provide filter values (e.g. 'until=24h').
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

pub async fn run_builder(c: BuilderCommand, target: &Target) -> i32 {
    match c {
        BuilderCommand::Build(a) => run(*a, target).await,
        BuilderCommand::Prune(a) => prune(a, target).await,
    }
}

async fn prune(a: PruneArgs, target: &Target) -> i32 {
    let what = if a.all {
        "all build cache"
    } else {
        "all dangling build cache"
    };
    if let Err(code) = super::confirm(
        a.force,
        "builder prune",
        &format!("This will remove {what}."),
    ) {
        return code;
    }
    let filters = match super::filters_json(&a.filter) {
        Ok(f) => f,
        Err(e) => return super::fail(e),
    };
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let report = match client.build_prune(a.all, &filters).await {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    if !report.caches_deleted.is_empty() {
        println!("Deleted build cache objects:");
        for d in &report.caches_deleted {
            println!("{d}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::human::size(i64::try_from(report.space_reclaimed).unwrap_or(i64::MAX))
    );
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_honours_dockerignore() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("src/skip")).unwrap();
        std::fs::create_dir_all(r.join("logs")).unwrap();
        for f in [
            "Dockerfile",
            "src/a.txt",
            "src/skip/x",
            "logs/1.log",
            "logs/keep.log",
            "secret.env",
        ] {
            std::fs::write(r.join(f), "x").unwrap();
        }
        let patterns =
            berth_builder::ignore::read("logs\n!logs/keep.log\n*.env\nsrc/skip\nDockerfile\n");
        let m = berth_builder::ignore::Matcher::new(&patterns).unwrap();
        let files = context_files(r, &m, &["Dockerfile".into()]).unwrap();
        assert_eq!(
            files,
            vec!["Dockerfile", "logs", "logs/keep.log", "src", "src/a.txt"],
            "ignored files stay out; exceptions and the Dockerfile stay in"
        );
        assert_eq!(
            pairs_json(&["A=1".into(), "B".into()], false).unwrap(),
            r#"{"A":"1","B":""}"#
        );
    }
}
