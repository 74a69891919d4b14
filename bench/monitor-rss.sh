#!/usr/bin/env bash
# Starts N idle containers and reports the resident memory (VmRSS) of their
# monitors (berth __monitor), next to containerd-shim and conmon when docker
# or podman containers are running. usage: [BERTH_BIN=path] bench/monitor-rss.sh [N]
n=${1:-10}
. "$(dirname "$0")/lib.sh"
for i in $(seq "$n"); do "$berth" run -d --name "idle-$i" busybox sleep 100000 >/dev/null; done
sleep 6  # monitors trim their memory after 5 s of quiet
total=0; count=0
for pid in $(pgrep -f "__monitor $work/"); do
  kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  total=$((total + kb)); count=$((count + 1))
done
echo "berth monitors: $count, total VmRSS ${total} KiB, mean $((total / (count > 0 ? count : 1))) KiB"
for name in containerd-shim conmon; do
  pids=$(pgrep -x "$name" || pgrep -f "$name-runc" || true)
  [ -z "$pids" ] && continue
  t=0; c=0
  for pid in $pids; do kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"); t=$((t + kb)); c=$((c + 1)); done
  echo "$name: $c processes, mean $((t / c)) KiB"
done
