#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/: small inputs in the shapes the tests use
(good ones and the hostile ones the suite guards against), from which the
fuzzers start. Run from anywhere; rewrites the seeds directory."""

import hashlib
import io
import json
import os
import shutil
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar(entries):
    """entries: (name, kind, data-or-target) with kind in file/dir/sym/link/fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "file":
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
                         "link": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
                         "chr": tarfile.CHRTYPE}[kind]
            if kind in ("sym", "link"):
                info.linkname = data
            t.addfile(info)
    return buf.getvalue()


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def dockerfiles():
    write("dockerfile", "multi-stage", """# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
ENV A=1 B="two words" C=${A:-x}
WORKDIR /src
COPY --chown=1:1 a b/ ./
RUN echo $A > /out && test -f /out
FROM scratch
COPY --from=build /out /out
LABEL org.example="${B}" empty=""
EXPOSE 80/tcp 53/udp
VOLUME ["/data"]
USER 1000:1000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=3 CMD ["true"]
CMD ["/out"]
""")
    write("dockerfile", "heredoc", """FROM busybox
RUN <<EOF
echo one
echo two
EOF
COPY <<-"END" /greeting
\thello $NAME
END
RUN --mount=type=cache,target=/cache --mount=type=secret,id=s cat /run/secrets/s
ONBUILD RUN echo later
""")
    write("dockerfile", "escape", """# escape=`
FROM busybox
RUN echo a `
    b
ENV P=C:`\\dir
SHELL ["/bin/sh", "-c"]
ENTRYPOINT echo $P
""")
    write("dockerfile", "substitutions", """FROM busybox
ARG V
ENV X=${V:+set} Y=${V-unset} Z=${V:?needed} W='$NOT' Q="\\$ESC"
ADD --chmod=644 https://example.invalid/f /f
MAINTAINER someone
""")
    lines = ["FROM busybox", "ENV A0=xxxxxxxxxx"]
    lines += ["ENV A%d=${A%d}${A%d}" % (n + 1, n, n) for n in range(24)]
    write("dockerfile", "doubling", "\n".join(lines) + "\n")
    write("dockerfile", "deep-nesting",
          "FROM busybox\nENV A=\"" + "${Z:-" * 100 + "x" + "}" * 100 + "\"\n")


def dockerignores():
    write("dockerignore", "common", "# comment\nnode_modules\n*.log\n!keep.log\n**/tmp\n/build/\n")
    write("dockerignore", "exclusions", "*\n!src\n!src/**\nsrc/**/*.test.js\n")
    write("dockerignore", "odd", "  ./a/../b  \n[a-z]?.txt\n\\#literal\n!\n**\n")


def composes():
    sep = "\0"
    write("compose", "basic", """services:
  web:
    image: nginx:${TAG:-latest}
    ports: ["8080:80", "127.0.0.1:53:53/udp", "9000-9002:9000-9002"]
    environment: {A: "1", B: null}
    volumes: ["data:/data", "./src:/src:ro", {type: tmpfs, target: /tmp}]
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: ["CMD", "true"], interval: 5s}
    deploy: {resources: {limits: {memory: 64m, cpus: "0.5"}}}
  db:
    image: postgres
    profiles: [debug]
    command: ["postgres", "-c", "x=$$literal"]
volumes:
  data: {}
networks:
  default: {ipam: {config: [{subnet: 10.99.0.0/24}]}}
""")
    write("compose", "env-extends-include",
          "include:\n  - sub/compose.yaml\nservices:\n  app:\n    extends: {file: other.yaml, service: base}\n"
          "    env_file: [.env]\n    image: ${IMAGE:?set IMAGE}\n"
          + sep + "IMAGE=busybox\nexport B='lit $X'\nC=\"multi\nline\"\n"
          + sep + "services:\n  base:\n    command: sleep 1\n    labels: [a=b]\n"
          + sep + "services:\n  other:\n    image: busybox\n")
    write("compose", "anchors",
          "x-base: &base\n  image: busybox\n  restart: always\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    image: alpine\n")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i, n in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        laughs += "%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n" % ((n, n) + (prev,) * 9)
    write("compose", "billion-laughs", laughs + "services:\n  s:\n    image: busybox\n    labels: *h\n")
    write("compose", "circular-extends",
          "services:\n  a:\n    extends: {file: other.yaml, service: b}\n" + sep + sep
          + "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n")


def envfiles():
    write("envfile", "quotes", "A=1\nexport B='single $A'\nC=\"double ${A} \\n\"\nD=unquoted # comment\n")
    write("envfile", "lookup", "HOME\nE=${HOME:-x}/bin\nF=${MISSING-default}\n#x\n\n")
    write("envfile", "multiline", "G=\"first\nsecond\"\nH='a\nb'\n")


def references():
    for i, r in enumerate(["busybox", "library/busybox:1.36", "docker.io/library/busybox:latest",
                           "127.0.0.1:5000/a/b:v1", "localhost/x@" + sha(b"x"),
                           "[::1]:5000/ns/img:tag", "a.b.c/d-e_f.g/h__i:T.1-2\nv2",
                           "UPPER/case"]):
        write("reference", "r%d" % i, r)


def manifests():
    layer = tar([("a", "file", b"a")])
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": sha(layer), "size": len(layer)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"digest": sha(manifest), "size": len(manifest), "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": sha(manifest), "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    write("manifest", "oci", manifest + b"\0" + config)
    write("manifest", "index", index)
    write("manifest", "docker-v2", json.dumps({"schemaVersion": 2, "mediaType":
        "application/vnd.docker.distribution.manifest.v2+json", "config": {"digest": sha(b"{}"), "size": 2},
        "layers": []}).encode() + b"\0{}")
    write("manifest", "schema1", b'{"schemaVersion": 1, "fsLayers": []}')


def layers():
    write("layer", "plain", tar([("etc", "dir", None), ("etc/hosts", "file", b"127.0.0.1 x\n"),
                                 ("bin", "dir", None), ("bin/sh", "file", b"#!"),
                                 ("bin/ash", "link", "bin/sh"), ("lib", "sym", "usr/lib"),
                                 ("fifo", "fifo", None)]))
    write("layer", "whiteouts", tar([("d", "dir", None), ("d/.wh..wh..opq", "file", b""),
                                     (".wh.gone", "file", b""), ("d/.wh.x", "file", b"")]))
    write("layer", "dotdot", tar([("../escape", "file", b"x"), ("a/../../escape2", "file", b"x")]))
    write("layer", "absolute", tar([("/abs-file", "file", b"x"), ("abs", "sym", "/"),
                                    ("abs/abs-through-link", "file", b"x")]))
    write("layer", "symlink-then-file", tar([("esc", "sym", "../outside"),
                                             ("esc/pwned", "file", b"x"),
                                             ("esc/canary", "file", b"overwritten")]))
    write("layer", "hardlink-out", tar([("h", "link", "../outside/canary"),
                                        ("h2", "link", "/outside/canary"),
                                        ("l", "sym", "../outside/canary"), ("l2", "link", "l")]))
    write("layer", "long-names", tar([("d" * 150 + "/" + "f" * 150, "file", b"x"),
                                      ("x" * 120, "sym", "y" * 200)]))


def archives():
    layer = tar([("hello", "file", b"hi\n")])
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    cfg_name = sha(config)[7:] + ".json"
    docker = tar([(cfg_name, "file", config), ("l/layer.tar", "file", layer),
                  ("manifest.json", "file", json.dumps([{"Config": cfg_name, "RepoTags": ["fuzz:1"],
                                                         "Layers": ["l/layer.tar"]}]).encode())])
    write("archive", "docker", b"\0" + docker)
    manifest = json.dumps({"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": sha(layer), "size": len(layer)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
         "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "fuzz:oci"}}]}).encode()
    oci = tar([("oci-layout", "file", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", "file", index),
               ("blobs/sha256/" + sha(config)[7:], "file", config),
               ("blobs/sha256/" + sha(manifest)[7:], "file", manifest),
               ("blobs/sha256/" + sha(layer)[7:], "file", layer)])
    write("archive", "oci", b"\0" + oci)
    hostile = tar([("manifest.json", "file", json.dumps([{"Config": "../../outside/canary",
                                                          "Layers": ["/etc/hostname"]}]).encode())])
    write("archive", "hostile-paths", b"\0" + hostile)
    write("archive", "import", b"\1" + tar([("etc", "dir", None), ("etc/x", "file", b"x"),
                                            ("esc", "sym", "../outside"), ("esc/y", "file", b"y")]))


def templates():
    for i, t in enumerate(["{{.ID}}", "{{json .}}", "{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}",
                           "table {{.ID}}\t{{.Image}}", "{{printf \"%s %5.2f %q\" .Image .Size .ID}}",
                           "{{index .Labels \"a\"}}{{len .Names}}", "{{if .State.Running}}up{{else if .Cmd}}x{{else}}down{{end}}",
                           "{{join .Names \",\"}} {{upper .Image}} {{lower .ID}} {{title .Image}}",
                           "{{with .Config}}{{range .Env}}{{split . \"=\"}}{{end}}{{end}}",
                           "{{- /* c */ -}}{{.Nested}}{{pad .ID 2 3}}{{truncate .ID 3}}{{println}}"]):
        write("template", "t%d" % i, t)


def api_requests():
    write("api_request", "create", b"\0" + json.dumps({
        "Image": "busybox", "Cmd": ["sh"], "Env": ["A=1"], "Hostname": "h", "Labels": {"a": "b"},
        "ExposedPorts": {"80/tcp": {}}, "HostConfig": {"Binds": ["/a:/b:ro"], "Memory": 67108864,
        "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, "CapAdd": ["NET_ADMIN"],
        "Tmpfs": {"/t": "size=1m"}, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2},
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}, "Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 2}]},
        "NetworkingConfig": {"EndpointsConfig": {"n": {"Aliases": ["x"]}}}}).encode())
    write("api_request", "filters", b"\1filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%2C%22dangling%22%3A%5B%22true%22%5D%2C%22until%22%3A%5B%2210m%22%5D%7D&all=1")
    write("api_request", "filters-old", b'\1filters={"status":{"exited":true},"name":{"^web":true}}')
    write("api_request", "build", b'\2t=a:1&t=b&dockerfile=Dockerfile&buildargs={"A":"1","B":null}&labels={"x":"y"}'
          b'&memory=1000000&cpushares=2&ulimits=[{"Name":"nofile","Soft":1,"Hard":2}]&extrahosts=h:1.2.3.4,g:::1&rm=0&forcerm=1')
    write("api_request", "deep-json", b"\0" + b"[" * 2000 + b"]" * 2000)


def registry_requests():
    blob = b"hello blob"
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
                           "layers": []}).encode()
    reqs = [b"GET /v2/\n\n",
            b"POST /v2/a/b/blobs/uploads/?digest=" + sha(blob).encode() + b"\nContent-Length: %d\n\n" % len(blob) + blob,
            b"POST /v2/a/b/blobs/uploads/?digest=" + sha(config).encode() + b"\n\n" + config,
            b"PUT /v2/a/b/manifests/v1\nContent-Type: application/vnd.oci.image.manifest.v1+json\n\n" + manifest,
            b"HEAD /v2/a/b/blobs/" + sha(blob).encode() + b"\n\n",
            b"GET /v2/a/b/manifests/v1\nAccept: application/vnd.oci.image.manifest.v1+json\n\n",
            b"GET /v2/a/b/tags/list?n=1&last=a\n\n", b"GET /v2/_catalog?n=10\n\n",
            b"DELETE /v2/a/b/blobs/" + sha(blob).encode() + b"\n\n"]
    write("registry_server", "push-pull", b"\0".join(reqs))
    write("registry_server", "chunked", b"\0".join([
        b"POST /v2/x/blobs/uploads/\n\n",
        b"PATCH /v2/x/blobs/uploads/00000000-0000-0000-0000-000000000000\nContent-Range: 0-4\n\nhello",
        b"PATCH /v2/x/blobs/uploads/00000000-0000-0000-0000-000000000000\nContent-Range: 0-18446744073709551615\n\nx",
        b"PUT /v2/x/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=sha256:00\n\n"]))
    write("registry_server", "bad-names", b"\0".join([
        b"GET /v2/../../etc/manifests/latest\n\n", b"GET /v2/A/manifests/%2e%2e\n\n",
        b"DELETE /v2/a/manifests/" + sha(manifest).encode() + b"\n\n", b"GET /v2/a/blobs/sha256:zz\n\n",
        b"POST /v2/a/blobs/uploads/?mount=" + sha(blob).encode() + b"&from=../b\n\n"]))


def credentials():
    import base64
    write("credentials", "x-registry-auth", b"\0" + base64.urlsafe_b64encode(
        json.dumps({"username": "u", "password": "p", "serveraddress": "127.0.0.1:5000"}).encode()))
    write("credentials", "config-json", b"\1" + json.dumps({
        "auths": {"127.0.0.1:5000": {"auth": base64.b64encode(b"u:p:q").decode()}, "a": {"auth": "!!"}},
        "credsStore": "pass", "credHelpers": {"a": "../x"}}).encode())
    write("credentials", "challenge", b'\2Bearer realm="http://127.0.0.1/token",service="reg",scope="repository:a:pull,push"')
    write("credentials", "link", b'\3</v2/_catalog?n=2&last=b>; rel="next"')
    write("credentials", "htpasswd", b"\4# users\nalice:$2y$05$abcdefghijklmnopqrstuu\nbob:{SHA}x\n")
    write("credentials", "authorization", b"\5Basic " + base64.b64encode(b"alice:s3cret"))


if __name__ == "__main__":
    shutil.rmtree(SEEDS, ignore_errors=True)
    for make in (dockerfiles, dockerignores, composes, envfiles, references, manifests, layers,
                 archives, templates, api_requests, registry_requests, credentials):
        make()
