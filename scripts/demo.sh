#!/usr/bin/env bash
# Sets up and shows Berth's main job: import a busybox image, run containers,
# read their logs. Uses the default socket, so the CLI starts `berth daemon`
# by itself, as it does for a new user.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --release --quiet
berth=$PWD/target/release/berth
tarball=$(mktemp --suffix=.tar)
trap 'rm -f "$tarball"' EXIT
./scripts/make-busybox-image.sh "$tarball" >/dev/null

step() { printf '\n$ %s\n' "$*"; "$@"; }
step "$berth" import --change 'CMD ["sh"]' "$tarball" busybox:latest
step "$berth" images
step "$berth" run --rm busybox echo hello from a berth container
step "$berth" run -d --name berth-demo busybox sh -c 'echo up; hostname; sleep 1000'
sleep 0.3
step "$berth" ps
step "$berth" logs berth-demo
step "$berth" rm -f berth-demo
echo
echo "The daemon keeps running in the background (pid $(cat /run/berth/berth.pid), log /run/berth/daemon.log)."
