//! The stage plan (pure): which stages a build needs for its target, what
//! each stage starts from (an image, an earlier stage, or scratch), what it
//! copies or mounts from, and the waves in which stages can be built in
//! parallel (every stage's dependencies in earlier waves).

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::{Dockerfile, Instr};
use crate::expand::Expander;

/// A plan error (the message names the stage or flag at fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PlanError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// What a stage starts from, or a `--from` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An image reference, resolved (pulled if missing) by the executor.
    Image(String),
    /// An earlier stage, by index.
    Stage(usize),
    /// `FROM scratch`: nothing.
    Scratch,
}

/// A stage the build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStage {
    pub index: usize,
    pub base: Source,
    /// Stages this one needs (base, `COPY --from`, `RUN --mount from=`).
    pub deps: BTreeSet<usize>,
}

/// The stages to build for a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: usize,
    /// Needed stages in Dockerfile order.
    pub stages: Vec<PlannedStage>,
    /// Stage indexes by wave: each wave only needs earlier waves.
    pub waves: Vec<Vec<usize>>,
}

impl Plan {
    /// The planned stage with this index.
    pub fn stage(&self, index: usize) -> Option<&PlannedStage> {
        self.stages.iter().find(|s| s.index == index)
    }
}

/// Proxy build args: usable in RUN without an `ARG`, kept out of the
/// cache key and the history (Docker's predefined ARGs).
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The platform ARGs every build defines in the global scope
/// (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT` and the
/// `BUILD*` ones), for `linux/<arch>[/<variant>]`.
pub fn platform_args(arch: &str, variant: &str) -> BTreeMap<String, String> {
    let platform = if variant.is_empty() {
        format!("linux/{arch}")
    } else {
        format!("linux/{arch}/{variant}")
    };
    let mut m = BTreeMap::new();
    for side in ["TARGET", "BUILD"] {
        m.insert(format!("{side}PLATFORM"), platform.clone());
        m.insert(format!("{side}OS"), "linux".to_string());
        m.insert(format!("{side}ARCH"), arch.to_string());
        m.insert(format!("{side}VARIANT"), variant.to_string());
    }
    m
}

/// The host's architecture as OCI names it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The global ARGs' values: the platform ARGs, then the declared ones'
/// defaults, overridden by build args (only for ARGs the Dockerfile
/// declares).
pub fn global_args(
    df: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, crate::expand::ExpandError> {
    let mut vars = platform_args(host_arch(), "");
    for (name, default) in &df.global_args {
        let value = match build_args.get(name) {
            Some(v) => Some(v.clone()),
            None => match default {
                Some(d) => Some(
                    Expander {
                        vars: &vars,
                        escape: df.escape,
                    }
                    .word(d)?,
                ),
                None => None,
            },
        };
        if let Some(v) = value {
            vars.insert(name.clone(), v);
        }
    }
    Ok(vars)
}

/// What `name` (a `FROM` base or a `--from` value) refers to, seen from
/// stage `current`: an earlier stage by name or index, else an image.
pub fn resolve(df: &Dockerfile, name: &str, current: usize) -> Result<Source, String> {
    if name.eq_ignore_ascii_case("scratch") {
        return Ok(Source::Scratch);
    }
    let lower = name.to_lowercase();
    if let Some(s) = df.stages[..current]
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Ok(Source::Stage(s.index));
    }
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_digit()) {
        let n: usize = name
            .parse()
            .map_err(|_| format!("invalid stage index {name}"))?;
        if n >= current {
            return Err(format!(
                "invalid from flag value {name}: refers to current or future build stage"
            ));
        }
        return Ok(Source::Stage(n));
    }
    Ok(Source::Image(name.to_string()))
}

/// Plans the build of `target` (a stage name; the last stage when `None`).
pub fn plan(
    df: &Dockerfile,
    target: Option<&str>,
    build_args: &BTreeMap<String, String>,
) -> Result<Plan, PlanError> {
    let err = |line: usize, message: String| PlanError {
        file: df.file.clone(),
        line,
        message,
    };
    let vars = global_args(df, build_args).map_err(|e| err(1, e.to_string()))?;
    let ex = Expander {
        vars: &vars,
        escape: df.escape,
    };
    let target = match target {
        None | Some("") => df.stages.len() - 1,
        Some(t) => {
            let lower = t.to_lowercase();
            df.stages
                .iter()
                .find(|s| s.name.as_deref() == Some(lower.as_str()))
                .map(|s| s.index)
                .ok_or_else(|| err(1, format!("target stage {t:?} could not be found")))?
        }
    };
    let mut all = Vec::new();
    for stage in &df.stages[..=target] {
        let base_name = ex
            .word(&stage.base)
            .map_err(|e| err(stage.line, e.to_string()))?;
        if base_name.is_empty() {
            return Err(err(
                stage.line,
                format!("base name ({}) should not be blank", stage.base),
            ));
        }
        let base = resolve(df, &base_name, stage.index).map_err(|m| err(stage.line, m))?;
        let mut deps = BTreeSet::new();
        if let Source::Stage(i) = base {
            deps.insert(i);
        }
        for step in &stage.steps {
            let froms: Vec<String> = match &step.instr {
                Instr::Copy { flags, .. } | Instr::Add { flags, .. } => {
                    flags.get("from").map(str::to_string).into_iter().collect()
                }
                Instr::Run { flags, .. } => flags
                    .all("mount")
                    .iter()
                    .filter_map(|m| {
                        m.split(',')
                            .find_map(|kv| kv.strip_prefix("from="))
                            .map(str::to_string)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for f in froms {
                let f = ex.word(&f).map_err(|e| err(step.line, e.to_string()))?;
                if let Source::Stage(i) =
                    resolve(df, &f, stage.index).map_err(|m| err(step.line, m))?
                {
                    deps.insert(i);
                }
            }
        }
        all.push(PlannedStage {
            index: stage.index,
            base,
            deps,
        });
    }
    // Only what the target needs.
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if needed.insert(i) {
            todo.extend(all[i].deps.iter().copied());
        }
    }
    let stages: Vec<PlannedStage> = all
        .into_iter()
        .filter(|s| needed.contains(&s.index))
        .collect();
    let mut wave_of: BTreeMap<usize, usize> = BTreeMap::new();
    for s in &stages {
        let w = s
            .deps
            .iter()
            .map(|d| wave_of.get(d).map_or(0, |w| w + 1))
            .max()
            .unwrap_or(0);
        wave_of.insert(s.index, w);
    }
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (index, w) in &wave_of {
        if waves.len() <= *w {
            waves.resize(w + 1, Vec::new());
        }
        waves[*w].push(*index);
    }
    Ok(Plan {
        target,
        stages,
        waves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;

    const MULTI: &str = "ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS base
RUN echo base
FROM base AS tools
RUN echo tools
FROM busybox AS unused
RUN echo unused
FROM scratch AS assets
COPY x /x
FROM base AS final
COPY --from=tools /a /a
COPY --from=3 /x /x
COPY --from=alpine:3 /etc/os-release /
RUN --mount=type=bind,from=tools,target=/t true
";

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn target_needs_only_its_dependencies() {
        let df = parse(MULTI, "Dockerfile").unwrap();
        let p = plan(&df, None, &BTreeMap::new()).unwrap();
        assert_eq!(p.target, 4);
        let built: Vec<usize> = p.stages.iter().map(|s| s.index).collect();
        assert_eq!(built, vec![0, 1, 3, 4], "the unused stage is not built");
        assert_eq!(
            p.stage(0).unwrap().base,
            Source::Image("busybox:latest".into())
        );
        assert_eq!(p.stage(1).unwrap().base, Source::Stage(0));
        assert_eq!(p.stage(3).unwrap().base, Source::Scratch);
        assert_eq!(
            p.stage(4).unwrap().deps,
            [0, 1, 3].into_iter().collect::<BTreeSet<_>>()
        );
        assert_eq!(p.waves, vec![vec![0, 3], vec![1], vec![4]]);

        let t = plan(&df, Some("TOOLS"), &BTreeMap::new()).unwrap();
        assert_eq!(t.target, 1);
        assert_eq!(t.waves, vec![vec![0], vec![1]]);
    }

    #[test]
    fn build_args_reach_global_args_only() {
        let df = parse(MULTI, "Dockerfile").unwrap();
        let p = plan(&df, Some("base"), &args(&[("TAG", "1.36"), ("OTHER", "x")])).unwrap();
        assert_eq!(
            p.stage(0).unwrap().base,
            Source::Image("busybox:1.36".into())
        );
        let vars = global_args(&df, &args(&[("BASE", "debian"), ("OTHER", "x")])).unwrap();
        assert_eq!(vars.get("BASE").map(String::as_str), Some("debian"));
        assert!(
            !vars.contains_key("OTHER"),
            "undeclared build args stay out"
        );
        assert_eq!(
            vars.get("TARGETPLATFORM"),
            Some(&format!("linux/{}", host_arch())),
            "platform ARGs are predefined"
        );
        let p = platform_args("arm64", "v8");
        assert_eq!(p["TARGETPLATFORM"], "linux/arm64/v8");
        assert_eq!(p["BUILDARCH"], "arm64");
        assert_eq!(p["TARGETVARIANT"], "v8");
    }

    #[test]
    fn refusals() {
        let df = parse(MULTI, "Dockerfile").unwrap();
        let e = plan(&df, Some("nope"), &BTreeMap::new()).unwrap_err();
        assert!(
            e.message
                .contains("target stage \"nope\" could not be found"),
            "{e}"
        );
        let fwd = parse(
            "FROM busybox\nCOPY --from=1 /a /a\nFROM busybox\n",
            "Dockerfile",
        )
        .unwrap();
        let e = plan(&fwd, Some(""), &BTreeMap::new()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .contains("refers to current or future build stage"),
            "{e}"
        );
        let blank = parse("ARG B\nFROM ${B}\n", "Dockerfile").unwrap();
        let e = plan(&blank, None, &BTreeMap::new()).unwrap_err();
        assert!(e.message.contains("should not be blank"), "{e}");
    }
}
