//! `POST /build`: the context tar (already trimmed by `.dockerignore` on
//! the client's side, as Docker's clients do) is unpacked safely into a
//! private directory; the Dockerfile is parsed and
//! planned (berth-builder); the stages the target needs are built in
//! order, each step looked up in the build cache first (`cache.rs`; keys
//! from berth-builder) and otherwise executed: metadata instructions as a
//! new config without a layer, RUN in a container (`run.rs`), COPY/ADD by
//! staging the files as the new layer (`copy.rs`). Progress is the legacy
//! builder's JSON stream (`Step N/M : ...`, ` ---> Using cache`,
//! ` ---> <id>`, `Successfully built`, `Successfully tagged`, an `aux` ID).

pub mod backlog;
mod cache;
mod copy;
mod prune;
mod run;
mod stage;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tokio::sync::mpsc;

pub use backlog::Backlog;
pub use prune::{prune, Pruned};

use crate::{Engine, Error};

/// What a build asks for (`POST /build` parameters).
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// `t` (several).
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// Stages (names) built without the cache (`--no-cache-filter`).
    pub no_cache_filter: Vec<String>,
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    /// `networkmode` for RUN (`default`, `none`, `host`, a network).
    pub network: String,
    /// `platform`; only the host's.
    pub platform: String,
    /// Secrets for `RUN --mount=type=secret`, by id.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// Host settings of RUN containers.
    pub run: RunSettings,
    /// `cachefrom`: images whose build steps may stand in for local cache
    /// entries.
    pub cache_from: Vec<String>,
}

/// Host settings every RUN container of a build gets.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// `extrahosts` (`host:ip`).
    pub extra_hosts: Vec<String>,
    /// Memory and CPU limits.
    pub resources: berth_api::container::Resources,
    /// `shmsize`: `/dev/shm`'s size in bytes (0: the default).
    pub shm_size: i64,
    /// `ulimits`.
    pub ulimits: Vec<berth_api::container::Ulimit>,
    /// What becomes of RUN containers once their step is over.
    pub intermediates: Intermediates,
    /// Set by [`build`]: labels the RUN containers the build removes, so
    /// a cancelled build (or a killed daemon) finds them.
    pub build_id: String,
    /// The output its client has not taken yet; RUN output waits on it.
    pub backlog: Backlog,
}

/// The legacy builder's `rm` and `forcerm`: which intermediate (RUN)
/// containers are removed when their step ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Intermediates {
    /// `rm=1` (the default): removed after a successful step; a failed
    /// step's container stays for inspection, as Docker leaves it.
    #[default]
    RemoveOnSuccess,
    /// `forcerm=1`: removed whatever the outcome.
    AlwaysRemove,
    /// `rm=0`: every one kept.
    Keep,
}

impl Intermediates {
    /// From `rm` and `forcerm` (`forcerm` wins, as in Docker).
    pub fn from_flags(rm: bool, forcerm: bool) -> Intermediates {
        match (rm, forcerm) {
            (_, true) => Intermediates::AlwaysRemove,
            (true, false) => Intermediates::RemoveOnSuccess,
            (false, false) => Intermediates::Keep,
        }
    }

    /// Whether a step's container goes, given how the step ended.
    pub fn removes(self, succeeded: bool) -> bool {
        match self {
            Intermediates::RemoveOnSuccess => succeeded,
            Intermediates::AlwaysRemove => true,
            Intermediates::Keep => false,
        }
    }
}

/// At daemon start: removes the RUN step containers of builds that a
/// killed daemon left behind (each build removes its own as it goes).
pub async fn remove_left_steps(engine: &Engine) {
    remove_steps(engine, None).await;
}

/// Removes the RUN containers of build `id` (of every build with `None`)
/// that their build would have removed.
async fn remove_steps(engine: &Engine, id: Option<&str>) {
    let label = match id {
        Some(id) => format!("{}={id}", run::STEP_LABEL),
        None => run::STEP_LABEL.to_string(),
    };
    let opts = crate::container::ListOptions {
        all: true,
        limit: None,
        filters: std::collections::HashMap::from([("label".to_string(), vec![label])]),
    };
    let left = match engine.containers.list(&opts) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "listing left build containers failed");
            return;
        }
    };
    for c in left {
        if let Err(e) = engine.containers.remove(&c.id, true, true).await {
            tracing::warn!(id = %c.id, error = %e, "removing a left build container failed");
        }
    }
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

pub(crate) fn say(tx: &mpsc::UnboundedSender<Value>, text: impl Into<String>) {
    let _ = tx.send(json!({ "stream": text.into() }));
}

/// A private directory of the build, removed when dropped.
struct Workdir(PathBuf);

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds from the context tar read from `context`; the image id. When
/// the receiver of `tx` goes (the client left), the build stops: its
/// running step is abandoned and the step containers it would remove are
/// removed.
pub async fn build(
    engine: &Engine,
    mut req: BuildRequest,
    context: Box<dyn Read + Send>,
    tx: mpsc::UnboundedSender<Value>,
) -> Result<String, Error> {
    let id = crate::ids::new_id();
    req.run.build_id = id.clone();
    let gone = tx.clone();
    tokio::select! {
        built = build_inner(engine, req, context, tx) => built,
        () = gone.closed() => {
            remove_steps(engine, Some(&id)).await;
            Err(Error::Internal("the build was cancelled: its client went away".into()))
        }
    }
}

async fn build_inner(
    engine: &Engine,
    req: BuildRequest,
    mut context: Box<dyn Read + Send>,
    tx: mpsc::UnboundedSender<Value>,
) -> Result<String, Error> {
    if !req.platform.is_empty() {
        let host = format!("linux/{}", berth_builder::plan::host_arch());
        if req.platform != host && req.platform != "linux" {
            return Err(Error::InvalidArgument(format!(
                "building for {} is not supported: only the host's platform ({host})",
                req.platform
            )));
        }
    }
    let work = Workdir(
        engine
            .config
            .paths
            .build_work()
            .join(crate::ids::short(&crate::ids::new_id())),
    );
    let ctx = work.0.join("context");
    std::fs::create_dir_all(&ctx).map_err(Error::io("creating", &ctx))?;
    let c = ctx.clone();
    tokio::task::spawn_blocking(move || -> Result<(), Error> {
        // The context's owners never reach an image: COPY and ADD give
        // files 0:0 or `--chown`'s owner.
        let opts = berth_image::fsops::ExtractOptions {
            caller_owns: true,
            ..Default::default()
        };
        berth_image::fsops::extract_into(&c, "/", &mut context, &opts)?;
        Ok(())
    })
    .await
    .map_err(|e| Error::Internal(format!("context task failed: {e}")))??;

    let dockerfile = if req.dockerfile.is_empty() {
        "Dockerfile".to_string()
    } else {
        berth_builder::ignore::clean(&req.dockerfile)
            .trim_start_matches('/')
            .to_string()
    };
    if dockerfile.split('/').any(|c| c == "..") {
        return Err(Error::InvalidArgument(format!(
            "the Dockerfile ({}) must be within the build context",
            req.dockerfile
        )));
    }
    let df_path = ctx.join(&dockerfile);
    let text = std::fs::read_to_string(&df_path).map_err(|_| {
        Error::InvalidArgument(format!(
            "Cannot locate specified Dockerfile: {}",
            dockerfile
        ))
    })?;
    // `.dockerignore` is applied by the client when it makes the context
    // (as Docker's clients do). A Dockerfile from outside the context,
    // sent as `.dockerfile.<n>`, is not part of it.
    if dockerfile.starts_with(".dockerfile.") && !dockerfile.contains('/') {
        let _ = std::fs::remove_file(&df_path);
    }
    remove_ignored_control_files(&ctx, &dockerfile)?;
    let df =
        berth_builder::dockerfile::parse(&text, &dockerfile).map_err(|e| Error::BuildFailed {
            message: format!("dockerfile parse error: {e}"),
            code: 1,
        })?;
    let plan =
        berth_builder::plan::plan(&df, req.target.as_deref(), &req.build_args).map_err(|e| {
            Error::BuildFailed {
                message: e.to_string(),
                code: 1,
            }
        })?;
    let globals =
        berth_builder::plan::global_args(&df, &req.build_args).map_err(|e| Error::BuildFailed {
            message: format!("{dockerfile}: {e}"),
            code: 1,
        })?;
    let total: usize = plan
        .stages
        .iter()
        .map(|s| 1 + df.stages[s.index].steps.len())
        .sum();
    let epoch = match req.build_args.get("SOURCE_DATE_EPOCH") {
        None => None,
        Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
            Error::InvalidArgument(format!(
                "invalid SOURCE_DATE_EPOCH {v:?}: use seconds since 1970"
            ))
        })?),
    };
    // `--cache-from` images missing here are skipped, as Docker does.
    let mut sources = Vec::new();
    for name in &req.cache_from {
        if let Ok(info) = engine.images.resolve(name).await {
            sources.push((info.id.clone(), engine.images.config(&info.id).await?));
        }
    }
    let base = stage::Build {
        epoch,
        engine,
        df: &df,
        req: &req,
        ctx: &ctx,
        scratch: work.0.join("scratch"),
        cache: cache::BuildCache::new(engine.config.paths.build_cache()),
        globals,
        step: 0,
        total,
        stage_images: BTreeMap::new(),
        cache_sources: std::sync::Arc::new(sources),
        tx: tx.clone(),
    };
    // Steps are numbered in Dockerfile order whatever runs first.
    let mut offsets = BTreeMap::new();
    let mut acc = 0;
    for s in &plan.stages {
        offsets.insert(s.index, acc);
        acc += 1 + df.stages[s.index].steps.len();
    }
    // The stages of a wave need nothing from each other: they run at once,
    // their messages forwarded stage by stage, as a sequential build's.
    let mut images: BTreeMap<usize, String> = BTreeMap::new();
    for wave in &plan.waves {
        let mut receivers = Vec::new();
        let mut runs = Vec::new();
        for index in wave {
            let Some(planned) = plan.stage(*index) else {
                continue;
            };
            let (stage_tx, stage_rx) = mpsc::unbounded_channel();
            let mut b = base.clone();
            b.tx = stage_tx;
            b.step = offsets.get(index).copied().unwrap_or(0);
            b.stage_images = images.clone();
            receivers.push(stage_rx);
            runs.push(async move { (planned.index, b.stage(planned).await) });
        }
        let forward = async {
            for mut rx in receivers {
                while let Some(m) = rx.recv().await {
                    let _ = tx.send(m);
                }
            }
        };
        let (results, ()) = tokio::join!(futures_util::future::join_all(runs), forward);
        for (index, r) in results {
            images.insert(index, r?);
        }
    }
    let mut id = images
        .get(&plan.target)
        .cloned()
        .ok_or_else(|| Error::Internal("the target stage produced no image".into()))?;
    if !req.labels.is_empty() {
        id = base.add_labels(&id).await?;
    }
    let _ = tx.send(json!({"aux": {"ID": id}}));
    say(&tx, format!("Successfully built {}\n", short(&id)));
    for t in &req.tags {
        engine.images.tag(&id, t).await?;
        let familiar = berth_image::Reference::parse_docker(t)
            .map(|r| r.familiar())
            .unwrap_or_else(|_| t.clone());
        say(&tx, format!("Successfully tagged {familiar}\n"));
    }
    Ok(id)
}

/// Clients send the Dockerfile and `.dockerignore` whatever `.dockerignore`
/// says; as Docker's daemon, they leave the context when it excludes them
/// (once the Dockerfile has been read).
fn remove_ignored_control_files(ctx: &Path, dockerfile: &str) -> Result<(), Error> {
    let Ok(text) = std::fs::read_to_string(ctx.join(".dockerignore")) else {
        return Ok(());
    };
    let matcher = berth_builder::ignore::Matcher::new(&berth_builder::ignore::read(&text))
        .map_err(|e| Error::InvalidArgument(format!(".dockerignore: {e}")))?;
    for file in [".dockerignore", dockerfile] {
        let path = ctx.join(file);
        if matcher.ignored(file) && path.exists() {
            std::fs::remove_file(&path).map_err(Error::io("removing", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Intermediates;

    #[test]
    fn rm_and_forcerm_decide_which_containers_go() {
        let keep = Intermediates::from_flags(false, false);
        assert_eq!(keep, Intermediates::Keep);
        assert!(!keep.removes(true) && !keep.removes(false));
        let default = Intermediates::from_flags(true, false);
        assert!(default.removes(true) && !default.removes(false));
        for rm in [true, false] {
            let force = Intermediates::from_flags(rm, true);
            assert!(force.removes(true) && force.removes(false));
        }
    }
}
