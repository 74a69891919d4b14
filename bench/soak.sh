#!/usr/bin/env bash
# A bounded soak: SEQ sequential `run --rm busybox true` (default 5,000),
# then PAR runs from 8 parallel clients (default 200), against a private
# daemon; every STEP runs it samples the daemon's open descriptors, its
# RSS, the mounts under its roots, its cgroups, and the rules of its
# nftables table, and prints them. At the end, with every container gone,
# each must be back where it started (RSS within 16 MiB of the first
# sample after warm-up); the script exits 1 when one is not.
#
# usage: [BERTH_BIN=path] bench/soak.sh [SEQ] [PAR] [STEP]
seq_runs=${1:-5000}
par_runs=${2:-200}
step=${3:-500}
. "$(dirname "$0")/lib.sh"

parent="berth-bench-$$"
sample() {
  local fds rss mounts cgroups rules
  fds=$(ls "/proc/$daemon_pid/fd" | wc -l)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$daemon_pid/status")
  mounts=$(grep -c " $work/" /proc/self/mountinfo || true)
  cgroups=$(find /sys/fs/cgroup -maxdepth 3 -type d -path "*/$parent/*" 2>/dev/null | wc -l)
  rules=$(nft -a list table ip berth-bench 2>/dev/null | grep -c 'handle' || true)
  printf '%-12s %8s %10s %8s %8s %8s\n' "$1" "$fds" "$rss" "$mounts" "$cgroups" "$rules"
  last="$fds $rss $mounts $cgroups $rules"
}

"$berth" run --rm busybox true >/dev/null
printf '%-12s %8s %10s %8s %8s %8s\n' after fds rss_kib mounts cgroups rules
sample "warm"
read -r fds0 rss0 mounts0 cgroups0 rules0 <<<"$last"
started=$(date +%s.%N)
for i in $(seq 1 "$seq_runs"); do
  "$berth" run --rm busybox true >/dev/null
  if [ $((i % step)) = 0 ]; then sample "seq $i"; fi
done
seq_done=$(date +%s.%N)
seq "$par_runs" | xargs -P 8 -I{} "$berth" run --rm busybox true >/dev/null
par_done=$(date +%s.%N)
sample "par $par_runs"
read -r fds1 rss1 mounts1 cgroups1 rules1 <<<"$last"
echo "sequential: $seq_runs runs in $(awk "BEGIN {printf \"%.1f\", $seq_done - $started}") s; parallel (8 clients): $par_runs runs in $(awk "BEGIN {printf \"%.1f\", $par_done - $seq_done}") s"
left=$("$berth" ps -aq | wc -l)
fail=0
check() { if [ "$2" != "$3" ]; then echo "FLAT? $1 went from $2 to $3"; fail=1; fi; }
check "containers" 0 "$left"
check "descriptors" "$fds0" "$fds1"
check "mounts" "$mounts0" "$mounts1"
check "cgroups" "$cgroups0" "$cgroups1"
check "nft rules" "$rules0" "$rules1"
if [ $((rss1 - rss0)) -gt 16384 ]; then echo "FLAT? RSS grew from $rss0 to $rss1 KiB"; fail=1; fi
[ "$fail" = 0 ] && echo "flat: descriptors, mounts, cgroups and rules as at the start; RSS $rss0 -> $rss1 KiB"
exit "$fail"
