//! One stage of a build, step by step: substitution with the stage's ARGs
//! and ENV, the cache key of each step (after one miss every later step
//! of the stage is executed), and its execution.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_builder::cache::{base_key, step_key, CacheKey, StepInput};
use berth_builder::config::{self as bconfig, Change};
use berth_builder::dockerfile::{Dockerfile, Form, Instr, Source as Src, Step};
use berth_builder::expand::Expander;
use berth_builder::plan::{PlannedStage, Source};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::cache::BuildCache;
use super::copy::{self, CopySpec};
use super::run::{self, RunSpec};
use super::{say, short, BuildRequest};
use crate::snapshots::View;
use crate::{Engine, Error};

#[derive(Clone)]
pub(super) struct Build<'a> {
    /// `SOURCE_DATE_EPOCH`: fixed times for reproducible images.
    pub epoch: Option<i64>,
    pub engine: &'a Engine,
    pub df: &'a Dockerfile,
    pub req: &'a BuildRequest,
    pub ctx: &'a Path,
    pub scratch: PathBuf,
    pub cache: BuildCache,
    pub globals: BTreeMap<String, String>,
    pub step: usize,
    pub total: usize,
    pub stage_images: BTreeMap<usize, String>,
    /// The `--cache-from` images found here: id and config.
    pub cache_sources: std::sync::Arc<Vec<(String, berth_image::ImageConfig)>>,
    /// Where this stage's messages go (stages of a wave each have their
    /// own, forwarded in Dockerfile order).
    pub tx: mpsc::UnboundedSender<Value>,
}

/// The mounts of one RUN (the image trees they read stay mounted while
/// this lives).
#[derive(Default)]
struct PreparedMounts {
    mounts: Vec<berth_api::container::Mount>,
    key: Vec<(String, String)>,
    stubs: Vec<String>,
    roots: Vec<View>,
}

/// The state of the stage being built.
struct State {
    /// The current image (`None`: scratch, nothing yet).
    image: Option<String>,
    config: Value,
    key: CacheKey,
    /// ARGs declared in the stage, with their values.
    args: BTreeMap<String, String>,
    missed: bool,
}

fn failed(df: &Dockerfile, step: &Step, message: impl std::fmt::Display) -> Error {
    Error::BuildFailed {
        message: format!("{}:{}: {}: {message}", df.file, step.line, step.text),
        code: 1,
    }
}

fn unsupported(df: &Dockerfile, step: &Step, what: &str) -> Error {
    failed(df, step, format!("{what} is not supported yet"))
}

impl State {
    /// Variables for substitution: ARGs, then ENV over them.
    fn vars(&self) -> BTreeMap<String, String> {
        let mut v = self.args.clone();
        for (k, val) in bconfig::env(&self.config) {
            v.insert(k, val);
        }
        v
    }
}

/// An ADD source BuildKit would clone as a git repository: `git@host:`,
/// `git://`, `ssh://`, or an http(s) URL of a `.git` path.
fn is_git_source(p: &str) -> bool {
    let path = p.split(['#', '?']).next().unwrap_or(p);
    p.starts_with("git@")
        || p.starts_with("git://")
        || p.starts_with("ssh://")
        || ((p.starts_with("http://") || p.starts_with("https://"))
            && path.trim_end_matches('/').ends_with(".git"))
}

/// Docker's duration strings (`30s`, `1m30s`) in nanoseconds.
fn duration_ns(s: &str) -> Result<i64, String> {
    berth_api::units::go_duration_ns(s).ok_or_else(|| format!("invalid duration {s:?}"))
}

impl Build<'_> {
    fn next_step(&mut self, text: &str) {
        self.step += 1;
        say(
            &self.tx,
            format!("Step {}/{} : {text}\n", self.step, self.total),
        );
    }

    /// Builds one stage; its image id.
    pub(super) async fn stage(&mut self, planned: &PlannedStage) -> Result<String, Error> {
        let stage = &self.df.stages[planned.index];
        self.next_step(&stage.text);
        let (image, config) = match &planned.base {
            Source::Scratch => (None, json!({})),
            Source::Stage(i) => {
                let id = self.stage_images.get(i).cloned().ok_or_else(|| {
                    Error::Internal(format!(
                        "stage {i} was not built before stage {}",
                        stage.index
                    ))
                })?;
                let cfg = self.image_config(&id).await?;
                (Some(id), cfg)
            }
            Source::Image(name) => {
                let id = self.base_image(name).await?;
                let cfg = self.image_config(&id).await?;
                (Some(id), cfg)
            }
        };
        if let Some(id) = &image {
            say(&self.tx, format!(" ---> {}\n", short(id)));
        }
        // The base's ONBUILD triggers run first; the new image has none.
        let mut config = config;
        let triggers: Vec<String> = config["OnBuild"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        if let Some(o) = config.as_object_mut() {
            o.insert("OnBuild".into(), Value::Null);
        }
        let mut st = State {
            key: base_key(image.as_deref().unwrap_or("scratch"), "linux"),
            image,
            config,
            args: BTreeMap::new(),
            missed: self.req.no_cache
                || stage.name.as_ref().is_some_and(|n| {
                    self.req
                        .no_cache_filter
                        .iter()
                        .any(|f| f.eq_ignore_ascii_case(n))
                }),
        };
        if !triggers.is_empty() {
            let n = triggers.len();
            say(
                &self.tx,
                format!(
                    "# Executing {n} build trigger{}\n",
                    if n == 1 { "" } else { "s" }
                ),
            );
            for t in &triggers {
                let parsed = berth_builder::dockerfile::parse(
                    &format!("FROM scratch\n{t}\n"),
                    &self.df.file,
                )
                .map_err(|e| Error::BuildFailed {
                    message: format!(
                        "{}:{}: ONBUILD trigger {t:?}: {}",
                        self.df.file, stage.line, e.message
                    ),
                    code: 1,
                })?;
                let mut trigger = parsed.stages[0].steps[0].clone();
                trigger.line = stage.line;
                self.step_in(&mut st, &trigger).await?;
            }
        }
        for step in &stage.steps {
            self.next_step(&step.text);
            self.step_in(&mut st, step).await?;
            match &st.image {
                Some(id) => say(&self.tx, format!(" ---> {}\n", short(id))),
                None => say(&self.tx, " ---> 0000000000\n"),
            }
        }
        match st.image {
            Some(id) => Ok(id),
            // A scratch stage with only metadata: commit its config.
            None => {
                self.commit(None, None, &st.config, "#(nop) scratch", None)
                    .await
            }
        }
    }

    /// `labels` of the request, on the built image (as a last LABEL step).
    pub(super) async fn add_labels(&self, id: &str) -> Result<String, Error> {
        let labels: Vec<(String, String)> = self
            .req
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let text = labels
            .iter()
            .map(|(k, v)| format!("{k:?}={v:?}"))
            .collect::<Vec<_>>()
            .join(" ");
        let key = step_key(
            &base_key(id, "linux"),
            &StepInput {
                text: &format!("LABEL {text}"),
                ..Default::default()
            },
        );
        if !self.req.no_cache {
            if let Some(hit) = self.local_hit(&key).await {
                return Ok(hit);
            }
        }
        let mut config = self.image_config(id).await?;
        bconfig::apply(&mut config, &Change::Label(labels));
        if !self.req.no_cache {
            if let Some(hit) = self.step_from_sources(Some(id), &key, &config).await? {
                return Ok(hit);
            }
        }
        let new = self
            .commit(
                Some(id),
                None,
                &config,
                &format!("/bin/sh -c #(nop)  LABEL {text}"),
                Some(&key),
            )
            .await?;
        self.cache.put(&key, &new)?;
        Ok(new)
    }

    async fn base_image(&self, name: &str) -> Result<String, Error> {
        if !self.req.pull {
            if let Ok(info) = self.engine.images.resolve(name).await {
                return Ok(info.id);
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let pull = self.engine.images.pull(
            crate::pull::PullRequest {
                image: name.to_string(),
                insecure: self.engine.config.insecure_registries.clone(),
                ..Default::default()
            },
            tx,
        );
        tokio::pin!(pull);
        loop {
            tokio::select! {
                r = &mut pull => {
                    while let Ok(m) = rx.try_recv() { let _ = self.tx.send(m); }
                    return Ok(r?.id);
                }
                Some(m) = rx.recv() => { let _ = self.tx.send(m); }
            }
        }
    }

    async fn image_config(&self, id: &str) -> Result<Value, Error> {
        let full = self.engine.images.config_json(id).await?;
        Ok(match full.get("config") {
            Some(c) if c.is_object() => c.clone(),
            _ => json!({}),
        })
    }

    /// Commits `upper` (or nothing) on `parent` with `config`, as the step
    /// with `key`.
    async fn commit(
        &self,
        parent: Option<&str>,
        upper: Option<&Path>,
        config: &Value,
        created_by: &str,
        key: Option<&CacheKey>,
    ) -> Result<String, Error> {
        std::fs::create_dir_all(&self.scratch).map_err(Error::io("creating", &self.scratch))?;
        let diff = tempfile::Builder::new()
            .prefix("diff-")
            .tempfile_in(&self.scratch)
            .map_err(Error::io("creating a file in", &self.scratch))?
            .into_temp_path();
        let (d, up, epoch) = (diff.to_path_buf(), upper.map(Path::to_path_buf), self.epoch);
        tokio::task::spawn_blocking(move || -> Result<(), Error> {
            let mut f = std::fs::File::create(&d).map_err(Error::io("creating", &d))?;
            match up {
                Some(u) => {
                    berth_image::diff::write_diff_tar_clamped(&u, &mut f, epoch)?;
                }
                None => {
                    std::io::Write::write_all(&mut f, &[0u8; 1024])
                        .map_err(Error::io("writing", &d))?;
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Internal(format!("diff task failed: {e}")))??;
        let info = self
            .engine
            .images
            .commit(berth_image::CommitOptions {
                parent: parent.unwrap_or_default().to_string(),
                diff: diff.to_path_buf(),
                config: config.clone(),
                created_by: Some(created_by.to_string()),
                created: self.epoch.map(crate::time::epoch_rfc3339),
                history_comment: key.map(super::cache::key_comment),
                ..berth_image::CommitOptions::default()
            })
            .await?;
        Ok(info.id)
    }

    /// Looks the key up unless a step of this stage already missed: in the
    /// local cache, then in the `--cache-from` images (the step is then
    /// taken from one of them, with `config`, the one it would commit).
    async fn cached(&self, st: &mut State, key: &CacheKey, config: &Value) -> Result<bool, Error> {
        if st.missed {
            return Ok(false);
        }
        let hit = match self.local_hit(key).await {
            Some(id) => Some(id),
            None => {
                self.step_from_sources(st.image.as_deref(), key, config)
                    .await?
            }
        };
        let Some(id) = hit else {
            st.missed = true;
            return Ok(false);
        };
        say(&self.tx, " ---> Using cache\n");
        self.advance(st, id, key.clone()).await?;
        Ok(true)
    }

    /// A step ran and made image `id`: recorded in the cache, and the stage
    /// moves on to it.
    async fn made(&self, st: &mut State, id: String, key: CacheKey) -> Result<(), Error> {
        self.cache.put(&key, &id)?;
        self.advance(st, id, key).await
    }

    /// The stage moves on to image `id` made by the step with `key`. The
    /// config is read back from the image whether the step ran or hit the
    /// cache, so the steps after it commit the same config either way.
    async fn advance(&self, st: &mut State, id: String, key: CacheKey) -> Result<(), Error> {
        st.config = self.image_config(&id).await?;
        st.image = Some(id);
        st.key = key;
        Ok(())
    }

    /// The image the local cache has for `key`. With `--cache-from`, as
    /// Docker's legacy builder, only an image in the history of one of
    /// those images counts (none when none of them is here).
    async fn local_hit(&self, key: &CacheKey) -> Option<String> {
        let id = self.cache.get(key)?;
        let id = self.engine.images.resolve(&id).await.ok()?.id;
        if self.req.cache_from.is_empty() {
            return Some(id);
        }
        for (source, _) in self.cache_sources.iter() {
            let mut at = source.clone();
            while !at.is_empty() {
                if at == id {
                    return Some(id);
                }
                at = match self.engine.images.resolve(&at).await {
                    Ok(info) => info.parent,
                    Err(_) => break,
                };
            }
        }
        None
    }

    /// The step with `key` taken from a `--cache-from` image, recorded in
    /// the local cache.
    async fn step_from_sources(
        &self,
        image: Option<&str>,
        key: &CacheKey,
        config: &Value,
    ) -> Result<Option<String>, Error> {
        if self.cache_sources.is_empty() {
            return Ok(None);
        }
        let parent = match image {
            Some(id) => Some(self.engine.images.config(id).await?),
            None => None,
        };
        let Some(step) = self
            .cache_sources
            .iter()
            .find_map(|(_, s)| super::cache::reusable(parent.as_ref(), s, key))
        else {
            return Ok(None);
        };
        let info = self
            .engine
            .images
            .commit(berth_image::CommitOptions {
                parent: image.unwrap_or_default().to_string(),
                config: config.clone(),
                reuse: Some(step),
                ..berth_image::CommitOptions::default()
            })
            .await?;
        self.cache.put(key, &info.id)?;
        Ok(Some(info.id))
    }

    async fn step_in(&mut self, st: &mut State, step: &Step) -> Result<(), Error> {
        let df = self.df;
        let vars = st.vars();
        let ex = Expander {
            vars: &vars,
            escape: df.escape,
        };
        let word = |s: &str| ex.word(s).map_err(|e| failed(df, step, e));
        let change = match &step.instr {
            Instr::Arg(pairs) => {
                for (name, default) in pairs {
                    let value = match self.req.build_args.get(name) {
                        Some(v) => Some(v.clone()),
                        None => match default {
                            Some(d) => Some(word(d)?),
                            None => self.globals.get(name).cloned(),
                        },
                    };
                    if let Some(v) = value {
                        st.args.insert(name.clone(), v);
                    }
                }
                let args: Vec<(String, String)> = st.args.clone().into_iter().collect();
                st.key = step_key(
                    &st.key,
                    &StepInput {
                        text: &step.text,
                        args: &args,
                        ..Default::default()
                    },
                );
                return Ok(());
            }
            Instr::Env(pairs) => Change::Env(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((word(k)?, word(v)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            Instr::Label(pairs) => Change::Label(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((word(k)?, word(v)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            Instr::Cmd(f) => Change::Cmd(f.clone()),
            Instr::Entrypoint(f) => Change::Entrypoint(f.clone()),
            Instr::User(u) => Change::User(word(u)?),
            Instr::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports {
                    out.extend(ex.words(p).map_err(|e| failed(df, step, e))?);
                }
                Change::Expose(out)
            }
            Instr::Volume(v) => {
                let mut out = Vec::new();
                for p in v {
                    out.push(word(p)?);
                }
                Change::Volume(out)
            }
            Instr::Stopsignal(s) => Change::StopSignal(word(s)?),
            Instr::Shell(s) => Change::Shell(s.clone()),
            Instr::Onbuild(t) => Change::OnBuild(t.clone()),
            Instr::Maintainer(_) => {
                // Kept in the image's author field by Docker; no config change.
                return self.metadata(st, step, None).await;
            }
            Instr::Healthcheck { flags, test } => {
                if let Some(f) = flags.unknown(&[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ]) {
                    return Err(failed(df, step, format!("unknown flag: {f}")));
                }
                let d = |name: &str| -> Result<i64, Error> {
                    match flags.get(name) {
                        Some(v) => duration_ns(v).map_err(|e| failed(df, step, e)),
                        None => Ok(0),
                    }
                };
                Change::Healthcheck {
                    test: test.clone(),
                    interval_ns: d("interval")?,
                    timeout_ns: d("timeout")?,
                    start_period_ns: d("start-period")?,
                    start_interval_ns: d("start-interval")?,
                    retries: flags
                        .get("retries")
                        .map(|r| r.parse::<i64>().map_err(|e| failed(df, step, e)))
                        .transpose()?
                        .unwrap_or(0),
                }
            }
            Instr::Workdir(w) => {
                let dir = bconfig::workdir(&st.config, &word(w)?);
                return self.workdir(st, dir).await;
            }
            Instr::Run {
                flags,
                cmd,
                heredocs,
            } => return self.run(st, step, flags, cmd, heredocs).await,
            Instr::Copy {
                flags,
                sources,
                dest,
            } => return self.copy(st, step, flags, sources, dest, false).await,
            Instr::Add {
                flags,
                sources,
                dest,
            } => return self.copy(st, step, flags, sources, dest, true).await,
        };
        self.metadata(st, step, Some(change)).await
    }

    async fn metadata(
        &mut self,
        st: &mut State,
        step: &Step,
        change: Option<Change>,
    ) -> Result<(), Error> {
        let mut config = st.config.clone();
        if let Some(c) = &change {
            bconfig::apply(&mut config, c);
        }
        let text = format!("{change:?}|{}", step.text);
        let key = step_key(
            &st.key,
            &StepInput {
                text: &text,
                ..Default::default()
            },
        );
        if self.cached(st, &key, &config).await? {
            return Ok(());
        }
        let created_by = format!("/bin/sh -c #(nop)  {}", step.text);
        let id = self
            .commit(st.image.as_deref(), None, &config, &created_by, Some(&key))
            .await?;
        self.made(st, id, key).await
    }

    async fn workdir(&mut self, st: &mut State, dir: String) -> Result<(), Error> {
        let mut config = st.config.clone();
        bconfig::apply(&mut config, &Change::Workdir(dir.clone()));
        let key = step_key(
            &st.key,
            &StepInput {
                text: &format!("WORKDIR {dir}"),
                ..Default::default()
            },
        );
        if self.cached(st, &key, &config).await? {
            return Ok(());
        }
        // The directory is made when the image lacks it, as Docker does.
        let exists = match &st.image {
            None => false,
            Some(id) => {
                let root = self.mount_image(id).await?;
                root.path().join(dir.trim_start_matches('/')).is_dir()
            }
        };
        let created_by = format!("/bin/sh -c #(nop) WORKDIR {dir}");
        let id = if exists {
            self.commit(st.image.as_deref(), None, &config, &created_by, Some(&key))
                .await?
        } else {
            let staging = tempfile::Builder::new()
                .prefix("workdir-")
                .tempdir_in(&self.scratch)
                .map_err(Error::io("creating a directory in", &self.scratch))?;
            let mut p = staging.path().to_path_buf();
            for c in dir.split('/').filter(|c| !c.is_empty()) {
                p.push(c);
                std::fs::create_dir(&p).map_err(Error::io("creating", &p))?;
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                    .map_err(Error::io("chmod", &p))?;
            }
            self.commit(
                st.image.as_deref(),
                Some(staging.path()),
                &config,
                &created_by,
                Some(&key),
            )
            .await?
        };
        self.made(st, id, key).await
    }

    async fn run(
        &mut self,
        st: &mut State,
        step: &Step,
        flags: &berth_builder::dockerfile::Flags,
        cmd: &Form,
        heredocs: &[berth_builder::heredoc::Heredoc],
    ) -> Result<(), Error> {
        let df = self.df;
        if let Some(f) = flags.unknown(&["network", "mount"]) {
            return Err(unsupported(df, step, &format!("RUN --{f}")));
        }
        let Some(image) = st.image.clone() else {
            return Err(failed(
                df,
                step,
                "RUN needs a base image (this stage is FROM scratch with nothing in it)",
            ));
        };
        let network = match flags.get("network") {
            None | Some("default") => {
                if self.req.network.is_empty() {
                    "default".to_string()
                } else {
                    self.req.network.clone()
                }
            }
            Some("none") => "none".to_string(),
            Some("host") => "host".to_string(),
            Some(other) => {
                return Err(failed(
                    df,
                    step,
                    format!("unknown network mode for RUN: {other}"),
                ))
            }
        };
        let prepared = self.run_mounts(st, step, flags).await?;
        let argv = if heredocs.is_empty() {
            bconfig::argv(&st.config, cmd)
        } else {
            let Form::Shell(line) = cmd else {
                return Err(unsupported(
                    df,
                    step,
                    "RUN in exec form with a here-document",
                ));
            };
            let mut argv = bconfig::shell(&st.config);
            argv.push(match berth_builder::heredoc::heredoc_run(line, heredocs) {
                berth_builder::heredoc::HeredocRun::Script(s) => s,
                // A program with its own interpreter runs from a file.
                berth_builder::heredoc::HeredocRun::Program(p) => format!(
                    "mkdir -p /tmp && t=/tmp/.berth-heredoc-$$ && cat > \"$t\" <<'BERTH_HEREDOC_END'\n{p}{}BERTH_HEREDOC_END\nchmod +x \"$t\"; \"$t\"; r=$?; rm -f \"$t\"; exit $r",
                    if p.ends_with('\n') { "" } else { "\n" }
                ),
            });
            argv
        };
        let args: Vec<(String, String)> = st.args.clone().into_iter().collect();
        let mut extra = vec![("network".to_string(), network.clone())];
        extra.extend(prepared.key.iter().cloned());
        // A here-document's body is part of the command.
        for (i, h) in heredocs.iter().enumerate() {
            extra.push((format!("heredoc{i}"), h.content.clone()));
        }
        let key = step_key(
            &st.key,
            &StepInput {
                text: &step.text,
                args: &args,
                content: None,
                extra: &extra,
            },
        );
        if self.cached(st, &key, &st.config.clone()).await? {
            return Ok(());
        }
        // ARG values are in RUN's environment, unless ENV sets the name.
        let env_pairs = bconfig::env(&st.config);
        let mut env: Vec<String> = env_pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for (k, v) in &st.args {
            if !env_pairs.iter().any(|(n, _)| n == k) {
                env.push(format!("{k}={v}"));
            }
        }
        // Proxy build args reach RUN without an ARG (and stay out of the key).
        for name in berth_builder::plan::PROXY_ARGS {
            if let Some(v) = self.req.build_args.get(name) {
                if !st.args.contains_key(name) && !env_pairs.iter().any(|(n, _)| n == name) {
                    env.push(format!("{name}={v}"));
                }
            }
        }
        let created_by = match cmd {
            Form::Shell(s) => format!("/bin/sh -c {s}"),
            Form::Exec(v) => v.join(" "),
        };
        let id = run::run(
            self.engine,
            RunSpec {
                image: &image,
                argv,
                env,
                user: st.config["User"].as_str().unwrap_or_default().to_string(),
                workdir: st.config["WorkingDir"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                network,
                config: &st.config,
                created_by,
                history_comment: super::cache::key_comment(&key),
                epoch: self.epoch,
                mounts: prepared.mounts.clone(),
                stubs: prepared.stubs.clone(),
                settings: &self.req.run,
            },
            &self.tx,
        )
        .await?;
        self.made(st, id, key).await
    }

    async fn copy(
        &mut self,
        st: &mut State,
        step: &Step,
        flags: &berth_builder::dockerfile::Flags,
        sources: &[Src],
        dest: &str,
        add: bool,
    ) -> Result<(), Error> {
        let df = self.df;
        let what = if add { "ADD" } else { "COPY" };
        // `--link`: the layer is made from the sources alone, which is how
        // every COPY is made here (the destination is never resolved in the
        // image), so it changes nothing.
        if let Some(f) = flags.unknown(&[
            "from", "chown", "chmod", "exclude", "parents", "checksum", "link",
        ]) {
            return Err(unsupported(df, step, &format!("{what} --{f}")));
        }
        let vars = st.vars();
        let ex = Expander {
            vars: &vars,
            escape: df.escape,
        };
        let word = |s: &str| ex.word(s).map_err(|e| failed(df, step, e));
        let mut paths = Vec::new();
        let mut inline: Vec<String> = Vec::new();
        let mut urls: Vec<String> = Vec::new();
        let mut downloaded: Vec<(String, PathBuf)> = Vec::new();
        for s in sources {
            match s {
                Src::Path(p) => {
                    let p = word(p)?;
                    if add && is_git_source(&p) {
                        return Err(unsupported(df, step, "ADD from a git repository"));
                    }
                    if add && (p.starts_with("http://") || p.starts_with("https://")) {
                        urls.push(p);
                        continue;
                    }
                    paths.push(p);
                }
                Src::Heredoc(h) => {
                    let content = if h.expand {
                        ex.text(&h.content).map_err(|e| failed(df, step, e))?
                    } else {
                        h.content.clone()
                    };
                    inline.push(content);
                }
            }
        }
        if flags.get("checksum").is_some() && (!add || urls.len() != 1) {
            return Err(failed(df, step, "--checksum is for ADD of one URL"));
        }
        if !urls.is_empty() && (!paths.is_empty() || !inline.is_empty()) {
            return Err(unsupported(df, step, "ADD mixing URLs and other sources"));
        }
        if !urls.is_empty() {
            let checksum = flags
                .get("checksum")
                .map(|c| {
                    berth_image::Digest::parse(c)
                        .map_err(|e| failed(df, step, format!("invalid --checksum {c:?}: {e}")))
                })
                .transpose()?;
            let client = self.engine.images.registry_client()?;
            for u in &urls {
                let name = u
                    .split(['?', '#'])
                    .next()
                    .unwrap_or(u)
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("index.html")
                    .to_string();
                let p = {
                    let dir = self.scratch.join("downloads");
                    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
                    dir.join(format!(
                        "{}-{name}",
                        crate::ids::short(&crate::ids::new_id())
                    ))
                };
                let modified = client
                    .download(u, &p, checksum.as_ref())
                    .await
                    .map_err(|e| failed(df, step, e))?;
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                    .map_err(Error::io("chmod", &p))?;
                // The file's mtime is the server's Last-Modified, as Docker's.
                if let Some(t) = modified
                    .as_deref()
                    .and_then(|m| chrono::DateTime::parse_from_rfc2822(m).ok())
                {
                    let t = filetime::FileTime::from_unix_time(t.timestamp(), 0);
                    filetime::set_file_mtime(&p, t).map_err(Error::io("setting times of", &p))?;
                }
                downloaded.push((name, p));
            }
        }
        if !inline.is_empty() && !paths.is_empty() {
            return Err(unsupported(
                df,
                step,
                &format!("{what} mixing here-documents and paths"),
            ));
        }
        let dest_word = word(dest)?;
        let dest_abs = if dest_word.starts_with('/') {
            dest_word.clone()
        } else {
            let wd = st.config["WorkingDir"].as_str().unwrap_or("/");
            format!("{}/{dest_word}", wd.trim_end_matches('/'))
        };
        let chmod = flags
            .get("chmod")
            .map(|m| {
                u32::from_str_radix(m, 8).map_err(|_| {
                    failed(
                        df,
                        step,
                        format!("invalid --chmod value {m:?}: use an octal mode"),
                    )
                })
            })
            .transpose()?;
        // Where the sources are read: the context, or another stage's or
        // image's tree.
        let from = flags.get("from").map(word).transpose()?;
        let mut mounts: Vec<View> = Vec::new();
        // Here-documents (and downloads) become files named after their
        // delimiters (or URLs) in a directory of their own.
        let inline_dir = if inline.is_empty() && downloaded.is_empty() {
            None
        } else {
            std::fs::create_dir_all(&self.scratch).map_err(Error::io("creating", &self.scratch))?;
            let d = tempfile::Builder::new()
                .prefix("heredoc-")
                .tempdir_in(&self.scratch)
                .map_err(Error::io("creating a directory in", &self.scratch))?;
            let names = berth_builder::heredoc::heredoc_delimiters(&step.text);
            for (i, content) in inline.iter().enumerate() {
                let name = names
                    .get(i)
                    .map_or_else(|| format!("heredoc-{i}"), |n| n.0.clone());
                let p = d.path().join(&name);
                std::fs::write(&p, content).map_err(Error::io("writing", &p))?;
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                    .map_err(Error::io("chmod", &p))?;
                paths.push(name);
            }
            for (name, file) in &downloaded {
                let p = d.path().join(name);
                std::fs::rename(file, &p).map_err(Error::io("moving", file))?;
                paths.push(name.clone());
            }
            Some(d)
        };
        let src_root: PathBuf = match &from {
            None if inline_dir.is_some() => inline_dir
                .as_ref()
                .map(|d| d.path().to_path_buf())
                .unwrap_or_default(),
            None => self.ctx.to_path_buf(),
            Some(f) => {
                let root = self.mount_from(step, f, "copy").await?;
                let p = root.path().to_path_buf();
                mounts.push(root);
                p
            }
        };
        let owner = match flags.get("chown") {
            None => (0, 0),
            Some(spec) => {
                let spec = word(spec)?;
                let numeric = spec
                    .split_once(':')
                    .map_or((spec.as_str(), spec.as_str()), |(u, g)| (u, g));
                match (numeric.0.parse::<u32>(), numeric.1.parse::<u32>()) {
                    (Ok(u), Ok(g)) => (u, g),
                    _ => {
                        let Some(image) = st.image.clone() else {
                            return Err(failed(
                                df,
                                step,
                                "--chown by name needs /etc/passwd in the image",
                            ));
                        };
                        let root = self.mount_image(&image).await?;
                        berth_image::fsops::resolve_user(root.path(), &spec)
                            .map_err(|e| failed(df, step, e))?
                    }
                }
            }
        };
        let spec = CopySpec {
            sources: paths,
            dest: berth_builder::ignore::clean(&dest_abs),
            dest_is_dir: dest_word.ends_with('/') || dest_word == "." || dest_word.ends_with("/."),
            owner,
            chmod,
            exclude: {
                let pats: Vec<String> = flags
                    .all("exclude")
                    .iter()
                    .map(|p| word(p))
                    .collect::<Result<_, _>>()?;
                if pats.is_empty() {
                    None
                } else {
                    Some(
                        berth_builder::ignore::Matcher::new(&pats)
                            .map_err(|e| failed(df, step, format!("--exclude: {e}")))?,
                    )
                }
            },
            extract_archives: add,
            ignore_chown_errors: self.engine.config.storage.ignore_chown_errors,
            parents: match flags.get("parents") {
                None => false,
                Some("" | "true") => true,
                Some("false") => false,
                Some(v) => return Err(failed(df, step, format!("invalid --parents value {v:?}"))),
            },
        };
        std::fs::create_dir_all(&self.scratch).map_err(Error::io("creating", &self.scratch))?;
        let staging = tempfile::Builder::new()
            .prefix("copy-")
            .tempdir_in(&self.scratch)
            .map_err(Error::io("creating a directory in", &self.scratch))?;
        let (r, sp, stg) = (src_root.clone(), staging.path().to_path_buf(), spec);
        let sum = tokio::task::spawn_blocking(move || -> Result<String, Error> {
            copy::stage(&r, &stg, &sp)?;
            copy::checksum(&sp)
        })
        .await
        .map_err(|e| Error::Internal(format!("copy task failed: {e}")))?
        .map_err(|e| failed(df, step, e))?;
        drop(mounts);
        // The copied content is the key (not where it came from), so a
        // rebuilt stage with the same output still hits.
        let extra: Vec<(String, String)> = Vec::new();
        let key = step_key(
            &st.key,
            &StepInput {
                text: &step.text,
                args: &[],
                content: Some(&sum),
                extra: &extra,
            },
        );
        if self.cached(st, &key, &st.config.clone()).await? {
            return Ok(());
        }
        let created_by = format!("/bin/sh -c #(nop) {what} {sum} in {dest_abs}");
        let id = self
            .commit(
                st.image.as_deref(),
                Some(staging.path()),
                &st.config,
                &created_by,
                Some(&key),
            )
            .await?;
        self.made(st, id, key).await
    }

    /// The `--mount`s of a RUN: container mounts, what they add to the
    /// cache key, and the mount points the image lacks.
    async fn run_mounts(
        &self,
        st: &State,
        step: &Step,
        flags: &berth_builder::dockerfile::Flags,
    ) -> Result<PreparedMounts, Error> {
        use berth_api::container::Mount;
        use berth_builder::mounts::RunMount;
        let df = self.df;
        let specs = flags.all("mount");
        let mut out = PreparedMounts::default();
        if specs.is_empty() {
            return Ok(out);
        }
        let vars = st.vars();
        let ex = Expander {
            vars: &vars,
            escape: df.escape,
        };
        let mut targets = Vec::new();
        for spec in specs {
            let spec = ex.word(spec).map_err(|e| failed(df, step, e))?;
            let m = berth_builder::mounts::parse(&spec).map_err(|e| failed(df, step, e))?;
            let bind = |source: String, target: &str, read_only: bool| Mount {
                kind: "bind".into(),
                source,
                target: target.to_string(),
                read_only,
                bind_options: None,
                volume_options: None,
                tmpfs_options: None,
            };
            match m {
                RunMount::Cache {
                    target,
                    id,
                    readonly,
                } => {
                    use sha2::Digest as _;
                    let name = hex::encode(sha2::Sha256::digest(id.as_bytes()));
                    let dir = self
                        .engine
                        .config
                        .paths
                        .build_mount_caches()
                        .join(&name[..32]);
                    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
                    out.key
                        .push(("mount".into(), format!("cache:{id}:{target}:{readonly}")));
                    out.mounts
                        .push(bind(dir.display().to_string(), &target, readonly));
                    targets.push(target);
                }
                RunMount::Tmpfs { target, size } => {
                    out.key
                        .push(("mount".into(), format!("tmpfs:{target}:{size:?}")));
                    out.mounts.push(Mount {
                        kind: "tmpfs".into(),
                        source: String::new(),
                        target: target.clone(),
                        read_only: false,
                        bind_options: None,
                        volume_options: None,
                        tmpfs_options: size.map(|s| json!({ "SizeBytes": s })),
                    });
                    targets.push(target);
                }
                RunMount::Secret {
                    id,
                    target,
                    required,
                } => {
                    let Some(bytes) = self.req.secrets.get(&id) else {
                        if required {
                            return Err(failed(df, step, format!("secret {id} is required but was not given (berth build --secret id={id},src=FILE)")));
                        }
                        continue;
                    };
                    let dir = self.scratch.join("secrets");
                    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
                    let file = dir.join(crate::ids::short(&crate::ids::new_id()));
                    std::fs::write(&file, bytes).map_err(Error::io("writing", &file))?;
                    std::fs::set_permissions(
                        &file,
                        std::os::unix::fs::PermissionsExt::from_mode(0o400),
                    )
                    .map_err(Error::io("chmod", &file))?;
                    // The secret's value is not part of the key, as in Docker.
                    out.key
                        .push(("mount".into(), format!("secret:{id}:{target}")));
                    out.mounts
                        .push(bind(file.display().to_string(), &target, true));
                    targets.push(target);
                }
                RunMount::Bind {
                    target,
                    source,
                    from,
                } => {
                    let root = match &from {
                        None => self.ctx.to_path_buf(),
                        Some(f) => {
                            let r = self.mount_from(step, f, "mount").await?;
                            let p = r.path().to_path_buf();
                            out.roots.push(r);
                            p
                        }
                    };
                    let rel = berth_builder::ignore::clean(source.trim_start_matches('/'));
                    if rel.split('/').any(|c| c == "..") {
                        return Err(failed(
                            df,
                            step,
                            format!("bind source {source} is outside its root"),
                        ));
                    }
                    let path = if rel == "." {
                        root.clone()
                    } else {
                        root.join(&rel)
                    };
                    if std::fs::symlink_metadata(&path).is_err() {
                        return Err(failed(
                            df,
                            step,
                            format!("bind source {source} does not exist"),
                        ));
                    }
                    let p2 = path.clone();
                    let sum = tokio::task::spawn_blocking(move || copy::checksum(&p2))
                        .await
                        .map_err(|e| Error::Internal(format!("checksum task failed: {e}")))??;
                    out.key
                        .push(("mount".into(), format!("bind:{target}:{sum}")));
                    out.mounts
                        .push(bind(path.display().to_string(), &target, true));
                    targets.push(target);
                }
            }
        }
        // Mount points the image lacks (and their missing parents) are made
        // by the runtime in the container's layer; they are taken out again.
        if let Some(image) = &st.image {
            let root = self.mount_image(image).await?;
            for t in &targets {
                let mut prefix = String::new();
                for c in t.split('/').filter(|c| !c.is_empty()) {
                    prefix.push('/');
                    prefix.push_str(c);
                    if std::fs::symlink_metadata(root.path().join(prefix.trim_start_matches('/')))
                        .is_err()
                    {
                        out.stubs.push(prefix.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// An image's tree, read-only, for this step.
    async fn mount_image(&self, id: &str) -> Result<View, Error> {
        let target = self
            .scratch
            .join(format!("root-{}", crate::ids::short(&crate::ids::new_id())));
        self.engine.images.view(id, target).await
    }

    /// The tree a `--from` names (an earlier stage by name or index, or an
    /// image), mounted read-only; `what` (copy, mount) for the error.
    async fn mount_from(&self, step: &Step, from: &str, what: &str) -> Result<View, Error> {
        let df = self.df;
        let id = match berth_builder::plan::resolve(df, from, self.stage_index_of(step))
            .map_err(|m| failed(df, step, m))?
        {
            Source::Stage(i) => self
                .stage_images
                .get(&i)
                .cloned()
                .ok_or_else(|| failed(df, step, format!("stage {i} is not built")))?,
            Source::Image(name) => self.base_image(&name).await?,
            Source::Scratch => return Err(failed(df, step, format!("cannot {what} from scratch"))),
        };
        self.mount_image(&id).await
    }

    /// The index of the stage holding `step`.
    fn stage_index_of(&self, step: &Step) -> usize {
        self.df
            .stages
            .iter()
            .find(|s| s.steps.iter().any(|x| std::ptr::eq(x, step)))
            .map_or(0, |s| s.index)
    }
}
