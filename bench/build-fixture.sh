#!/usr/bin/env bash
# Builds the shared build fixture (crates/berth/tests/fixtures/build-fixture:
# debian + busybox, 3 RUN, 3 COPY, one --from) three ways: cold (--no-cache),
# fully cached, and with one source file changed before each run; berth side
# by side with docker's legacy builder and podman when ../shared/peers has
# set them up with the same base images.
#
# usage: [BERTH_BIN=path] bench/build-fixture.sh [RUNS]
runs=${1:-10}
. "$(dirname "$0")/lib.sh"
PEERS=${PEERS:-/var/tmp/peers}
debian_tar=$PEERS/debian-bookworm-rootfs.tar
if [ ! -s "$debian_tar" ]; then
  debian_tar=$work/debian.tar
  ./scripts/make-debian-image.sh "$debian_tar" >/dev/null
fi
"$berth" import "$debian_tar" debian:bookworm >/dev/null
fx=$work/fixture
cp -r crates/berth/tests/fixtures/build-fixture "$fx"
chmod -R u+w "$fx"

engines=(berth)
build_cmd=("$berth build -q -t bench-fixture:1")
if peer_ready docker && env -u BERTH_HOST docker image inspect debian:bookworm >/dev/null 2>&1; then
  engines+=("docker (legacy builder)")
  build_cmd+=("env -u BERTH_HOST DOCKER_BUILDKIT=0 docker build -q -t bench-fixture:1")
fi
if peer_ready podman && podman image exists debian:bookworm; then
  engines+=(podman)
  build_cmd+=("podman build -q --layers -t bench-fixture:1")
fi
# Warm every engine's cache once.
for c in "${build_cmd[@]}"; do sh -c "$c $fx" >/dev/null; done

change="sh -c 'date +%s%N > $fx/src/b.txt'"
for scenario in cold cached changed; do
  args=()
  for i in "${!engines[@]}"; do
    case $scenario in
      cold) args+=(-n "${engines[$i]} cold (--no-cache)" "${build_cmd[$i]} --no-cache $fx") ;;
      cached) args+=(-n "${engines[$i]} fully cached" "${build_cmd[$i]} $fx") ;;
      changed) args+=(--prepare "$change" -n "${engines[$i]} one file changed" "${build_cmd[$i]} $fx") ;;
    esac
  done
  echo "### $scenario"
  hyperfine --warmup 1 --runs "$runs" "${args[@]}"
done
for c in docker podman; do
  [ "$c" = docker ] && peer_ready docker && env -u BERTH_HOST docker image prune -f >/dev/null 2>&1 && env -u BERTH_HOST docker rmi bench-fixture:1 >/dev/null 2>&1
  [ "$c" = podman ] && command -v podman >/dev/null && podman rmi -f bench-fixture:1 >/dev/null 2>&1 && podman image prune -f >/dev/null 2>&1
done
true
