//! Loading a project: find the files, read `.env`, parse, interpolate,
//! check every file against the model (errors name the file and the path),
//! resolve `include` and `extends`, merge the files in order, pick the
//! project name and the active profiles, read `env_file`s, and check the
//! project as a whole (images or builds, dependencies and their cycles,
//! the networks, volumes, secrets and configs services use).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::Error;
use crate::model::{File, Network, Service};

/// The default file names, in Docker Compose's order of preference.
pub const FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// What the command line and environment say.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` (several); none: look for the default names.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (several); none: `.env` in the project directory.
    pub env_files: Vec<PathBuf>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// The process environment.
    pub environ: BTreeMap<String, String>,
    /// Where to look for files when none is given.
    pub cwd: PathBuf,
}

/// A loaded project.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub name: String,
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    /// The services of the active profiles.
    pub services: BTreeMap<String, Service>,
    /// Services left out by profiles.
    pub disabled: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, crate::model::Volume>,
    pub secrets: BTreeMap<String, crate::model::FileSource>,
    pub configs: BTreeMap<String, crate::model::FileSource>,
    /// Interpolation variables (`.env` under the process environment).
    pub variables: BTreeMap<String, String>,
}

impl Project {
    /// Levels of services, each needing only earlier levels (see
    /// [`crate::order`]).
    pub fn start_order(&self) -> Result<Vec<Vec<String>>, Error> {
        crate::order::levels(&self.services)
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))
}

/// Finds the compose file in `dir` or its parents.
pub fn find_file(dir: &Path) -> Option<PathBuf> {
    let mut d = Some(dir);
    while let Some(dir) = d {
        for name in FILE_NAMES {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
        d = dir.parent();
    }
    None
}

/// Docker Compose's project name rules: lower case, `[a-z0-9_-]`, starting
/// with a letter or digit.
pub fn normalize_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<String>()
        .trim_start_matches(['_', '-'])
        .to_string()
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Keys an object of these kinds may hold that start with `x-`
/// (extensions) are dropped before checking.
fn strip_extensions(v: &mut Value) {
    let strip = |v: &mut Value| {
        if let Value::Object(m) = v {
            m.retain(|k, _| !k.starts_with("x-"));
        }
    };
    strip(v);
    for section in ["services", "networks", "volumes", "secrets", "configs"] {
        if let Some(Value::Object(items)) = v.get_mut(section) {
            for item in items.values_mut() {
                strip(item);
                for nested in ["build", "deploy", "healthcheck", "logging", "develop"] {
                    if let Some(n) = item.get_mut(nested) {
                        strip(n);
                    }
                }
            }
        }
    }
}

/// Fields of the compose specification Berth does not implement yet.
const UNSUPPORTED: &[&str] = &[
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "credential_spec",
    "device_cgroup_rules",
    "external_links",
    "isolation",
    "oom_kill_disable",
    "oom_score_adj",
    "runtime",
    "storage_opt",
    "userns_mode",
    "uts",
    "volume_driver",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "mem_swappiness",
    "annotations",
    "attach",
    "gpus",
    "models",
    "provider",
    "label_file",
    "post_start",
    "pre_stop",
    "use_api_socket",
    "pull_refresh_after",
];

/// `build:` fields of the specification Berth's builder does not take yet.
const BUILD_UNSUPPORTED: &[&str] = &[
    "dockerfile_inline",
    "ssh",
    "cache_to",
    "additional_contexts",
    "provenance",
    "sbom",
    "isolation",
    "privileged",
    "platforms",
    "entitlements",
];

/// Checks one file's document against the model; the normalized document.
fn check(file: &str, doc: Value) -> Result<File, Error> {
    if let Some(Value::Object(services)) = doc.get("services") {
        for (name, s) in services {
            if let Value::Object(m) = s {
                for k in m.keys() {
                    if UNSUPPORTED.contains(&k.as_str()) {
                        return Err(Error::invalid(
                            file,
                            &format!("services.{name}.{k}"),
                            "is not supported yet",
                        ));
                    }
                }
                if let Some(Value::Object(b)) = m.get("build") {
                    for k in b.keys() {
                        if BUILD_UNSUPPORTED.contains(&k.as_str()) {
                            return Err(Error::invalid(
                                file,
                                &format!("services.{name}.build.{k}"),
                                "is not supported yet",
                            ));
                        }
                    }
                }
            } else if !s.is_null() {
                return Err(Error::invalid(
                    file,
                    &format!("services.{name}"),
                    "must be a mapping",
                ));
            }
        }
    }
    serde_path_to_error::deserialize::<_, File>(doc).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = e.inner().to_string();
        // serde's wording for an unknown key, in compose's terms.
        match message.strip_prefix("unknown field `") {
            // Named at the mapping that holds the key, as compose does.
            Some(rest) => {
                let key = rest.split('`').next().unwrap_or_default();
                let parent = path
                    .strip_suffix(key)
                    .map(|p| p.trim_end_matches('.'))
                    .unwrap_or(&path);
                Error::invalid(
                    file,
                    parent,
                    format!("additional property {key} is not allowed"),
                )
            }
            None => Error::invalid(file, &path, message),
        }
    })
}

fn to_value(f: &impl serde::Serialize) -> Value {
    serde_json::to_value(f).unwrap_or(Value::Null)
}

/// Expands `~` and makes a relative path absolute under `base`.
fn absolute(base: &Path, p: &str, home: Option<&str>) -> String {
    if let Some(rest) = p.strip_prefix('~') {
        if let Some(h) = home {
            return format!("{h}{rest}");
        }
    }
    let path = Path::new(p);
    if path.is_absolute() {
        p.to_string()
    } else {
        clean(&base.join(path)).to_string_lossy().into_owned()
    }
}

/// Removes `.` and resolves `..` lexically.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Resolves a file's relative paths against `base`.
fn resolve_paths(f: &mut File, base: &Path, home: Option<&str>) {
    for s in f.services.values_mut() {
        if let Some(b) = &mut s.build {
            let is_url = b.context.contains("://") || b.context.starts_with("git@");
            if !is_url {
                b.context = absolute(base, &b.context, home);
            }
        }
        for v in &mut s.volumes {
            if v.kind == "bind" {
                v.source = absolute(base, &v.source, home);
            }
        }
        for e in &mut s.env_file {
            e.path = absolute(base, &e.path, home);
        }
        if let Some(ext) = &mut s.extends {
            if let Some(file) = &mut ext.file {
                *file = absolute(base, file, home);
            }
        }
    }
    for src in f.secrets.values_mut().chain(f.configs.values_mut()) {
        if let Some(file) = &mut src.file {
            *file = absolute(base, file, home);
        }
    }
}

struct Loader {
    variables: BTreeMap<String, String>,
    home: Option<String>,
}

impl Loader {
    fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |n: &str| self.variables.get(n).cloned()
    }

    /// Parses, interpolates and checks one file; its normalized document
    /// with paths resolved against `base`, `include`s merged in.
    fn load_file(&self, path: &Path, base: &Path, seen: &mut Vec<PathBuf>) -> Result<Value, Error> {
        let file = path.display().to_string();
        if seen.iter().any(|p| p == path) {
            return Err(Error::invalid(&file, "include", "includes itself"));
        }
        seen.push(path.to_path_buf());
        let text = read(path)?;
        let mut doc = crate::yaml::parse(&text).map_err(|e| Error::invalid(&file, "", e))?;
        if doc.is_null() {
            return Err(Error::invalid(&file, "", "empty compose file"));
        }
        if !doc.is_object() {
            return Err(Error::invalid(&file, "", "the top level must be a mapping"));
        }
        let lookup = self.lookup();
        crate::interpolate::interpolate_tree(&mut doc, "", &lookup)
            .map_err(|(p, e)| Error::invalid(&file, &p, e.to_string()))?;
        let includes = doc
            .as_object_mut()
            .and_then(|m| m.remove("include"))
            .unwrap_or(Value::Null);
        strip_extensions(&mut doc);
        let mut checked = check(&file, doc)?;
        resolve_paths(&mut checked, base, self.home.as_deref());
        self.extends(&mut checked, &file, seen)?;
        let mut out = to_value(&checked);
        let dir = path.parent().unwrap_or(base);
        for (i, inc) in includes.as_array().into_iter().flatten().enumerate() {
            let rel = match inc {
                Value::String(s) => s.clone(),
                Value::Object(m) => match m.get("path") {
                    Some(Value::String(s)) => s.clone(),
                    _ => {
                        return Err(Error::invalid(
                            &file,
                            &format!("include[{i}].path"),
                            "is required",
                        ))
                    }
                },
                _ => {
                    return Err(Error::invalid(
                        &file,
                        &format!("include[{i}]"),
                        "must be a path or a mapping",
                    ))
                }
            };
            let inc_path = PathBuf::from(absolute(dir, &rel, self.home.as_deref()));
            let inc_dir = inc_path.parent().unwrap_or(dir).to_path_buf();
            let included = self.load_file(&inc_path, &inc_dir, seen)?;
            // Included resources may not clash with this file's.
            for section in ["services", "networks", "volumes", "secrets", "configs"] {
                let Some(Value::Object(items)) = included.get(section) else {
                    continue;
                };
                for (k, v) in items {
                    let target = out
                        .as_object_mut()
                        .and_then(|o| {
                            o.entry(section)
                                .or_insert_with(|| Value::Object(Map::new()))
                                .as_object_mut()
                        })
                        .ok_or_else(|| Error::Project("bad document".into()))?;
                    if target.contains_key(k) {
                        return Err(Error::invalid(
                            &file,
                            &format!("{section}.{k}"),
                            format!(
                                "conflicts with the one included from {}",
                                inc_path.display()
                            ),
                        ));
                    }
                    target.insert(k.clone(), v.clone());
                }
            }
        }
        seen.pop();
        Ok(out)
    }

    /// Resolves `extends` in a file's services.
    fn extends(&self, f: &mut File, file: &str, seen: &mut Vec<PathBuf>) -> Result<(), Error> {
        let names: Vec<String> = f.services.keys().cloned().collect();
        for name in names {
            let mut chain = vec![name.clone()];
            let resolved = self.extended(f, file, &name, &mut chain, seen)?;
            f.services.insert(name, resolved);
        }
        Ok(())
    }

    fn extended(
        &self,
        f: &File,
        file: &str,
        name: &str,
        chain: &mut Vec<String>,
        seen: &mut Vec<PathBuf>,
    ) -> Result<Service, Error> {
        let service = f.services.get(name).cloned().ok_or_else(|| {
            Error::invalid(
                file,
                &format!("services.{}.extends", chain[0]),
                format!("cannot extend service {name:?}: not found"),
            )
        })?;
        let Some(ext) = service.extends.clone() else {
            return Ok(service);
        };
        let path = format!("services.{name}.extends");
        let base = match &ext.file {
            None => {
                if chain.contains(&ext.service) {
                    return Err(Error::invalid(
                        file,
                        &path,
                        format!(
                            "circular extends: {} -> {}",
                            chain.join(" -> "),
                            ext.service
                        ),
                    ));
                }
                chain.push(ext.service.clone());
                self.extended(f, file, &ext.service, chain, seen)?
            }
            Some(other) => {
                let other_path = PathBuf::from(other);
                if seen.iter().any(|p| p == &other_path) {
                    return Err(Error::invalid(
                        file,
                        &path,
                        format!(
                            "circular extends: service {name:?} extends {:?} in {other}, a file that is already being read",
                            ext.service
                        ),
                    ));
                }
                let dir = other_path.parent().unwrap_or(Path::new("/")).to_path_buf();
                let doc = self.load_file(&other_path, &dir, seen)?;
                let svc = doc
                    .get("services")
                    .and_then(|s| s.get(&ext.service))
                    .cloned()
                    .ok_or_else(|| {
                        Error::invalid(
                            file,
                            &path,
                            format!("service {:?} not found in {other}", ext.service),
                        )
                    })?;
                serde_json::from_value(svc).map_err(|e| Error::invalid(other, "", e.to_string()))?
            }
        };
        // A base kept out of the way by a profile does not pass it on.
        let mut base = base;
        base.profiles.clear();
        let mut merged = to_value(&base);
        let mut over = service;
        over.extends = None;
        crate::merge::merge(&mut merged, to_value(&over), "");
        if let Value::Object(m) = &mut merged {
            m.remove("extends");
        }
        serde_json::from_value(merged).map_err(|e| Error::invalid(file, &path, e.to_string()))
    }
}

/// Loads the project.
pub fn load(opts: &LoadOptions) -> Result<Project, Error> {
    // The files: -f, COMPOSE_FILE, or the default names.
    let mut files: Vec<PathBuf> = opts
        .files
        .iter()
        .map(|f| {
            if f.is_absolute() {
                f.clone()
            } else {
                opts.cwd.join(f)
            }
        })
        .collect();
    if files.is_empty() {
        if let Some(list) = opts.environ.get("COMPOSE_FILE").filter(|s| !s.is_empty()) {
            let sep = opts
                .environ
                .get("COMPOSE_PATH_SEPARATOR")
                .and_then(|s| s.chars().next())
                .unwrap_or(':');
            files = list
                .split(sep)
                .filter(|s| !s.is_empty())
                .map(|s| opts.cwd.join(s))
                .collect();
        }
    }
    if files.is_empty() {
        let dir = opts.project_directory.as_deref().unwrap_or(&opts.cwd);
        let found = find_file(dir).ok_or_else(|| {
            Error::Project(
                "no configuration file provided: not found (compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml)"
                    .into(),
            )
        })?;
        files.push(found);
    }
    for f in &files {
        if !f.is_file() {
            return Err(Error::Project(format!(
                "open {}: no such file or directory",
                f.display()
            )));
        }
    }
    let working_dir = match &opts.project_directory {
        Some(d) if d.is_absolute() => d.clone(),
        Some(d) => opts.cwd.join(d),
        None => files[0]
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| opts.cwd.clone()),
    };
    let working_dir = clean(&working_dir);

    // Variables: .env (or --env-file) under the process environment.
    let env_files: Vec<PathBuf> = if opts.env_files.is_empty() {
        let dotenv = working_dir.join(".env");
        if dotenv.is_file() {
            vec![dotenv]
        } else {
            Vec::new()
        }
    } else {
        opts.env_files
            .iter()
            .map(|p| {
                if p.is_absolute() {
                    p.clone()
                } else {
                    opts.cwd.join(p)
                }
            })
            .collect()
    };
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    for ef in &env_files {
        let text = read(ef)?;
        let known = variables.clone();
        let lookup = |n: &str| opts.environ.get(n).or_else(|| known.get(n)).cloned();
        let pairs = crate::envfile::parse(&text, &lookup)
            .map_err(|e| Error::invalid(&ef.display().to_string(), "", e))?;
        variables.extend(pairs);
    }
    variables.extend(opts.environ.iter().map(|(k, v)| (k.clone(), v.clone())));

    let loader = Loader {
        home: opts.environ.get("HOME").cloned(),
        variables,
    };
    let mut merged = Value::Object(Map::new());
    for f in &files {
        let mut seen = Vec::new();
        let doc = loader.load_file(f, &working_dir, &mut seen)?;
        crate::merge::merge(&mut merged, doc, "");
    }
    let model: File = serde_json::from_value(merged)
        .map_err(|e| Error::Project(format!("merging the compose files: {e}")))?;

    let name = match (
        &opts.project_name,
        loader.variables.get("COMPOSE_PROJECT_NAME"),
    ) {
        (Some(n), _) => n.clone(),
        (None, Some(n)) if !n.is_empty() => n.clone(),
        _ => match &model.name {
            Some(n) => n.clone(),
            None => normalize_name(
                &working_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        },
    };
    if !is_valid_name(&name) {
        return Err(Error::Project(format!(
            "invalid project name {name:?}: must consist only of lowercase alphanumeric characters, hyphens and underscores, and start with a letter or number"
        )));
    }

    let mut profiles: BTreeSet<String> = opts.profiles.iter().cloned().collect();
    if let Some(p) = loader.variables.get("COMPOSE_PROFILES") {
        profiles.extend(p.split(',').filter(|s| !s.is_empty()).map(str::to_string));
    }
    let mut services = BTreeMap::new();
    let mut disabled = BTreeMap::new();
    for (n, s) in model.services {
        let active = s.profiles.is_empty()
            || profiles.contains("*")
            || s.profiles.iter().any(|p| profiles.contains(p));
        if active {
            services.insert(n, s);
        } else {
            disabled.insert(n, s);
        }
    }

    let mut project = Project {
        name,
        working_dir,
        config_files: files,
        services,
        disabled,
        networks: model.networks,
        volumes: model.volumes,
        secrets: model.secrets,
        configs: model.configs,
        variables: loader.variables,
    };
    finish(&mut project)?;
    Ok(project)
}

/// Environment from `env_file`s and the variables, the default network,
/// and the project-wide checks.
fn finish(p: &mut Project) -> Result<(), Error> {
    let mut uses_default = false;
    for (name, s) in p.services.iter_mut() {
        let mut env: BTreeMap<String, Option<String>> = BTreeMap::new();
        for ef in &s.env_file {
            let path = Path::new(&ef.path);
            if !path.is_file() {
                if ef.required {
                    return Err(Error::Project(format!(
                        "env file {} not found (service {name})",
                        ef.path
                    )));
                }
                continue;
            }
            let text = read(path)?;
            let vars = &p.variables;
            let pairs = crate::envfile::parse(&text, &|n: &str| vars.get(n).cloned())
                .map_err(|e| Error::invalid(&ef.path, "", e))?;
            env.extend(pairs.into_iter().map(|(k, v)| (k, Some(v))));
        }
        for (k, v) in std::mem::take(&mut s.environment) {
            env.insert(k, v);
        }
        // A name without a value takes the variable's, or is left out.
        s.environment = env
            .into_iter()
            .filter_map(|(k, v)| match v {
                Some(v) => Some((k, Some(v))),
                None => p.variables.get(&k).map(|v| (k, Some(v.clone()))),
            })
            .collect();
        if let Some(platform) = &s.platform {
            let host = format!("linux/{}", host_arch());
            if platform != &host && platform != "linux" {
                return Err(Error::Unsupported(format!(
                    "service {name:?}: platform {platform} (only the host's, {host})"
                )));
            }
        }
        if s.image.is_none() && s.build.is_none() {
            return Err(Error::Project(format!(
                "service {name:?} has neither an image nor a build context specified"
            )));
        }
        if s.network_mode.is_none() && s.networks.is_empty() {
            uses_default = true;
        }
        for net in s.networks.keys() {
            if net == "default" {
                uses_default = true;
            } else if !p.networks.contains_key(net) {
                return Err(Error::Project(format!(
                    "service {name:?} refers to undefined network {net}: invalid compose project"
                )));
            }
        }
        for v in &s.volumes {
            if v.kind == "volume" && !v.source.is_empty() && !p.volumes.contains_key(&v.source) {
                return Err(Error::Project(format!(
                    "service {name:?} refers to undefined volume {}: invalid compose project",
                    v.source
                )));
            }
        }
        for (what, refs, defs) in [
            ("secret", &s.secrets, &p.secrets),
            ("config", &s.configs, &p.configs),
        ] {
            for r in refs {
                if !defs.contains_key(&r.source) {
                    return Err(Error::Project(format!(
                        "service {name:?} refers to undefined {what} {}: invalid compose project",
                        r.source
                    )));
                }
            }
        }
    }
    if uses_default {
        p.networks.entry("default".into()).or_default();
    }
    let names: BTreeSet<String> = p.services.keys().cloned().collect();
    for (name, s) in &p.services {
        for (dep, d) in &s.depends_on {
            if !names.contains(dep) && d.required {
                let why = if p.disabled.contains_key(dep) {
                    "is not enabled by the active profiles"
                } else {
                    "is not defined"
                };
                return Err(Error::Project(format!(
                    "service {name:?} depends on {dep:?}, which {why}"
                )));
            }
        }
        if let Some(mode) = s.network_mode.as_deref() {
            if let Some(other) = mode.strip_prefix("service:") {
                if !names.contains(other) {
                    return Err(Error::Project(format!(
                        "service {name:?} uses the network stack of undefined service {other:?}"
                    )));
                }
            }
        }
    }
    p.start_order().map(|_| ())
}

/// The host's architecture as image platforms name it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
