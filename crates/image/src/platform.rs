//! Platform specifiers (`linux`, `linux/arm64/v8`, `amd64`) as containerd's
//! `platforms.Parse` reads them for Docker: names normalised (`x86_64` is
//! `amd64`, `aarch64` is `arm64`), unknown ones refused with its words.

use crate::config::host_platform;

/// An OS, architecture and optional variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

const OSES: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

const ARCHES: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let v = variant.map(str::to_string);
    match arch {
        "i386" => ("386".into(), None),
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), v.filter(|v| v != "v1")),
        "aarch64" | "arm64" => ("arm64".into(), v.filter(|v| v != "v8" && v != "8")),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => (
            "arm".into(),
            Some(match v.as_deref() {
                None | Some("7") | Some("v7") => "v7".into(),
                Some("5") | Some("6") | Some("8") => format!("v{}", v.unwrap_or_default()),
                Some(other) => other.to_string(),
            }),
        ),
        other => (other.to_string(), v),
    }
}

fn unknown(spec: &str) -> String {
    format!("\"{spec}\": unknown operating system or architecture: invalid argument")
}

/// Parses `spec`; a lone architecture means the host's OS, a lone OS the
/// host's architecture when it is the host's OS.
pub fn parse(spec: &str) -> Result<Platform, String> {
    let lower = spec.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
        return Err(format!("{spec:?}: invalid platform format"));
    }
    let (host_os, host_arch) = host_platform();
    let (os, arch, variant) = match parts.as_slice() {
        [one] if OSES.contains(one) => {
            let arch = if *one == host_os { host_arch } else { "" };
            (one.to_string(), arch.to_string(), None)
        }
        [one] => {
            let (arch, variant) = normalize_arch(one, None);
            if !ARCHES.contains(&arch.as_str()) {
                return Err(unknown(spec));
            }
            (host_os.to_string(), arch, variant)
        }
        [os, arch] => {
            let (arch, variant) = normalize_arch(arch, None);
            (os.to_string(), arch, variant)
        }
        [os, arch, variant] => {
            let (arch, variant) = normalize_arch(arch, Some(variant));
            (os.to_string(), arch, variant)
        }
        _ => return Err(format!("{spec:?}: invalid platform format")),
    };
    let os = if os == "macos" {
        "darwin".to_string()
    } else {
        os
    };
    if !OSES.contains(&os.as_str()) || (!arch.is_empty() && !ARCHES.contains(&arch.as_str())) {
        return Err(unknown(spec));
    }
    Ok(Platform {
        os,
        architecture: arch,
        variant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_containerd() {
        let p = |s: &str| parse(s).map(|p| (p.os, p.architecture, p.variant));
        let (_, host_arch) = host_platform();
        assert_eq!(p("linux"), Ok(("linux".into(), host_arch.into(), None)));
        assert_eq!(p("linux/amd64"), Ok(("linux".into(), "amd64".into(), None)));
        assert_eq!(
            p("Linux/x86_64"),
            Ok(("linux".into(), "amd64".into(), None))
        );
        assert_eq!(
            p("linux/aarch64"),
            Ok(("linux".into(), "arm64".into(), None))
        );
        assert_eq!(
            p("linux/arm64/v8"),
            Ok(("linux".into(), "arm64".into(), None))
        );
        assert_eq!(
            p("linux/arm"),
            Ok(("linux".into(), "arm".into(), Some("v7".into())))
        );
        assert_eq!(
            p("linux/arm/v6"),
            Ok(("linux".into(), "arm".into(), Some("v6".into())))
        );
        assert_eq!(p("arm64"), Ok(("linux".into(), "arm64".into(), None)));
        assert_eq!(
            p("windows/amd64"),
            Ok(("windows".into(), "amd64".into(), None))
        );
        assert_eq!(
            p("nonsense"),
            Err("\"nonsense\": unknown operating system or architecture: invalid argument".into())
        );
        assert!(p("linux/nonsense").is_err());
        assert!(p("linux//amd64").is_err());
        assert!(p("a/b/c/d").is_err());
    }
}
