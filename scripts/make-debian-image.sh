#!/usr/bin/env bash
# Builds a Debian bookworm rootfs tarball (debootstrap --variant=minbase) from
# the host's configured Debian mirror, for `berth import`. No registry needed.
#
# usage: scripts/make-debian-image.sh OUT.tar
set -euo pipefail
out=${1:?usage: $0 OUT.tar}
command -v debootstrap >/dev/null || { echo "error: install debootstrap (scripts/deps.sh)" >&2; exit 1; }
# The first Debian mirror the host's apt uses (deb822 or one-line format).
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \+\(http[^ ]*debian\)\/* .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
if ! debootstrap --variant=minbase --arch=amd64 bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -20 "$work/debootstrap.log" >&2
  echo "error: debootstrap from $mirror failed" >&2
  exit 1
fi
# An image rootfs: no host identity, no apt lists or caches.
: > "$root/etc/resolv.conf"
rm -f "$root/etc/hostname"
: > "$root/etc/machine-id"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/debootstrap
printf 'deb %s bookworm main\n' "$mirror" > "$root/etc/apt/sources.list"
tar --numeric-owner -C "$root" -cf "$out" .
echo "$out"
