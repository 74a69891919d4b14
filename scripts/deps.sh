#!/usr/bin/env bash
# Installs the Debian packages Berth's build, demo and tests need (only the
# missing ones). Needs root.
set -euo pipefail
pkgs=(busybox-static skopeo podman runc hyperfine nftables libseccomp-dev uidmap tar procps util-linux tmux iproute2 debootstrap gcc libc6-dev iperf3 curl openssl docker-registry xz-utils bzip2 docker-compose python3-venv slirp4netns fuse-overlayfs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "error: cargo is required (https://rustup.rs)" >&2; exit 1; }

# testcontainers-python for the end-to-end test that drives berth with it,
# in a virtual environment under target/ (nothing installed system-wide).
venv="$(cd "$(dirname "$0")/.." && pwd)/target/py"
if ! "$venv/bin/python" -c 'import testcontainers' 2>/dev/null; then
  echo "installing testcontainers-python into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'testcontainers==4.15.0' 'docker==7.2.0'
fi
