//! Seccomp profiles in Docker's JSON format, and their resolution for one
//! container (its capabilities, the machine's architecture and kernel) into
//! the OCI `linux.seccomp` section.

use std::collections::HashSet;

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::{Deserialize, Serialize};

/// A profile as Docker reads it (`--security-opt seccomp=<file>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// The old form: a flat list of architectures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

/// A native architecture and the others its processes may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Vec<String>,
}

/// One rule: an action for some syscalls, maybe with argument conditions,
/// maybe only for some capabilities, architectures or kernels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// The old form: one name per rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
    #[serde(default, skip_serializing_if = "Filter::is_empty")]
    pub includes: Filter,
    #[serde(default, skip_serializing_if = "Filter::is_empty")]
    pub excludes: Filter,
}

/// A condition on one syscall argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: usize,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// When a rule applies (`includes`) or does not (`excludes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// Errors reading or resolving a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("decoding seccomp profile failed: {0}")]
    Json(#[source] serde_json::Error),
    #[error("seccomp profile: unknown action {0:?}")]
    Action(String),
    #[error("seccomp profile: unknown operator {0:?}")]
    Operator(String),
    #[error("seccomp profile: unknown architecture {0:?}")]
    Arch(String),
    #[error("seccomp profile: invalid minKernel {0:?}")]
    Kernel(String),
    #[error("seccomp profile: a rule has no syscall names")]
    NoNames,
}

/// The machine a profile is resolved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// `uname -m` of the native architecture (`x86_64`, `aarch64`, ...).
    pub machine: &'static str,
    /// Kernel (major, minor).
    pub kernel: (u32, u32),
}

impl Target {
    /// This machine.
    pub fn native(kernel: (u32, u32)) -> Target {
        Target {
            machine: std::env::consts::ARCH,
            kernel,
        }
    }

    /// libseccomp's name for the native architecture.
    pub fn scmp_arch(&self) -> &'static str {
        match self.machine {
            "x86_64" => "SCMP_ARCH_X86_64",
            "x86" => "SCMP_ARCH_X86",
            "aarch64" => "SCMP_ARCH_AARCH64",
            "arm" => "SCMP_ARCH_ARM",
            "powerpc64" => "SCMP_ARCH_PPC64LE",
            "s390x" => "SCMP_ARCH_S390X",
            "riscv64" => "SCMP_ARCH_RISCV64",
            "mips64" => "SCMP_ARCH_MIPS64",
            "loongarch64" => "SCMP_ARCH_LOONGARCH64",
            _ => "SCMP_ARCH_NATIVE",
        }
    }

    /// Go's name for the native architecture, as profiles' `arches` use it.
    pub fn go_arch(&self) -> &'static str {
        match self.machine {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" => "ppc64le",
            "arm" => "arm",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "mips64" => "mips64",
            "loongarch64" => "loong64",
            _ => "unknown",
        }
    }
}

/// Parses a profile from Docker's JSON.
pub fn parse(json: &str) -> Result<Profile, ProfileError> {
    serde_json::from_str(json).map_err(ProfileError::Json)
}

fn action(name: &str) -> Result<LinuxSeccompAction, ProfileError> {
    use LinuxSeccompAction as A;
    Ok(match name {
        "SCMP_ACT_KILL" => A::ScmpActKill,
        "SCMP_ACT_KILL_THREAD" => A::ScmpActKillThread,
        "SCMP_ACT_KILL_PROCESS" => A::ScmpActKillProcess,
        "SCMP_ACT_TRAP" => A::ScmpActTrap,
        "SCMP_ACT_ERRNO" => A::ScmpActErrno,
        "SCMP_ACT_TRACE" => A::ScmpActTrace,
        "SCMP_ACT_LOG" => A::ScmpActLog,
        "SCMP_ACT_ALLOW" => A::ScmpActAllow,
        "SCMP_ACT_NOTIFY" => A::ScmpActNotify,
        other => return Err(ProfileError::Action(other.to_string())),
    })
}

fn operator(name: &str) -> Result<LinuxSeccompOperator, ProfileError> {
    use LinuxSeccompOperator as O;
    Ok(match name {
        "SCMP_CMP_NE" => O::ScmpCmpNe,
        "SCMP_CMP_LT" => O::ScmpCmpLt,
        "SCMP_CMP_LE" => O::ScmpCmpLe,
        "SCMP_CMP_EQ" => O::ScmpCmpEq,
        "SCMP_CMP_GE" => O::ScmpCmpGe,
        "SCMP_CMP_GT" => O::ScmpCmpGt,
        "SCMP_CMP_MASKED_EQ" => O::ScmpCmpMaskedEq,
        other => return Err(ProfileError::Operator(other.to_string())),
    })
}

fn arch(name: &str) -> Result<Arch, ProfileError> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| ProfileError::Arch(name.to_string()))
}

fn kernel_at_least(min: &str, kernel: (u32, u32)) -> Result<bool, ProfileError> {
    let mut parts = min.split('.');
    let num = |p: Option<&str>| {
        p.and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| ProfileError::Kernel(min.to_string()))
    };
    let want = (num(parts.next())?, num(parts.next())?);
    Ok(kernel >= want)
}

/// The capability names of a set, as profiles spell them (`CAP_SYS_ADMIN`).
pub fn cap_names(caps: &HashSet<Capability>) -> HashSet<String> {
    caps.iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

/// Resolves `profile` for a container with capabilities `caps` (its
/// bounding set) on `target`: the result has no conditions on capabilities,
/// architectures or kernels left.
pub fn resolve(
    profile: &Profile,
    caps: &HashSet<Capability>,
    target: Target,
) -> Result<LinuxSeccomp, ProfileError> {
    let caps = cap_names(caps);
    let native = target.scmp_arch();
    let arches: Vec<Arch> = if profile.arch_map.is_empty() {
        profile
            .architectures
            .iter()
            .map(|a| arch(a))
            .collect::<Result<_, _>>()?
    } else {
        let mut out = Vec::new();
        for m in profile.arch_map.iter().filter(|m| m.architecture == native) {
            out.push(arch(&m.architecture)?);
            for sub in &m.sub_architectures {
                out.push(arch(sub)?);
            }
        }
        out
    };
    let go_arch = target.go_arch();
    let mut syscalls = Vec::new();
    for rule in &profile.syscalls {
        let inc = &rule.includes;
        let exc = &rule.excludes;
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == go_arch) {
            continue;
        }
        if exc.arches.iter().any(|a| a == go_arch) {
            continue;
        }
        if !inc.caps.iter().all(|c| caps.contains(c)) {
            continue;
        }
        if exc.caps.iter().any(|c| caps.contains(c)) {
            continue;
        }
        if let Some(min) = &inc.min_kernel {
            if !kernel_at_least(min, target.kernel)? {
                continue;
            }
        }
        let mut names = rule.names.clone();
        names.extend(rule.name.clone());
        if names.is_empty() {
            return Err(ProfileError::NoNames);
        }
        let mut s = LinuxSyscall::default();
        s.set_names(names);
        s.set_action(action(&rule.action)?);
        s.set_errno_ret(rule.errno_ret);
        let args = match &rule.args {
            Some(args) if !args.is_empty() => Some(
                args.iter()
                    .map(|a| {
                        let mut b = LinuxSeccompArgBuilder::default()
                            .index(a.index)
                            .value(a.value)
                            .op(operator(&a.op)?);
                        if a.value_two != 0 {
                            b = b.value_two(a.value_two);
                        }
                        b.build().map_err(|_| ProfileError::NoNames)
                    })
                    .collect::<Result<Vec<_>, ProfileError>>()?,
            ),
            _ => None,
        };
        s.set_args(args);
        syscalls.push(s);
    }
    let mut out = LinuxSeccomp::default();
    out.set_default_action(action(&profile.default_action)?);
    out.set_default_errno_ret(profile.default_errno_ret);
    out.set_architectures((!arches.is_empty()).then_some(arches));
    out.set_syscalls(Some(syscalls));
    Ok(out)
}
