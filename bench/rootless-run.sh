#!/usr/bin/env bash
# Times `run --rm busybox true` (default network and `--network none`) for a
# rootless berth daemon beside the rootful one, and beside rootless podman
# when it can run here as the same user. The bench makes its own user with
# subordinate id ranges (removed at the end, with its files) and runs the
# rootless rows as that user. Prints hyperfine's tables, exports JSON.
#
# usage: [BERTH_BIN=path] bench/rootless-run.sh [RUNS]
runs=${1:-30}
. "$(dirname "$0")/lib.sh"

user=berth-bench-rl
sub_start=3200000
home=$work/home
rl_daemon=
rl_cleanup() {
  if [ -n "$rl_daemon" ]; then
    kill "$rl_daemon" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$rl_daemon" 2>/dev/null || break; sleep 0.1; done
  fi
  if id "$user" >/dev/null 2>&1; then
    # Whatever of the user's still runs (rootless podman's pause process).
    pkill_pids=$(ps -u "$user" -o pid= || true)
    [ -n "$pkill_pids" ] && kill $pkill_pids 2>/dev/null || true
    # Processes just ended may hold the user for a moment.
    for _ in $(seq 50); do userdel "$user" 2>/dev/null && break; sleep 0.1; done
  fi
  sed -i "/^$user:/d" /etc/subuid /etc/subgid
  cleanup
}
trap rl_cleanup EXIT

userdel "$user" 2>/dev/null || true
sed -i "/^$user:/d" /etc/subuid /etc/subgid
useradd -M -d "$home" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
usermod --add-subuids "$sub_start-$((sub_start + 65535))" --add-subgids "$sub_start-$((sub_start + 65535))" "$user"
uid=$(id -u "$user")
mkdir -p "$home/tmp"
chown -R "$user:" "$home"
chmod 755 "$work"
cp "$berth" "$work/berth-rl" && chmod 755 "$work/berth-rl"
cp "$rootfs" "$work/busybox-rl.tar" && chmod 644 "$work/busybox-rl.tar"
as_user() { setpriv --reuid="$uid" --regid="$(id -g "$user")" --init-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" TMPDIR="$home/tmp" "$@"; }
as_user "$work/berth-rl" daemon >"$work/rootless-daemon.log" 2>&1 &
rl_daemon=$!
for _ in $(seq 200); do as_user "$work/berth-rl" version >/dev/null 2>&1 && break; sleep 0.05; done
as_user "$work/berth-rl" import --change 'CMD ["sh"]' "$work/busybox-rl.tar" busybox:latest >/dev/null

echo "== rootful berth"
hyperfine -N --warmup 5 --runs "$runs" --export-json "${BENCH_JSON:-/tmp/berth-rootless}-rootful.json" \
  -n "berth" "$berth run --rm busybox true" \
  -n "berth --network none" "$berth run --rm --network none busybox true"

rows=(-n "berth rootless" "$work/berth-rl run --rm busybox true"
      -n "berth rootless --network none" "$work/berth-rl run --rm --network none busybox true")
peers_tar=${PEERS:-/var/tmp/peers}/busybox-latest.docker.tar
if command -v podman >/dev/null && [ -s "$peers_tar" ]; then
  cp "$peers_tar" "$work/busybox-podman.tar" && chmod 644 "$work/busybox-podman.tar"
  if as_user podman load -q -i "$work/busybox-podman.tar" >/dev/null 2>&1 \
     && as_user timeout 60 podman run --rm --network none busybox true >/dev/null 2>&1; then
    rows+=(-n "podman rootless --network none" "podman run --rm --network none busybox true")
  else
    echo "(rootless podman cannot run busybox as $user here; its rows are left out)"
  fi
fi
echo "== rootless, as $user"
as_user hyperfine -N --warmup 5 --runs "$runs" --export-json "$home/rootless.json" "${rows[@]}"
cp "$home/rootless.json" "${BENCH_JSON:-/tmp/berth-rootless}-rootless.json"
