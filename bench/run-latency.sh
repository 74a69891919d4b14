#!/usr/bin/env bash
# Times `run --rm busybox true` (and with `--network none`) for berth, and
# for docker and podman when they are set up with the same busybox image
# (../shared/peers: setup-peers.sh, make-base-images.sh; source its lib.sh).
# Berth has no container networking yet, so compare the `--network none`
# rows for a like-for-like figure. Prints hyperfine's table, exports JSON.
#
# usage: [BERTH_BIN=path] bench/run-latency.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
command -v hyperfine >/dev/null || { echo "install hyperfine (scripts/deps.sh)" >&2; exit 1; }
# BERTH_BIN: a berth binary to measure; default: build the release one.
if [ -n "${BERTH_BIN:-}" ]; then
  berth=$BERTH_BIN
else
  cargo build --release --quiet
  berth=$PWD/target/release/berth
fi
work=$(mktemp -d)
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
export BERTH_HOST=unix://$work/run/berth.sock
"$berth" daemon -H "$BERTH_HOST" --root "$work/root" --exec-root "$work/run" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
ready=
for _ in $(seq 200); do
  if "$berth" version >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.05
done
if [ -z "$ready" ]; then
  echo "berth daemon did not start; its log:" >&2
  cat "$work/daemon.log" >&2
  exit 1
fi
# The peers' busybox rootfs when ../shared/peers made one, so all engines run
# the same image; else our own fixture.
rootfs=${PEERS:-/var/tmp/peers}/busybox-rootfs.tar
if [ ! -s "$rootfs" ]; then
  rootfs=$work/busybox.tar
  ./scripts/make-busybox-image.sh "$rootfs" >/dev/null
fi
"$berth" import --change 'CMD ["sh"]' "$rootfs" busybox:latest >/dev/null

# docker and podman as ../shared/peers sets them up (source its lib.sh first so
# podman gets CONTAINERS_CONF); each only when it has the busybox image.
cmds=("$berth run --rm busybox true" "$berth run --rm --network none busybox true")
names=("berth" "berth --network none")
if command -v docker >/dev/null && env -u BERTH_HOST docker image inspect busybox >/dev/null 2>&1; then
  cmds+=("docker run --rm busybox true" "docker run --rm --network none busybox true")
  names+=("docker" "docker --network none")
fi
if command -v podman >/dev/null && podman image exists busybox 2>/dev/null; then
  cmds+=("podman run --rm busybox true" "podman run --rm --network none busybox true")
  names+=("podman" "podman --network none")
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 5 --runs "$runs" --export-json "${BENCH_JSON:-/tmp/berth-run-latency.json}" "${args[@]}"
