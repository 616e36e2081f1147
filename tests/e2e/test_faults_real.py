"""End to end: every fault kind injected into and healed on a real three-manager cluster.

Two clusters per module (each reused by its tests, restored to whole before each test): a
plain one for partitions and process faults, and one whose control plane runs through
Toxiproxy for toxics. Each test checks an effect Swarm or the engine shows, not just that a
call returned. Measured figures are printed at the end (run with ``-s``) and attached to the
tests as properties.
"""

from __future__ import annotations

import socket
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from swarmcheck import labels
from swarmcheck.client.swarm import NodeInfo
from swarmcheck.cluster.cluster import Cluster, running_cluster
from swarmcheck.cluster.node import Node
from swarmcheck.cluster.pool import restore_nodes
from swarmcheck.errors import ConfigError, EngineAPIError, FaultError, SwarmcheckError
from swarmcheck.faults import partition, process, toxics
from swarmcheck.faults.base import FaultLog
from swarmcheck.faults.partition import Partition, hook_rules
from swarmcheck.faults.runner import assert_played, run_schedule
from swarmcheck.faults.schedule import PlannedFault, Schedule
from swarmcheck.machine.images import ClusterImages, prepare_images
from swarmcheck.spec import ClusterSpec

pytestmark = pytest.mark.e2e

DETECT_TIMEOUT_S = 20.0
FAILOVER_TIMEOUT_S = 45.0
"""Two election rounds and the poll's resolution: see suites/budgets.py ELECTION_S."""
REJOIN_TIMEOUT_S = 90.0
SWARM_PORT = 2377
FIGURES: dict[str, float | int | str] = {}


# -- helpers ---------------------------------------------------------------------------------
def poll(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until ``condition()`` holds (engine errors count as "not yet")."""
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except EngineAPIError:
            pass
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s:g}s")
        time.sleep(0.2)


def view(cluster: Cluster, via: Node) -> dict[str, NodeInfo]:
    return {i.hostname: i for i in cluster.node_list(via=via, timeout_s=3)}


def followers(cluster: Cluster, leader: Node) -> list[Node]:
    return [n for n in cluster.managers if n.name != leader.name]


def engine_answers(node: Node) -> bool:
    try:
        client = node.quick_client(2.0)  # asks for the API version at once
    except Exception:  # docker-py wraps the connection error (refused, timed out)
        return False
    try:
        client.version()
        return True
    except Exception:  # requests' own ConnectionError / Timeout
        return False
    finally:
        client.close()


def figure(record_property: Callable[[str, Any], None], name: str, value: float | str) -> None:
    FIGURES[name] = round(value, 3) if isinstance(value, float) else value
    record_property(name, FIGURES[name])


def node_ls_s(cluster: Cluster, via: Node, times: int) -> float:
    """Median seconds of `docker node ls` through ``via``."""
    samples = []
    for _ in range(times):
        started = time.monotonic()
        cluster.node_list(via=via, timeout_s=30)
        samples.append(time.monotonic() - started)
    return statistics.median(samples)


def raw_probe(ip: str, port: int, wait_s: float = 3.0) -> tuple[str, float]:
    """Send junk to a swarm port through the proxy: how the connection ends, and when.

    The manager's TLS listener closes the connection at once (``eof`` in ~1 ms)."""
    started = time.monotonic()
    with socket.create_connection((ip, port), timeout=wait_s) as sock:
        try:
            sock.sendall(b"not tls\r\n\r\n")
            while sock.recv(4096):
                pass
            outcome = "eof"
        except TimeoutError:
            outcome = "hang"
        except ConnectionResetError:
            outcome = "reset"
    return outcome, time.monotonic() - started

    # -- fixtures --------------------------------------------------------------------------------
    if FIGURES:
        print("\n[faults] measured figures:")
        for name, value in FIGURES.items():
            print(f"  {name:<42} {value}")


@pytest.fixture(scope="module")
def prepared(host: docker.DockerClient) -> ClusterImages:
    return prepare_images(host, ClusterSpec())


@pytest.fixture(scope="module")
def plain_cluster(host: docker.DockerClient, prepared: ClusterImages) -> Iterator[Cluster]:
    with running_cluster(host, ClusterSpec(managers=3), prepared) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def proxied_cluster(host: docker.DockerClient, prepared: ClusterImages) -> Iterator[Cluster]:
    spec = ClusterSpec(managers=3, control_plane_proxy=True)
    with running_cluster(host, spec, prepared) as cluster:
        yield cluster


def _whole(cluster: Cluster) -> Cluster:
    """Restore the cluster; a node whose engine answers but which stays Down (its agent never
    re-registers after a restart: seen now and then with 20.10) is restarted once more."""
    if cluster.dirty:
        pytest.skip(f"cluster is dirty: {cluster.dirty}")
    try:
        restore_nodes(cluster)
    except SwarmcheckError as exc:
        stuck = [n for n in cluster.nodes if f"{n.name} is down" in str(exc).splitlines()[0]]
        if not stuck:
            raise
        warnings.warn(f"restarting nodes stuck Down: {[n.name for n in stuck]}", stacklevel=2)
        FIGURES["stuck_down_restarts"] = int(FIGURES.get("stuck_down_restarts", 0)) + len(stuck)
        for node in stuck:
            node.container.restart(timeout=10)
            node.close()
            node.wait_engine()
        cluster.wait_healthy(REJOIN_TIMEOUT_S)
    return cluster


@pytest.fixture
def plain(plain_cluster: Cluster) -> Cluster:
    """The plain cluster, whole (every node Ready, every manager reachable, one leader)."""
    return _whole(plain_cluster)


@pytest.fixture
def proxied(proxied_cluster: Cluster) -> Cluster:
    return _whole(proxied_cluster)


@pytest.fixture
def flog() -> Iterator[FaultLog]:
    """A fault log whose faults are all healed when the test ends, whatever happened."""
    log = FaultLog()
    yield log
    log.heal_all()


# -- partitions (plain cluster) ----------------------------------------------------------------
def test_toxics_need_a_proxied_cluster(plain: Cluster) -> None:
    with pytest.raises(ConfigError, match="control_plane_proxy"):
        toxics.latency(plain, plain.managers[0], 100)


def test_isolate_follower(plain: Cluster, flog: FaultLog, record_property: Any) -> None:
    leader = plain.wait_leader()
    target = followers(plain, leader)[0]
    with partition.isolate(plain, target, log=flog) as fault:
        assert len(hook_rules(target)) == 1 and len(hook_rules(leader)) == 1
        detect = poll(
            lambda: view(plain, leader)[target.name].reachability == "unreachable",
            DETECT_TIMEOUT_S,
            f"majority reports {target.name} unreachable",
        )
        assert plain.leader().name == leader.name, "the majority kept its leader"
    window = fault.window
    assert window is not None and window.apply_s is not None and window.heal_s is not None
    assert all(hook_rules(n) == [] for n in plain.nodes)
    rejoin = poll(
        lambda: view(plain, leader)[target.name].reachability == "reachable",
        REJOIN_TIMEOUT_S,
        f"{target.name} reachable again",
    )
    figure(record_property, "isolate.apply_s", window.apply_s)
    figure(record_property, "isolate.detected_unreachable_s", detect)
    figure(record_property, "isolate.heal_s", window.heal_s)
    figure(record_property, "isolate.reachable_after_heal_s", rejoin)


def test_split_heals_when_the_body_raises(plain: Cluster, flog: FaultLog) -> None:
    leader = plain.wait_leader()
    target = followers(plain, leader)[0]
    fault = partition.split(plain, [target], log=flog)
    with pytest.raises(RuntimeError, match="test body failed"), fault:
        poll(
            lambda: view(plain, leader)[target.name].reachability == "unreachable",
            DETECT_TIMEOUT_S,
            f"majority reports {target.name} unreachable",
        )
        raise RuntimeError("test body failed")
    assert not fault.active and flog.active() == []
    assert all(hook_rules(n) == [] for n in plain.nodes), "every rule was removed"


def test_one_way_leader_to_follower(plain: Cluster, flog: FaultLog, record_property: Any) -> None:
    """Dropping only leader -> follower packets still breaks their TCP connections (no
    acknowledgements), so the leader reports the follower unreachable."""
    leader = plain.wait_leader()
    target = followers(plain, leader)[0]
    with partition.one_way(plain, leader, target, log=flog) as fault:
        assert any(f"-d {target.ip}/32" in r for r in _fault_rules(leader, fault))
        assert any(f"-s {leader.ip}/32" in r for r in _fault_rules(target, fault))
        detect = poll(
            lambda: view(plain, leader)[target.name].reachability == "unreachable",
            DETECT_TIMEOUT_S,
            f"leader reports {target.name} unreachable",
        )
        assert plain.leader().name == leader.name
    assert all(hook_rules(n) == [] for n in plain.nodes)
    figure(record_property, "one_way.detected_unreachable_s", detect)


def _fault_rules(node: Node, fault: Partition) -> list[str]:
    code, out = node.exec(f"iptables -w -S {fault.chain}")
    assert code == 0, out
    return out.splitlines()


def test_partition_failing_half_way_leaves_no_rules(plain: Cluster, flog: FaultLog) -> None:
    good, bad = plain.managers[1], plain.managers[2]
    plan = {
        good.name: [["-A", "{chain}", "-s", "10.255.255.254", "-j", "DROP"]],
        bad.name: [["-A", "{chain}", "-s", "not-an-address", "-j", "DROP"]],
    }
    fault = Partition(plain, plan, (good.name, bad.name), log=flog)
    with pytest.raises(FaultError, match=bad.name):
        fault.start()
    assert not fault.active and fault.window is not None and fault.window.error
    assert hook_rules(good) == [] and hook_rules(bad) == []
    assert _chains(good) == [] and _chains(bad) == []


def _chains(node: Node) -> list[str]:
    _, out = node.exec("iptables -w -S | grep -- '^-N SC-' || true")
    return out.split()


def test_heal_all_heals_every_active_fault(plain: Cluster, flog: FaultLog) -> None:
    leader = plain.wait_leader()
    target = followers(plain, leader)[0]
    partition.isolate(plain, target, log=flog).start()
    process.pause_node(plain, target, log=flog).start()
    assert len(flog.active()) == 2 and target.container.status == "paused"
    healed = flog.heal_all()
    assert [w.kind for w in healed] == ["pause_node", "partition_isolate"]
    assert target.container.status == "running" and hook_rules(target) == []
    assert flog.active() == [] and all(not w.active for w in flog)


# -- process faults (plain cluster) ------------------------------------------------------------
def test_pause_leader_fails_over(plain: Cluster, flog: FaultLog, record_property: Any) -> None:
    leader = plain.wait_leader()
    with process.pause_node(plain, leader, log=flog) as fault:
        started = time.monotonic()
        new = plain.wait_leader(timeout_s=FAILOVER_TIMEOUT_S, exclude=leader.name)
        failover = time.monotonic() - started
        assert new.name != leader.name
    started = time.monotonic()
    plain.wait_healthy(REJOIN_TIMEOUT_S)
    whole = time.monotonic() - started
    infos = plain.node_list()
    assert sum(i.leader for i in infos) == 1
    assert [i.reachability for i in infos] == ["reachable"] * 3
    assert fault.window is not None and fault.window.heal_s is not None
    figure(record_property, "pause_leader.failover_s", failover)
    figure(record_property, "pause_leader.heal_s", fault.window.heal_s)
    figure(record_property, "pause_leader.whole_after_heal_s", whole)


def test_kill_dockerd(plain: Cluster, flog: FaultLog, record_property: Any) -> None:
    target = followers(plain, plain.wait_leader())[0]
    with process.kill_dockerd(plain, target, log=flog) as fault:
        container = target.container
        assert container.status == "exited"
        assert container.attrs["State"]["ExitCode"] == 137
        assert not engine_answers(target)
        assert fault.params["dockerd_is_pid1"] is True
    assert engine_answers(target)
    assert fault.window is not None and fault.window.heal_s is not None
    figure(record_property, "kill_dockerd.method", str(fault.params["method"]))
    figure(record_property, "kill_dockerd.heal_s", fault.window.heal_s)


@pytest.mark.parametrize("kind", ["kill_node", "stop_node", "restart_node"])
def test_node_process_faults(
    plain: Cluster, flog: FaultLog, record_property: Any, kind: str
) -> None:
    target = followers(plain, plain.wait_leader())[0]
    started_at = target.container.attrs["State"]["StartedAt"]
    make = {
        "kill_node": process.kill_node,
        "stop_node": process.stop_node,
        "restart_node": process.restart_node,
    }[kind]
    with make(plain, target, log=flog) as fault:
        container = target.container
        if kind == "restart_node":
            assert container.status == "running"
            assert container.attrs["State"]["StartedAt"] != started_at
        else:
            assert container.status == "exited"
            assert not engine_answers(target)
    assert engine_answers(target)
    assert fault.window is not None
    assert fault.window.apply_s is not None and fault.window.heal_s is not None
    figure(record_property, f"{kind}.apply_s", fault.window.apply_s)
    figure(record_property, f"{kind}.heal_s", fault.window.heal_s)


def test_interrupt_inside_a_fault_block_still_heals(plain: Cluster, flog: FaultLog) -> None:
    target = followers(plain, plain.wait_leader())[0]
    with pytest.raises(KeyboardInterrupt), process.pause_node(plain, target, log=flog):
        assert target.container.status == "paused"
        raise KeyboardInterrupt
    assert target.container.status == "running"


def test_kill_task_container(
    plain: Cluster, prepared: ClusterImages, flog: FaultLog, record_property: Any
) -> None:
    lead = plain.client(plain.wait_leader())
    lead.create_service("victim", prepared.workload[0], 3)
    try:
        poll(lambda: len(lead.running_tasks("victim")) == 3, 60, "3 running tasks")
        with process.kill_task_container(plain, "victim", log=flog) as fault:
            node = plain.node(fault.targets[0])
            with pytest.raises(docker.errors.NotFound):
                node.client.containers.get(fault.container_id)
        killed = fault.params["task_id"]
        replaced = poll(
            lambda: (
                len(ts := lead.running_tasks("victim")) == 3 and killed not in {t.id for t in ts}
            ),
            60,
            "Swarm replaces the killed task",
        )
        figure(record_property, "kill_task.replaced_after_s", replaced)
    finally:
        lead.remove_service("victim")


# -- control plane through Toxiproxy -----------------------------------------------------------
def test_managers_advertise_the_proxy_and_data_path_stays_direct(
    proxied: Cluster, prepared: ClusterImages
) -> None:
    proxy = proxied.control_plane
    assert proxy is not None
    for info in proxied.node_list():
        assert info.manager_addr == proxy.route(info.hostname).listen
    lead = proxied.client(proxied.wait_leader())
    net = lead.docker.networks.create("cpnet", driver="overlay", attachable=True)
    probe_node = proxied.managers[0]
    try:
        lead.create_service(
            "web", prepared.workload[0], 3, endpoint_mode="dnsrr", networks=["cpnet"]
        )
        poll(lambda: len(lead.running_tasks("web")) == 3, 60, "3 web tasks")
        tasks = lead.running_tasks("web")
        remote = {t.node_id for t in tasks} - {view(proxied, probe_node)[probe_node.name].id}
        assert remote, "some task runs on another node, so answers must cross VXLAN"
        script = (
            "for i in $(seq 40); do ips=$(nslookup tasks.web 2>/dev/null | "
            "awk '/^Name:/{f=1} f && /^Address/{print $2}'); "
            '[ "$(echo $ips | wc -w)" -ge 3 ] && break; sleep 0.5; done; '
            "for ip in $ips; do a=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
            'timeout 3 nc -w 2 $ip 8080 | tail -n 1); echo "$ip $a"; done'
        )
        out = probe_node.client.containers.run(
            prepared.workload[0],
            ["sh", "-c", script],
            network="cpnet",
            remove=True,
            labels=labels.for_run(proxied.run_id, "probe"),
        ).decode()
        answers = [line.split() for line in out.splitlines() if line.strip()]
        assert len(answers) == 3 and all(a[1:] == ["v1"] for a in answers), out
        # Gossip peers are the advertised addresses (NATed on to the managers by the proxy's
        # namespace); VXLAN is not proxied at all, so answers from other nodes went direct.
        peers = probe_node.client.api.inspect_network(net.id, verbose=True).get("Peers") or []
        assert {p["IP"] for p in peers} == {r.address for r in proxy.routes.values()}, peers
    finally:
        lead.remove_service("web")
        poll(lambda: _removed(net), 30, "the overlay network removed")


def _removed(net: Any) -> bool:
    """Remove a network once its tasks are gone (it refuses while endpoints remain)."""
    try:
        net.remove()
        return True
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError:
        return False


def test_latency_slows_forwarded_calls(
    proxied: Cluster, flog: FaultLog, record_property: Any
) -> None:
    leader = proxied.wait_leader()
    via = followers(proxied, leader)[0]
    baseline = node_ls_s(proxied, via, 5)
    with toxics.latency(proxied, leader, 500, log=flog) as fault:
        slowed = node_ls_s(proxied, via, 3)
        direct = node_ls_s(proxied, leader, 3)
    after = node_ls_s(proxied, via, 3)
    assert slowed > baseline + 0.8, (baseline, slowed)
    assert direct < 0.5 and after < baseline + 0.3, (direct, after)
    assert fault.window is not None and fault.window.apply_s is not None
    figure(record_property, "latency500.node_ls_baseline_s", baseline)
    figure(record_property, "latency500.node_ls_via_follower_s", slowed)
    figure(record_property, "latency.apply_s", fault.window.apply_s)
    figure(record_property, "latency.heal_s", fault.window.heal_s or 0.0)


def test_bandwidth_slows_forwarded_calls(
    proxied: Cluster, flog: FaultLog, record_property: Any
) -> None:
    leader = proxied.wait_leader()
    via = followers(proxied, leader)[0]
    with toxics.bandwidth(proxied, leader, rate_kb=2, log=flog):
        slowed = node_ls_s(proxied, via, 1)
    assert slowed > 1.0, slowed
    figure(record_property, "bandwidth2kb.node_ls_via_follower_s", slowed)


@pytest.mark.parametrize(
    ("kind", "expected", "min_s"),
    [("timeout", "hang", 2.5), ("reset_peer", "reset", 0.0), ("slow_close", "eof", 0.9)],
)
def test_connection_toxics(
    proxied: Cluster, flog: FaultLog, record_property: Any, kind: str, expected: str, min_s: float
) -> None:
    """Short toxics on a follower's proxy, seen by a connection to its swarm port."""
    proxy = proxied.control_plane
    assert proxy is not None
    target = followers(proxied, proxied.wait_leader())[0]
    address = proxy.route(target).address
    assert raw_probe(address, SWARM_PORT)[0] == "eof"
    fault = {
        "timeout": lambda: toxics.timeout(proxied, target, 0, log=flog),
        "reset_peer": lambda: toxics.reset_peer(proxied, target, 0, log=flog),
        "slow_close": lambda: toxics.slow_close(proxied, target, 1000, log=flog),
    }[kind]()
    with fault:
        outcome, took = raw_probe(address, SWARM_PORT)
    assert (outcome, took >= min_s) == (expected, True), (outcome, took)
    assert raw_probe(address, SWARM_PORT) == ("eof", pytest.approx(0, abs=0.5))
    with proxy.client() as api:
        assert api.list_toxics(proxy.route(target).proxy) == []
    assert fault.window is not None and fault.window.apply_s is not None
    figure(record_property, f"{kind}.apply_s", fault.window.apply_s)
    figure(record_property, f"{kind}.heal_s", fault.window.heal_s or 0.0)


def test_isolate_cuts_the_proxied_control_plane_too(proxied: Cluster, flog: FaultLog) -> None:
    """With managers advertised at the proxy, isolation also drops their proxy addresses."""
    proxy = proxied.control_plane
    assert proxy is not None
    leader = proxied.wait_leader()
    target = followers(proxied, leader)[0]
    with partition.isolate(proxied, target, log=flog) as fault:
        assert f"-A {fault.chain} -d {proxy.route(leader).address}/32 -j DROP" in _fault_rules(
            target, fault
        )
        poll(
            lambda: view(proxied, leader)[target.name].reachability == "unreachable",
            DETECT_TIMEOUT_S,
            f"majority reports {target.name} unreachable",
        )
    poll(
        lambda: view(proxied, leader)[target.name].reachability == "reachable",
        REJOIN_TIMEOUT_S,
        f"{target.name} reachable again",
    )


def test_proxy_down_makes_manager_unreachable(
    proxied: Cluster, flog: FaultLog, record_property: Any
) -> None:
    proxy = proxied.control_plane
    assert proxy is not None
    leader = proxied.wait_leader()
    target = followers(proxied, leader)[0]
    with toxics.proxy_down(proxied, target, log=flog) as fault:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((proxy.route(target).address, SWARM_PORT), timeout=2).close()
        detect = poll(
            lambda: view(proxied, leader)[target.name].reachability == "unreachable",
            DETECT_TIMEOUT_S,
            f"leader reports {target.name} unreachable",
        )
    started = time.monotonic()
    proxied.wait_healthy(REJOIN_TIMEOUT_S)
    assert fault.window is not None and fault.window.heal_s is not None
    figure(record_property, "proxy_down.detected_unreachable_s", detect)
    figure(record_property, "proxy_down.heal_s", fault.window.heal_s)
    figure(record_property, "proxy_down.whole_after_heal_s", time.monotonic() - started)


# -- the schedule runner ---------------------------------------------------------------------
def test_runner_plays_a_schedule_of_registry_kinds(
    proxied: Cluster, prepared: ClusterImages, flog: FaultLog, record_property: Any
) -> None:
    """A short schedule (a toxic, a one-way cut, a paused follower, a removed task) played on a
    real swarm: each fault is built from the registry, healed, and what ran matches the plan."""
    plan = (
        ("latency", "leader", {"latency_ms": 200, "jitter_ms": 20}),
        ("partition_oneway", "follower", {"direction": "inbound"}),
        ("pause_node", "follower", {}),
        ("kill_task", "task", {}),
    )
    schedule = Schedule(
        seed=5,
        duration_s=60,
        faults=tuple(
            PlannedFault(1.0 + 4.0 * i, 2.0, kind, target, params)
            for i, (kind, target, params) in enumerate(plan)
        ),
    )
    leader = proxied.wait_leader()
    lead = proxied.client(leader)
    lead.create_service("victim", prepared.workload[0], 3)
    healed: list[tuple[int, float]] = []

    def after_heal(index: int, planned: PlannedFault) -> None:
        started = time.monotonic()
        proxied.wait_healthy(REJOIN_TIMEOUT_S)
        healed.append((index, time.monotonic() - started))

    try:
        poll(lambda: len(lead.running_tasks("victim")) == 3, 60, "3 running tasks")
        played = run_schedule(proxied, schedule, flog, service="victim", after_heal=after_heal)
        assert_played(schedule, played, flog.windows())
    finally:
        lead.remove_service("victim")
    assert [index for index, _ in healed] == [1, 2, 3, 4]
    cut = flog.windows()[1].params  # inbound: what the leader sends the follower is dropped
    assert cut["src"] == leader.name and cut["dst"] != leader.name, cut
    for index, seconds in healed:
        figure(record_property, f"runner.fault{index}_whole_after_heal_s", seconds)
