#!/usr/bin/env bash
# Times `exec c true` against one idle container, for berth and, when set up
# with the same busybox image (../shared/peers), docker and podman.
# usage: [BERTH_BIN=path] bench/exec-latency.sh [RUNS]
runs=${1:-50}
. "$(dirname "$0")/lib.sh"
"$berth" run -d --name bench-exec busybox sleep 100000 >/dev/null
cmds=("$berth exec bench-exec true"); names=("berth exec")
peer_ids=()
# Peer containers go in the same exit trap as berth's, and a name left by a
# failed earlier run is cleared first.
peer_cleanup() {
  for p in "${peer_ids[@]}"; do
    if [ "$p" = docker ]; then env -u BERTH_HOST docker rm -f bench-exec >/dev/null 2>&1 || true
    else podman rm -f bench-exec >/dev/null 2>&1 || true; fi
  done
  cleanup
}
trap peer_cleanup EXIT
if peer_ready docker; then
  peer_ids+=(docker)
  env -u BERTH_HOST docker rm -f bench-exec >/dev/null 2>&1 || true
  env -u BERTH_HOST docker run -d --name bench-exec busybox sleep 100000 >/dev/null
  cmds+=("docker exec bench-exec true"); names+=("docker exec")
fi
if peer_ready podman; then
  peer_ids+=(podman)
  podman rm -f bench-exec >/dev/null 2>&1 || true
  podman run -d --name bench-exec busybox sleep 100000 >/dev/null
  cmds+=("podman exec bench-exec true"); names+=("podman exec")
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 5 --runs "$runs" --export-json "${BENCH_JSON:-/tmp/berth-exec-latency.json}" "${args[@]}"
