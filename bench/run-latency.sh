#!/usr/bin/env bash
# Times `run --rm busybox true` for berth, and for docker and podman when
# they are running/installed (see ../shared/peers for setting them up with
# the same busybox image). Prints hyperfine's table and exports JSON.
#
# usage: bench/run-latency.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
command -v hyperfine >/dev/null || { echo "install hyperfine (scripts/deps.sh)" >&2; exit 1; }
cargo build --release --quiet
berth=$PWD/target/release/berth
work=$(mktemp -d)
cleanup() {
  if [ -f "$work/run/berth.pid" ]; then kill "$(cat "$work/run/berth.pid")" 2>/dev/null || true; fi
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
"$berth" daemon --root "$work/root" --exec-root "$work/run" >"$work/daemon.log" 2>&1 &
export BERTH_HOST=unix://$work/run/berth.sock
for _ in $(seq 100); do "$berth" version >/dev/null 2>&1 && break; sleep 0.05; done
./scripts/make-busybox-image.sh "$work/busybox.tar" >/dev/null
"$berth" import --change 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null

cmds=("$berth run --rm busybox true")
names=(berth)
if command -v docker >/dev/null && docker -H unix:///var/run/docker.sock info >/dev/null 2>&1; then
  cmds+=("docker -H unix:///var/run/docker.sock run --rm busybox true"); names+=(docker)
fi
if command -v podman >/dev/null && podman image exists busybox 2>/dev/null; then
  cmds+=("podman run --rm busybox true"); names+=(podman)
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 5 --runs "$runs" --export-json "${BENCH_JSON:-/tmp/berth-run-latency.json}" "${args[@]}"
