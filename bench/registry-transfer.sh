#!/usr/bin/env bash
# Pull and push of a ~100 MB image (busybox + a 60 MB random layer) against
# `berth registry serve` on loopback. Pull: the image removed before each
# run, so every run downloads, verifies and unpacks everything. Push: each
# run pushes to a new repository, so every layer is uploaded again (berth
# compresses a layer once and remembers it: the first push, which
# compresses, is timed apart as "cold").
#
# usage: [BERTH_BIN=path] bench/registry-transfer.sh [RUNS]
runs=${1:-5}
. "$(dirname "$0")/lib.sh"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$berth" registry serve --addr "127.0.0.1:$port" --root "$work/registry" >"$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
reg=127.0.0.1:$port

"$berth" run --name bench-big-src busybox dd if=/dev/urandom of=/big bs=1M count=60 2>/dev/null
"$berth" commit bench-big-src bench-big:latest >/dev/null
"$berth" rm bench-big-src >/dev/null
img=$reg/bench/big:latest
"$berth" tag bench-big:latest "$img"
start=$(date +%s%N)
"$berth" push "$img" >/dev/null
echo "cold push (compresses the layers): $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$berth" rmi "$img" bench-big:latest >/dev/null
hyperfine -N --warmup 1 --runs "$runs" \
  --prepare "sh -c '$berth rmi $img >/dev/null 2>&1; true'" \
  -n "berth pull ~100 MB" "$berth pull $img"
"$berth" tag "$img" bench-big:latest
hyperfine --warmup 1 --runs "$runs" \
  --prepare "sh -c 'echo \$\$ > $work/repo'" \
  -n "berth push ~100 MB (new repository each run)" \
  "sh -c '$berth tag bench-big:latest $reg/push-\$(cat $work/repo):v1 && $berth push $reg/push-\$(cat $work/repo):v1 >/dev/null'"
