#!/usr/bin/env bash
# Sets up and shows Berth's main job: import a busybox image, run containers,
# read their logs, publish a port, resolve a container by name on a network,
# bring a three-service compose app up and down.
# Uses the default socket, so the CLI starts `berth daemon`
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
step "$berth" run -d --name berth-web -p 18080:80 busybox sh -c 'echo hello through a published port > /tmp/index.html; exec httpd -f -p 80 -h /tmp'
step "$berth" port berth-web
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/index.html >/dev/null && break; sleep 0.1; done
step curl -s http://127.0.0.1:18080/index.html
step "$berth" network create berth-demo-net
step "$berth" run -d --network berth-demo-net --name berth-db busybox sleep 1000
step "$berth" run --rm --network berth-demo-net busybox ping -c1 berth-db
step "$berth" rm -f berth-web berth-db
step "$berth" network rm berth-demo-net
fixture=crates/berth/tests/fixtures/compose-fixture.yml
step "$berth" compose -f "$fixture" -p berth-demo up -d
step "$berth" compose -f "$fixture" -p berth-demo ps
for _ in $(seq 50); do "$berth" compose -f "$fixture" -p berth-demo logs client 2>/dev/null | grep -q 'httpd ok' && break; sleep 0.1; done
step "$berth" compose -f "$fixture" -p berth-demo logs client
step "$berth" compose -f "$fixture" -p berth-demo down
echo
echo "The daemon keeps running in the background (pid $(cat /run/berth/berth.pid), log /run/berth/daemon.log)."
