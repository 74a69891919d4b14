"""testcontainers-python against berth (DOCKER_HOST): a container started
with a log and a port wait, its published port reached over loopback,
exec, copy_into_container, logs, then stop and removal. Prints
TESTCONTAINERS-OK when every step held."""
import urllib.request

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import (
    CompositeWaitStrategy,
    LogMessageWaitStrategy,
    PortWaitStrategy,
)

SCRIPT = "mkdir -p /www; echo tc-ok > /www/index.html; echo ready; exec httpd -f -p 80 -h /www"

container = (
    DockerContainer("busybox")
    .with_command(["sh", "-c", SCRIPT])
    .with_exposed_ports(80)
    .waiting_for(CompositeWaitStrategy(LogMessageWaitStrategy("ready"), PortWaitStrategy(80)))
)
with container as c:
    port = int(c.get_exposed_port(80))
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
    assert body == b"tc-ok\n", body
    code, out = c.exec(["sh", "-c", "echo exec-ok; echo err >&2"])
    assert code == 0 and b"exec-ok" in out, (code, out)
    c.copy_into_container(b"copied-bytes\n", "/tmp/copied.txt")
    code, out = c.exec(["cat", "/tmp/copied.txt"])
    assert (code, out) == (0, b"copied-bytes\n"), (code, out)
    stdout, _ = c.get_logs()
    assert b"ready" in stdout, stdout
    cid = c.get_wrapped_container().id
client = container.get_docker_client().client
assert not [x for x in client.containers.list(all=True) if x.id == cid], "the container was removed"
print("TESTCONTAINERS-OK")
