#!/usr/bin/env bash
# TCP throughput through a published port: an iperf3 server in a container
# published with -p 15201:5201, the iperf3 client on the host against
# 127.0.0.1:15201, for berth and (when set up, see ../shared/peers) docker
# and podman. Prints Gbit/s per engine (median of RUNS runs of SECONDS).
# The image is the host's own iperf3 with its libraries, imported as a
# rootfs tarball into each engine.
#
# usage: [BERTH_BIN=path] bench/port-throughput.sh [RUNS] [SECONDS]
runs=${1:-3}
secs=${2:-5}
. "$(dirname "$0")/lib.sh"
command -v iperf3 >/dev/null || { echo "install iperf3 (apt-get install iperf3)" >&2; exit 1; }

# A rootfs with iperf3, the libraries ldd names, and busybox for a shell.
img=$work/iperf3-rootfs
mkdir -p "$img/bin" "$img/tmp"
cp /bin/busybox "$img/bin/busybox"
ln -s busybox "$img/bin/sh"
cp "$(command -v iperf3)" "$img/bin/iperf3"
for lib in $(ldd "$(command -v iperf3)" | grep -o '/[^ ]*'); do
  mkdir -p "$img$(dirname "$lib")"
  cp -L "$lib" "$img$lib"
done
tar -C "$img" -cf "$work/iperf3.tar" .
"$berth" import "$work/iperf3.tar" bench-iperf3:latest >/dev/null

measure() { # engine command prefix...
  local name=$1; shift
  "$@" rm -f bench-iperf3 >/dev/null 2>&1 || true
  "$@" run -d --name bench-iperf3 -p 15201:5201 bench-iperf3 /bin/iperf3 -s >/dev/null
  for _ in $(seq 100); do iperf3 -c 127.0.0.1 -p 15201 -n 1K >/dev/null 2>&1 && break; sleep 0.1; done
  local results=()
  for _ in $(seq "$runs"); do
    results+=("$(iperf3 -c 127.0.0.1 -p 15201 -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')")
  done
  "$@" rm -f bench-iperf3 >/dev/null
  printf '%-8s %s Gbit/s (median of: %s)\n' "$name" \
    "$(printf '%s\n' "${results[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" "${results[*]}"
}

measure berth "$berth"
if peer_ready docker; then
  env -u BERTH_HOST docker import "$work/iperf3.tar" bench-iperf3:latest >/dev/null
  measure docker env -u BERTH_HOST docker
  env -u BERTH_HOST docker rmi bench-iperf3:latest >/dev/null
fi
if [ -z "${SKIP_PODMAN:-}" ] && peer_ready podman; then
  podman import "$work/iperf3.tar" bench-iperf3:latest >/dev/null
  measure podman podman
  podman rmi bench-iperf3:latest >/dev/null
fi
