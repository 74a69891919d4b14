#!/usr/bin/env bash
# `compose up -d` (until every container runs) and `compose down` of the
# shared 3-service compose fixture (crates/berth/tests/fixtures/
# compose-fixture.yml): berth compose against berth, and Debian's
# docker-compose 1.29 against berth and against dockerd when ../shared/peers
# has set it up with the same busybox image.
#
# usage: [BERTH_BIN=path] bench/compose-fixture.sh [RUNS]
runs=${1:-10}
. "$(dirname "$0")/lib.sh"
fx=$PWD/crates/berth/tests/fixtures/compose-fixture.yml

names=("berth compose")
up=("$berth compose -f $fx -p bench up -d")
down=("$berth compose -f $fx -p bench down")
if command -v docker-compose >/dev/null; then
  names+=("docker-compose 1.29 on berth")
  up+=("env DOCKER_HOST=$BERTH_HOST docker-compose -f $fx -p bench up -d")
  down+=("env DOCKER_HOST=$BERTH_HOST docker-compose -f $fx -p bench down")
  if peer_ready docker; then
    names+=("docker-compose 1.29 on dockerd")
    up+=("env -u BERTH_HOST docker-compose -f $fx -p bench up -d")
    down+=("env -u BERTH_HOST docker-compose -f $fx -p bench down")
  fi
fi
# Before each run every engine's copy of the project is taken down, so only
# one holds port 18081.
all_down=""
for d in "${down[@]}"; do all_down+="$d >/dev/null 2>&1; "; done
args_up=()
args_down=()
for i in "${!names[@]}"; do
  args_up+=(--prepare "$all_down true" -n "${names[$i]}: up -d" "${up[$i]}")
  args_down+=(--prepare "$all_down ${up[$i]} >/dev/null 2>&1" -n "${names[$i]}: down" "${down[$i]}")
done
echo "### up -d"
hyperfine --warmup 1 --runs "$runs" "${args_up[@]}"
echo "### down"
hyperfine --warmup 1 --runs "$runs" "${args_down[@]}"
sh -c "$all_down true"
