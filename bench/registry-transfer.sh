#!/usr/bin/env bash
# Pull and push of a ~100 MB image against two loopback registries,
# `berth registry serve` and (when ../shared/peers set it up) Debian's
# docker-registry 2.8 on 127.0.0.1:5000, side by side with docker, podman
# and skopeo when they are installed and running.
#
# The image: the peers' `big` image (debian:bookworm + a 60 MiB random
# layer, /var/tmp/peers/big.docker.tar and its OCI layout) when present,
# else busybox + a 60 MB random layer made here (berth only).
# Push: every run pushes into an emptied registry, so every blob travels.
# berth compresses a layer once and keeps the result: its first push is
# timed apart as "cold". Pull: the registry holds the pre-compressed blobs
# (skopeo copy from the OCI layout); each run starts with the image and its
# base removed, so everything is downloaded, verified and unpacked.
#
# usage: [BERTH_BIN=path] bench/registry-transfer.sh [RUNS]
runs=${1:-5}
. "$(dirname "$0")/lib.sh"
PEERS=${PEERS:-/var/tmp/peers}
have() { command -v "$1" >/dev/null 2>&1; }
docker_up() { have docker && docker info >/dev/null 2>&1; }
peer_registry_up() { curl -sf http://127.0.0.1:5000/v2/ >/dev/null 2>&1; }

# Our registry, restarted empty by `serve_reset`.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/serve-reset.sh" <<EOF
#!/bin/sh
[ -s "$work/serve.pid" ] && kill \$(cat "$work/serve.pid") 2>/dev/null
for _ in \$(seq 100); do [ -s "$work/serve.pid" ] && kill -0 \$(cat "$work/serve.pid") 2>/dev/null || break; sleep 0.02; done
rm -rf "$work/serve-root"
"$berth" registry serve --addr 127.0.0.1:$port --root "$work/serve-root" >>"$work/serve.log" 2>&1 &
echo \$! > "$work/serve.pid"
for _ in \$(seq 200); do curl -sf http://127.0.0.1:$port/v2/ >/dev/null && exit 0; sleep 0.02; done
echo "berth registry serve did not start" >&2; exit 1
EOF
chmod +x "$work/serve-reset.sh"
"$work/serve-reset.sh"
trap '[ -s "$work/serve.pid" ] && kill "$(cat "$work/serve.pid")" 2>/dev/null; cleanup' EXIT

registries=("127.0.0.1:$port")
resets=("$work/serve-reset.sh")
if peer_registry_up; then
  registries+=("127.0.0.1:5000")
  resets+=("${PEERS_DIR:-/work/shared/peers}/registry-ctl.sh reset")
fi

# The peers' big image: debian's layer + data/random.bin, 60 MiB of AES-CTR
# keystream (incompressible and the same on every machine), in the OCI
# layout and as a docker-archive, loaded into docker and podman.
prepare_big() {
  local rnd="$PEERS/big"
  mkdir -p "$rnd/layer/data"
  if [ ! -s "$rnd/random-layer.tar" ]; then
    head -c $((60 * 1024 * 1024)) /dev/zero \
      | openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 \
      > "$rnd/layer/data/random.bin"
    (cd "$rnd/layer" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=2025-05-20T00:00:00Z -cf ../random-layer.tar data)
    rm -f "$rnd/layer/data/random.bin"
  fi
  umoci ls --layout "$PEERS/oci" | grep -qx big ||
    umoci raw add-layer --image "$PEERS/oci:debian-bookworm" --tag big --history.created 2025-05-20T00:00:00Z \
      --history.created_by "ADD random-layer.tar / (60 MiB random)" "$rnd/random-layer.tar"
  [ -s "$PEERS/big.docker.tar" ] ||
    skopeo copy -q "oci:$PEERS/oci:big" "docker-archive:$PEERS/big.docker.tar:127.0.0.1:5000/peers/big:latest"
}
restore_peer_images() {
  if [ "$docker_ok" = 1 ]; then
    docker image inspect debian:bookworm >/dev/null 2>&1 || docker load -q -i "$PEERS/debian-bookworm.docker.tar" >/dev/null
    docker image inspect "$local_ref" >/dev/null 2>&1 || docker load -q -i "$PEERS/big.docker.tar" >/dev/null
  fi
  if [ "$podman_ok" = 1 ]; then
    podman image exists debian:bookworm || podman load -q -i "$PEERS/debian-bookworm.docker.tar" >/dev/null
    podman image exists "$local_ref" || podman load -q -i "$PEERS/big.docker.tar" >/dev/null
  fi
}
if [ -d "$PEERS/oci" ] && have skopeo && have umoci; then
  prepare_big
fi
if [ -s "$PEERS/big.docker.tar" ] && [ -d "$PEERS/oci" ] && have skopeo; then
  image_desc="debian:bookworm + 60 MiB random (the peers' big image)"
  "$berth" load -q -i "$PEERS/big.docker.tar" >/dev/null
  local_ref=127.0.0.1:5000/peers/big:latest
  oci_src="oci:$PEERS/oci:big"
  peers=1
else
  image_desc="busybox + 60 MB random"
  "$berth" run --name bench-big-src busybox dd if=/dev/urandom of=/big bs=1M count=60 2>/dev/null
  "$berth" commit bench-big-src bench/big:latest >/dev/null
  "$berth" rm bench-big-src >/dev/null
  local_ref=bench/big:latest
  oci_src=
  peers=0
fi
echo "image: $image_desc"
docker_ok=0; podman_ok=0
if [ "$peers" = 1 ] && docker_up; then docker_ok=1; fi
if [ "$peers" = 1 ] && have podman; then podman_ok=1; fi
restore_peer_images

for i in "${!registries[@]}"; do
  reg=${registries[$i]}; reset=${resets[$i]}
  kind=$([ "$reg" = "127.0.0.1:5000" ] && echo docker-registry || echo "berth registry serve")
  ref=$reg/bench/big:latest
  echo
  echo "### push to $kind ($reg)"
  "$berth" tag "$local_ref" "$ref"
  $reset >/dev/null
  start=$(date +%s%N)
  "$berth" push -q "$ref" >/dev/null
  [ "$i" = 0 ] && echo "berth cold push (compresses the layers once): $(( ($(date +%s%N) - start) / 1000000 )) ms"
  reset="sh -c '$reset >/dev/null'"
  cmds=(--prepare "$reset" -n "berth push" "$berth push -q $ref")
  if [ "$docker_ok" = 1 ]; then
    docker tag "$local_ref" "$ref"
    cmds+=(--prepare "$reset" -n "docker push" "docker push -q $ref")
  fi
  if [ "$podman_ok" = 1 ]; then
    podman tag "$local_ref" "$ref"
    cmds+=(--prepare "$reset" -n "podman push" "podman push -q --tls-verify=false $ref")
  fi
  if [ -n "$oci_src" ]; then
    cmds+=(--prepare "$reset" -n "skopeo copy oci: -> registry (pre-compressed)" \
      "skopeo copy -q --dest-tls-verify=false $oci_src docker://$ref")
  fi
  hyperfine -N --runs "$runs" "${cmds[@]}"

  echo
  echo "### pull from $kind ($reg)"
  ${resets[$i]} >/dev/null
  if [ -n "$oci_src" ]; then
    skopeo copy -q --dest-tls-verify=false "$oci_src" "docker://$ref"
  else
    "$berth" push -q "$ref" >/dev/null
  fi
  "$berth" rmi "$ref" >/dev/null
  # Each engine loses the image (every tag: by id) and its debian base.
  id=$("$berth" image inspect -f '{{.Id}}' "$local_ref")
  berth_rm="sh -c '$berth rmi -f $id >/dev/null 2>&1; true'"
  cmds=(--prepare "$berth_rm" -n "berth pull" "$berth pull -q $ref")
  if [ "$docker_ok" = 1 ]; then
    cmds+=(--prepare "sh -c 'docker rmi -f $id debian:bookworm >/dev/null 2>&1; true'" \
      -n "docker pull" "docker pull -q $ref")
  fi
  if [ "$podman_ok" = 1 ]; then
    cmds+=(--prepare "sh -c 'podman rmi -f $id debian:bookworm >/dev/null 2>&1; true'" \
      -n "podman pull" "podman pull -q --tls-verify=false $ref")
  fi
  if [ -n "$oci_src" ]; then
    cmds+=(--prepare "rm -rf $work/pulled-oci" -n "skopeo copy registry -> oci: (no unpacking)" \
      "skopeo copy -q --src-tls-verify=false docker://$ref oci:$work/pulled-oci:big")
  fi
  hyperfine -N --runs "$runs" "${cmds[@]}"
  "$berth" pull -q "$ref" >/dev/null
  "$berth" tag "$ref" "$local_ref"
  restore_peer_images
  [ "$docker_ok" = 1 ] && { docker rmi "$ref" >/dev/null 2>&1 || true; }
  [ "$podman_ok" = 1 ] && { podman rmi "$ref" >/dev/null 2>&1 || true; }
done

