#!/usr/bin/env bash
# Times `run --rm busybox true` (and with `--network none`) for berth, and
# for docker and podman when they are set up with the same busybox image
# (../shared/peers: setup-peers.sh, make-base-images.sh; source its lib.sh).
# The first row of each engine runs on its default bridge (a network
# namespace, a veth, an address and a route per container). Prints
# hyperfine's table, exports JSON.
#
# usage: [BERTH_BIN=path] bench/run-latency.sh [RUNS]
runs=${1:-50}
. "$(dirname "$0")/lib.sh"

# docker and podman as ../shared/peers sets them up (source its lib.sh first so
# podman gets CONTAINERS_CONF); each only when it has the busybox image.
# Seccomp is on by default for all three; the limits row adds cgroup limits.
limits="--network none --memory 64m --cpus 1 --pids-limit 100"
cmds=("$berth run --rm busybox true" "$berth run --rm --network none busybox true" "$berth run --rm $limits busybox true")
names=("berth" "berth --network none" "berth limits")
if peer_ready docker; then
  cmds+=("docker run --rm busybox true" "docker run --rm --network none busybox true" "docker run --rm $limits busybox true")
  names+=("docker" "docker --network none" "docker limits")
fi
if peer_ready podman; then
  cmds+=("podman run --rm busybox true" "podman run --rm --network none busybox true" "podman run --rm $limits busybox true")
  names+=("podman" "podman --network none" "podman limits")
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 5 --runs "$runs" --export-json "${BENCH_JSON:-/tmp/berth-run-latency.json}" "${args[@]}"
