"""End to end: the locally built Toxiproxy image and ToxiproxyClient against a real engine.

Needs a Docker engine and (the first time on a machine) Go plus the Go module proxy. Creates,
and removes in teardown: one bridge network on a free 10.250.N.0/24, a Toxiproxy container, an
upstream container running ``busybox httpd`` from an image imported from the host's static
busybox (``apt-get install busybox-static``), all labelled ``io.swarmcheck.run=dev-toxi``. The
Toxiproxy image itself is kept (it is the per-machine cache). The host talks to the containers'
IPs directly. Measured figures are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import itertools
import random
import re
import shutil
import socket
import statistics
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from swarmcheck.client.toxiproxy import ToxiproxyClient
from swarmcheck.errors import ConfigError, FaultError
from swarmcheck.machine.toxiproxy_image import ensure_toxiproxy_image

pytestmark = pytest.mark.e2e

RUN_LABEL = {"io.swarmcheck.run": "dev-toxi"}
BUSYBOX_TAG = "swarmcheck/dev-busybox:test"
UPSTREAM_PORT = 8080
ECHO_PORT = 9000
UPSTREAM_BODY = b"hello from upstream\n"
API_TIMEOUT_S = 5.0
_ports = itertools.count(18080)


@dataclass(frozen=True)
class ToxiEnv:
    api: ToxiproxyClient
    toxiproxy_ip: str
    upstream_ip: str  # busybox httpd on UPSTREAM_PORT
    echo_ip: str  # busybox nc echo server on ECHO_PORT (keeps connections open)
    unused_ip: str  # inside our own subnet, no container behind it
    version: str


@dataclass(frozen=True)
class Proxy:
    name: str
    host: str
    port: int


def _busybox_rootfs() -> bytes:
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        pytest.skip("no static busybox on the host (apt-get install -y busybox-static)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "www", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        page = tarfile.TarInfo("www/index.html")
        page.size = len(UPSTREAM_BODY)
        page.mode = 0o644
        tar.addfile(page, io.BytesIO(UPSTREAM_BODY))
    return buffer.getvalue()


def _create_network(
    client: docker.DockerClient, name: str
) -> tuple[docker.models.networks.Network, str]:
    """A labelled bridge network on a 10.250.N.0/24 that no existing network uses."""
    used: set[str] = set()
    for network in client.networks.list():
        for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
            used.add(str(pool.get("Subnet", "")))
    candidates = [n for n in range(10, 250) if f"10.250.{n}.0/24" not in used]
    random.shuffle(candidates)
    last: Exception | None = None
    for n in candidates[:20]:
        prefix = f"10.250.{n}"
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=f"{prefix}.0/24", gateway=f"{prefix}.1")]
        )
        try:
            return client.networks.create(
                name, driver="bridge", ipam=ipam, labels=RUN_LABEL
            ), prefix
        except docker.errors.APIError as exc:  # overlap with a network created meanwhile
            last = exc
    raise RuntimeError(f"no free 10.250.N.0/24 subnet: {last}")


def _ip(container: docker.models.containers.Container, network: str) -> str:
    container.reload()
    return str(container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


@pytest.fixture(scope="module")
def toxi_env() -> Iterator[ToxiEnv]:
    engine = docker.from_env()
    run_id = f"swarmcheck-dev-toxi-{uuid.uuid4().hex[:8]}"
    containers: list[docker.models.containers.Container] = []
    network = None
    busybox_imported = False
    try:
        started = time.monotonic()
        tag = ensure_toxiproxy_image(engine)
        print(f"\n[toxi] ensure_toxiproxy_image -> {tag} in {time.monotonic() - started:.2f}s")

        engine.api.import_image(
            src=_busybox_rootfs(),
            repository=BUSYBOX_TAG.split(":")[0],
            tag=BUSYBOX_TAG.split(":")[1],
            changes=["LABEL io.swarmcheck.run=dev-toxi", 'ENTRYPOINT ["/bin/busybox"]'],
        )
        busybox_imported = True

        network, prefix = _create_network(engine, run_id)
        net_name = run_id
        upstream = engine.containers.run(
            BUSYBOX_TAG,
            ["httpd", "-f", "-p", str(UPSTREAM_PORT), "-h", "/www"],
            name=f"{run_id}-upstream",
            labels=RUN_LABEL,
            network=net_name,
            detach=True,
        )
        containers.append(upstream)
        echo = engine.containers.run(
            BUSYBOX_TAG,
            ["nc", "-ll", "-p", str(ECHO_PORT), "-e", "/bin/busybox", "cat"],
            name=f"{run_id}-echo",
            labels=RUN_LABEL,
            network=net_name,
            detach=True,
        )
        containers.append(echo)
        toxiproxy = engine.containers.run(
            tag, name=f"{run_id}-toxiproxy", labels=RUN_LABEL, network=net_name, detach=True
        )
        containers.append(toxiproxy)

        toxiproxy_ip = _ip(toxiproxy, net_name)
        api = ToxiproxyClient(f"http://{toxiproxy_ip}:8474", timeout_s=API_TIMEOUT_S)
        started = time.monotonic()
        version = api.wait_ready(30)
        print(f"[toxi] Toxiproxy {version} ready in {time.monotonic() - started:.2f}s")
        yield ToxiEnv(
            api,
            toxiproxy_ip,
            _ip(upstream, net_name),
            _ip(echo, net_name),
            f"{prefix}.250",
            version,
        )
        api.close()
    finally:
        for container in containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        if network is not None:
            network.remove()
        if busybox_imported:
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine.images.remove(BUSYBOX_TAG, force=True)
        engine.close()


def _proxy_to(toxi_env: ToxiEnv, request: pytest.FixtureRequest, upstream: str) -> Iterator[Proxy]:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:60]
    port = next(_ports)
    toxi_env.api.create_proxy(name, f"0.0.0.0:{port}", upstream)
    try:
        yield Proxy(name, toxi_env.toxiproxy_ip, port)
    finally:
        toxi_env.api.reset()
        toxi_env.api.delete_proxy(name)


@pytest.fixture
def proxy(toxi_env: ToxiEnv, request: pytest.FixtureRequest) -> Iterator[Proxy]:
    """A fresh proxy in front of the HTTP upstream."""
    yield from _proxy_to(toxi_env, request, f"{toxi_env.upstream_ip}:{UPSTREAM_PORT}")


@pytest.fixture
def echo_proxy(toxi_env: ToxiEnv, request: pytest.FixtureRequest) -> Iterator[Proxy]:
    """A fresh proxy in front of the TCP echo upstream."""
    yield from _proxy_to(toxi_env, request, f"{toxi_env.echo_ip}:{ECHO_PORT}")


def get(host: str, port: int, timeout_s: float = 5.0) -> tuple[int, bytes, float]:
    """One HTTP GET on a fresh connection; returns (status, body, round trip in seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/index.html", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.monotonic() - started
    finally:
        conn.close()


def wait_until_ok(target: Proxy, deadline_s: float = 5.0) -> float:
    """Seconds until a GET through the proxy succeeds (quickly)."""
    started = time.monotonic()
    while True:
        try:
            status, _, rtt = get(target.host, target.port, timeout_s=1.0)
            if status == 200 and rtt < 0.2:
                return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > deadline_s:
            raise AssertionError(f"proxy {target.name} did not heal within {deadline_s}s")
        time.sleep(0.01)


def test_image_reports_pinned_version(toxi_env: ToxiEnv) -> None:
    assert toxi_env.version == "2.12.0"


def test_proxy_forwards_traffic(toxi_env: ToxiEnv, proxy: Proxy) -> None:
    status, body, _ = get(proxy.host, proxy.port)
    assert (status, body) == (200, UPSTREAM_BODY)
    info = toxi_env.api.proxies()[proxy.name]
    assert info.enabled
    assert info.listen.endswith(f":{proxy.port}")
    assert info.upstream == f"{toxi_env.upstream_ip}:{UPSTREAM_PORT}"
    assert info.toxics == ()


def test_latency_toxic_adds_at_least_300ms(toxi_env: ToxiEnv, proxy: Proxy) -> None:
    baseline = [get(proxy.host, proxy.port)[2] for _ in range(5)]

    started = time.monotonic()
    name = toxi_env.api.add_toxic(proxy.name, "latency", {"latency": 300, "jitter": 0})
    apply_s = time.monotonic() - started
    assert name == "latency_downstream"
    [toxic] = toxi_env.api.list_toxics(proxy.name)
    assert (toxic.type, toxic.stream, toxic.attributes["latency"]) == ("latency", "downstream", 300)

    slowed = []
    for _ in range(3):
        status, body, rtt = get(proxy.host, proxy.port)
        assert (status, body) == (200, UPSTREAM_BODY)
        slowed.append(rtt)
    added = statistics.median(slowed) - statistics.median(baseline)
    print(
        f"\n[toxi] latency 300ms: baseline median {statistics.median(baseline) * 1000:.1f}ms, "
        f"with toxic min {min(slowed) * 1000:.1f}ms median {statistics.median(slowed) * 1000:.1f}ms"
        f" (added {added * 1000:.1f}ms); add_toxic call {apply_s * 1000:.1f}ms"
    )
    assert min(slowed) >= 0.300
    assert added >= 0.295  # medians: allows baseline noise above the toxic path's own cost

    started = time.monotonic()
    toxi_env.api.remove_toxic(proxy.name, name)
    heal_s = wait_until_ok(proxy)
    print(
        f"[toxi] remove_toxic call {(time.monotonic() - started - heal_s) * 1000:.1f}ms, "
        f"first fast request after {heal_s * 1000:.1f}ms"
    )
    assert toxi_env.api.list_toxics(proxy.name) == []


def test_timeout_toxic_black_holes(toxi_env: ToxiEnv, echo_proxy: Proxy) -> None:
    conn = socket.create_connection((echo_proxy.host, echo_proxy.port), timeout=2.0)
    try:
        conn.sendall(b"ping\n")
        assert conn.recv(100) == b"ping\n"

        started = time.monotonic()
        toxi_env.api.add_toxic(echo_proxy.name, "timeout", {"timeout": 0})
        apply_s = time.monotonic() - started
        conn.settimeout(1.5)
        conn.sendall(b"into the hole\n")
        started = time.monotonic()
        with pytest.raises(TimeoutError):  # echoed upstream, swallowed, connection kept open
            conn.recv(100)
        assert time.monotonic() - started >= 1.4
        with pytest.raises(TimeoutError):  # a new connection is black-holed as well
            socket.create_connection((echo_proxy.host, echo_proxy.port), timeout=1.0).recv(1)

        started = time.monotonic()
        toxi_env.api.reset()
        reset_s = time.monotonic() - started
        # Removing a timeout toxic closes the connections it held (TimeoutToxic.Cleanup).
        conn.settimeout(2.0)
        assert conn.recv(100) == b""
    finally:
        conn.close()
    with socket.create_connection((echo_proxy.host, echo_proxy.port), timeout=2.0) as fresh:
        fresh.sendall(b"back\n")
        assert fresh.recv(100) == b"back\n"
    healed_s = time.monotonic() - started
    print(
        f"\n[toxi] timeout(0): add_toxic {apply_s * 1000:.1f}ms; reset call {reset_s * 1000:.1f}ms,"
        f" held connection closed and a new one echoing {healed_s * 1000:.1f}ms after reset began"
    )


def test_timeout_zero_passes_upstream_close_through(toxi_env: ToxiEnv, proxy: Proxy) -> None:
    """Toxiproxy 2.12 behaviour worth knowing: timeout=0 drops data but not the upstream's EOF,
    so against a server that closes after answering (busybox httpd), the client sees an empty
    close rather than a hang. A request black-holed upstream-side does hang."""
    toxi_env.api.add_toxic(proxy.name, "timeout", {"timeout": 0})
    with pytest.raises(http.client.RemoteDisconnected):
        get(proxy.host, proxy.port, timeout_s=3.0)
    toxi_env.api.reset()
    toxi_env.api.add_toxic(proxy.name, "timeout", {"timeout": 0}, stream="upstream")
    with pytest.raises(TimeoutError):
        get(proxy.host, proxy.port, timeout_s=1.0)


def test_reset_peer_toxic_resets_connections(toxi_env: ToxiEnv, proxy: Proxy) -> None:
    toxi_env.api.add_toxic(proxy.name, "reset_peer", {"timeout": 0})
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        get(proxy.host, proxy.port, timeout_s=3.0)
    toxi_env.api.reset()
    wait_until_ok(proxy)


def test_disable_refuses_connections(toxi_env: ToxiEnv, proxy: Proxy) -> None:
    toxi_env.api.disable(proxy.name)
    assert not toxi_env.api.proxies()[proxy.name].enabled
    with pytest.raises(ConnectionRefusedError):
        get(proxy.host, proxy.port, timeout_s=2.0)

    toxi_env.api.enable(proxy.name)
    assert get(proxy.host, proxy.port)[0] == 200

    with toxi_env.api.down(proxy.name), pytest.raises(ConnectionRefusedError):
        get(proxy.host, proxy.port, timeout_s=2.0)
    assert get(proxy.host, proxy.port)[0] == 200


def test_reset_heals_everything(toxi_env: ToxiEnv, proxy: Proxy) -> None:
    api = toxi_env.api
    api.add_toxic(proxy.name, "latency", {"latency": 1000}, stream="upstream")
    api.add_toxic(proxy.name, "bandwidth", {"rate": 1})
    api.add_toxic(proxy.name, "slow_close", {"delay": 2000})
    api.add_toxic(proxy.name, "timeout", {"timeout": 0}, name="hole", toxicity=1.0)
    api.disable(proxy.name)
    assert {t.name for t in api.list_toxics(proxy.name)} == {
        "latency_upstream",
        "bandwidth_downstream",
        "slow_close_downstream",
        "hole",
    }
    with pytest.raises(ConnectionRefusedError):
        get(proxy.host, proxy.port, timeout_s=2.0)

    started = time.monotonic()
    api.reset()
    reset_s = time.monotonic() - started
    assert api.list_toxics(proxy.name) == []
    assert api.proxies()[proxy.name].enabled
    heal_s = wait_until_ok(proxy)
    status, body, rtt = get(proxy.host, proxy.port)
    assert (status, body) == (200, UPSTREAM_BODY)
    assert rtt < 0.2
    print(
        f"\n[toxi] reset of 4 toxics + a disabled proxy: call {reset_s * 1000:.1f}ms, "
        f"first fast request {heal_s * 1000:.1f}ms later"
    )


def test_server_errors_become_fault_errors(toxi_env: ToxiEnv, proxy: Proxy) -> None:
    api = toxi_env.api
    api.add_toxic(proxy.name, "latency", {"latency": 10})
    with pytest.raises(FaultError, match=r"HTTP 409: toxic already exists"):
        api.add_toxic(proxy.name, "latency", {"latency": 10})
    with pytest.raises(
        FaultError, match=r"DELETE http://.*/proxies/no-such-proxy failed: HTTP 404"
    ):
        api.delete_proxy("no-such-proxy")
    with pytest.raises(FaultError, match="HTTP 409"):
        api.create_proxy(proxy.name, f"0.0.0.0:{proxy.port}", "127.0.0.1:1")
    with pytest.raises(ConfigError, match="does not take"):
        api.add_toxic(proxy.name, "latency", {"delay": 300})
    with pytest.raises(ConfigError, match="unknown toxic kind"):
        api.add_toxic(proxy.name, "limbo", {})  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["unused-ip", "refused", "silent-listener"])
def test_unreachable_toxiproxy_raises_fault_error_in_time(toxi_env: ToxiEnv, where: str) -> None:
    timeout_s = 1.0
    silent = None
    if where == "unused-ip":
        url = f"http://{toxi_env.unused_ip}:8474"
    elif where == "refused":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    else:  # accepts TCP connections (kernel backlog) but never answers
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        with ToxiproxyClient(url, timeout_s=timeout_s) as api:
            for call in (api.proxies, api.reset, lambda: api.add_toxic("p", "timeout", {})):
                started = time.monotonic()
                with pytest.raises(FaultError, match=re.escape(url)):
                    call()
                elapsed = time.monotonic() - started
                assert elapsed < 2 * timeout_s + 0.5, f"{where}: took {elapsed:.2f}s"
            started = time.monotonic()
            with pytest.raises(FaultError, match="not ready after"):
                api.wait_ready(1.5)
            waited = time.monotonic() - started
            assert waited < 1.5 + timeout_s + 0.5
        print(f"\n[toxi] {where}: FaultError after {elapsed:.2f}s; wait_ready(1.5) {waited:.2f}s")
    finally:
        if silent is not None:
            silent.close()
