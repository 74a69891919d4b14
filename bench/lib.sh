# Shared by the bench scripts: a private berth daemon on a temp root, with
# the busybox image, stopped by pid on exit. Source it; it sets $berth and
# exports BERTH_HOST. BERTH_DAEMON_ARGS adds daemon flags (say
# `--storage-driver fuse-overlayfs`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine (scripts/deps.sh)" >&2; exit 1; }
if [ -n "${BERTH_BIN:-}" ]; then
  berth=$BERTH_BIN
else
  cargo build --release --quiet
  berth=$PWD/target/release/berth
fi
work=$(mktemp -d)
ip_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "the berth daemon died during the bench; its log:" >&2
    tail -20 "$work/daemon.log" >&2
  fi
  if [ -n "$daemon_pid" ]; then
    "$berth" ps -aq | xargs -r "$berth" rm -f >/dev/null 2>&1 || true
    kill "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.05; done
  fi
  # The daemon keeps its bridges and firewall table by design; the bench's go.
  for rec in "$work"/root/network/*.json; do
    [ -e "$rec" ] || continue
    br=$(sed -n 's/.*"bridge": "\(.*\)".*/\1/p' "$rec")
    [ -n "$br" ] && ip link del "$br" 2>/dev/null || true
  done
  nft delete table ip berth-bench 2>/dev/null || true
  # The daemon turned IPv4 forwarding on for its bridge; give it back.
  echo "$ip_forward_before" > /proc/sys/net/ipv4/ip_forward
  rm -rf "$work"
}
trap cleanup EXIT
export BERTH_HOST=unix://$work/run/berth.sock
"$berth" daemon -H "$BERTH_HOST" --root "$work/root" --exec-root "$work/run" --cgroup-parent "berth-bench-$$" \
  --bridge berthbench0 --nft-table berth-bench ${BERTH_DAEMON_ARGS:-} >"$work/daemon.log" 2>&1 &
daemon_pid=$!
ready=
for _ in $(seq 200); do
  if "$berth" version >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.05
done
if [ -z "$ready" ]; then
  echo "berth daemon did not start; its log:" >&2
  cat "$work/daemon.log" >&2
  exit 1
fi
rootfs=${PEERS:-/var/tmp/peers}/busybox-rootfs.tar
if [ ! -s "$rootfs" ]; then
  rootfs=$work/busybox.tar
  ./scripts/make-busybox-image.sh "$rootfs" >/dev/null
fi
"$berth" import --change 'CMD ["sh"]' "$rootfs" busybox:latest >/dev/null

# peer_ready docker|podman: the peer is installed, has the busybox image and
# can run it (podman needs ../shared/peers/lib.sh sourced for its config).
peer_ready() {
  case "$1" in
    docker) command -v docker >/dev/null && env -u BERTH_HOST docker image inspect busybox >/dev/null 2>&1 \
              && timeout 60 env -u BERTH_HOST docker run --rm busybox true >/dev/null 2>&1 ;;
    podman) command -v podman >/dev/null && podman image exists busybox 2>/dev/null \
              && timeout 60 podman run --rm busybox true >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}
