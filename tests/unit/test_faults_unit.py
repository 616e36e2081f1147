"""Fast tests of the pure parts of fault injection: rule text, routes, windows and the log."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from swarmcheck.cluster.controlplane import ControlPlaneProxy, plan_routes, proxy_ip, setup_script
from swarmcheck.errors import ConfigError, FaultError, FaultRecoveryError
from swarmcheck.faults.base import Fault, FaultLog, FaultWindow
from swarmcheck.faults.partition import (
    HOOK_CHAIN,
    Endpoint,
    apply_script,
    clear_script,
    drop_rules,
    heal_script,
    plan_one_way,
    plan_split,
)
from swarmcheck.faults.process import _is_dockerd, _signal_host_pid

# -- iptables rules --------------------------------------------------------------------------


def test_drop_rules_both_ways_direct() -> None:
    rules = drop_rules("SC-1", [Endpoint("10.0.0.11"), Endpoint("10.0.0.12")], "both")
    assert rules == [
        ["-A", "SC-1", "-d", "10.0.0.11", "-j", "DROP"],
        ["-A", "SC-1", "-s", "10.0.0.11", "-j", "DROP"],
        ["-A", "SC-1", "-d", "10.0.0.12", "-j", "DROP"],
        ["-A", "SC-1", "-s", "10.0.0.12", "-j", "DROP"],
    ]


def test_drop_rules_cover_the_proxied_control_plane() -> None:
    peer = Endpoint("10.0.0.11", "10.0.0.241")
    assert drop_rules("C", [peer], "out") == [
        ["-A", "C", "-d", "10.0.0.11", "-j", "DROP"],
        ["-A", "C", "-d", "10.0.0.241", "-j", "DROP"],
    ]
    assert drop_rules("C", [peer], "in") == [
        ["-A", "C", "-s", "10.0.0.11", "-j", "DROP"],
        ["-A", "C", "-s", "10.0.0.241", "-j", "DROP"],
    ]


def test_apply_script_hooks_idempotently_and_enables_last() -> None:
    script = apply_script("SC-ab", [["-A", "SC-ab", "-d", "10.0.0.11", "-j", "DROP"]])
    lines = script.splitlines()
    assert lines[0] == "set -e"
    for builtin in ("INPUT", "OUTPUT", "FORWARD"):
        assert (
            f"iptables -w -C {builtin} -j {HOOK_CHAIN} 2>/dev/null || "
            f"iptables -w -I {builtin} 1 -j {HOOK_CHAIN}"
        ) in lines
    assert "iptables -w -N SC-ab" in lines
    assert lines.index("iptables -w -A SC-ab -d 10.0.0.11 -j DROP") < len(lines) - 1
    assert lines[-1] == f"iptables -w -A {HOOK_CHAIN} -j SC-ab"


def test_heal_script_removes_only_its_chain() -> None:
    script = heal_script("SC-ab")
    assert f"iptables -w -D {HOOK_CHAIN} -j SC-ab" in script
    assert "iptables -w -F SC-ab" in script and "iptables -w -X SC-ab" in script
    assert "-F INPUT" not in script and "-F OUTPUT" not in script
    assert f"-F {HOOK_CHAIN}" in clear_script()


def test_rule_arguments_are_shell_quoted() -> None:
    script = apply_script("C", [["-A", "C", "-s", "1.2.3.4; reboot", "-j", "DROP"]])
    assert "'1.2.3.4; reboot'" in script


def test_split_plan_cuts_both_sides() -> None:
    a = {"m1": Endpoint("10.0.0.10")}
    b = {"m2": Endpoint("10.0.0.11"), "m3": Endpoint("10.0.0.12")}
    plan = plan_split(a, b)
    assert set(plan) == {"m1", "m2", "m3"}
    assert ["-A", "{chain}", "-d", "10.0.0.11", "-j", "DROP"] in plan["m1"]
    assert ["-A", "{chain}", "-s", "10.0.0.12", "-j", "DROP"] in plan["m1"]
    assert plan["m2"] == drop_rules("{chain}", [Endpoint("10.0.0.10")], "both")
    assert not any("10.0.0.12" in r for r in plan["m2"])  # m2 and m3 stay connected


def test_split_plan_rejects_bad_sides() -> None:
    with pytest.raises(ConfigError, match="both sides"):
        plan_split({"m1": Endpoint("a")}, {"m1": Endpoint("a")})
    with pytest.raises(ConfigError, match="each side"):
        plan_split({"m1": Endpoint("a")}, {})


def test_one_way_plan_drops_one_direction_only() -> None:
    plan = plan_one_way(("m1", Endpoint("10.0.0.10")), ("m2", Endpoint("10.0.0.11")))
    assert plan == {
        "m1": [["-A", "{chain}", "-d", "10.0.0.11", "-j", "DROP"]],
        "m2": [["-A", "{chain}", "-s", "10.0.0.10", "-j", "DROP"]],
    }
    with pytest.raises(ConfigError):
        plan_one_way(("m1", Endpoint("a")), ("m1", Endpoint("a")))


# -- control-plane routes --------------------------------------------------------------------


def test_routes_and_advertised_addresses() -> None:
    assert proxy_ip("10.199.7.0/24") == "10.199.7.5"
    routes = plan_routes(
        "10.199.7.0/24", [("manager1", "10.199.7.10"), ("manager2", "10.199.7.11")]
    )
    assert routes["manager2"].address == "10.199.7.241"
    assert routes["manager2"].listen == "10.199.7.241:2377"
    assert routes["manager2"].upstream == "10.199.7.11:2377"
    proxy = ControlPlaneProxy("sc-x-toxiproxy", "10.199.7.5", routes)
    manager = SimpleNamespace(name="manager2", ip="10.199.7.11")
    worker = SimpleNamespace(name="worker1", ip="10.199.7.13")
    assert proxy.advertise_addr(manager) == "10.199.7.241:2377"  # type: ignore[arg-type]
    assert proxy.advertise_addr(worker) == "10.199.7.13:2377"  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="only managers"):
        proxy.route("worker1")
    with pytest.raises(ConfigError, match="/24"):
        plan_routes("10.199.7.0/25", [("manager1", "10.199.7.10")])


def test_setup_script_adds_addresses_and_nats_gossip() -> None:
    routes = plan_routes("10.199.7.0/24", [("manager1", "10.199.7.10")])
    lines = setup_script(list(routes.values()), 24).splitlines()
    assert lines[0] == "set -e"
    assert "ip addr add 10.199.7.240/24 dev eth0" in lines
    for proto in ("udp", "tcp"):
        assert (
            f"iptables -w -t nat -A PREROUTING -d 10.199.7.240 -p {proto} --dport 7946 "
            "-j DNAT --to-destination 10.199.7.10:7946"
        ) in lines
        assert (
            f"iptables -w -t nat -A POSTROUTING -d 10.199.7.10 -p {proto} --dport 7946 "
            "-j MASQUERADE"
        ) in lines
    assert not any("2377" in line for line in lines)  # raft goes through Toxiproxy itself


def test_kill_dockerd_only_signals_a_verified_dockerd() -> None:
    assert _is_dockerd("dockerd --host=unix:///var/run/docker.sock")
    assert _is_dockerd("/usr/sbin/dockerd")
    assert not _is_dockerd("containerd --config x") and not _is_dockerd("")
    assert _signal_host_pid(os.getpid(), "manager1") is False  # python, not dockerd
    assert _signal_host_pid(2**22 + 12345, "manager1") is False  # no such process


# -- windows, log and the Fault life cycle ---------------------------------------------------


class FakeFault(Fault):
    """Records calls; can be told to fail injecting or healing."""

    kind = "fake"

    def __init__(self, log: FaultLog, name: str = "n1", **behaviour: Any) -> None:
        self.calls: list[str] = []
        self.behaviour = behaviour
        super().__init__(SimpleNamespace(dirty=None), (name,), {"x": 1}, log)  # type: ignore[arg-type]

    def _inject(self) -> None:
        self.calls.append("inject")
        if exc := self.behaviour.get("inject_raises"):
            raise exc

    def _heal(self) -> None:
        self.calls.append("heal")
        failures = self.behaviour.get("heal_raises")
        if failures:
            raise failures.pop(0)


def test_window_round_trip() -> None:
    window = FaultWindow("latency", ("manager1",), 10.0, 12.5, {"latency_ms": 500})
    assert window.duration_s == 2.5 and not window.active
    assert window.to_dict()["targets"] == ["manager1"]
    assert FaultWindow("x", (), 1.0, None).duration_s is None


def test_context_manager_heals_on_exception_and_records_window() -> None:
    log = FaultLog()
    fault = FakeFault(log)
    with pytest.raises(RuntimeError), fault:
        assert log.active() == [fault] and log.windows()[0].active
        raise RuntimeError("boom")
    assert fault.calls == ["inject", "heal"]
    (window,) = log.windows()
    assert window.ended_at is not None and window.ended_at >= window.started_at
    assert window.apply_s is not None and window.heal_s is not None
    assert log.active() == []


def test_context_manager_heals_on_keyboard_interrupt() -> None:
    fault = FakeFault(FaultLog())
    with pytest.raises(KeyboardInterrupt), fault:
        raise KeyboardInterrupt
    assert fault.calls == ["inject", "heal"] and not fault.active


def test_failed_start_heals_what_was_done() -> None:
    log = FaultLog()
    fault = FakeFault(log, inject_raises=FaultError("half-way", "fake"))
    with pytest.raises(FaultError, match="half-way"):
        fault.start()
    assert fault.calls == ["inject", "heal"]
    window = log.windows()[0]
    assert not window.active and "half-way" in (window.error or "")


def test_stop_is_idempotent_and_restartable() -> None:
    log = FaultLog()
    fault = FakeFault(log).start()
    first = fault.stop()
    assert fault.stop() == first and fault.calls == ["inject", "heal"]
    fault.start().stop()
    assert len(log) == 2
    with pytest.raises(FaultError):
        FakeFault(log).stop()  # never started


def test_heal_failure_marks_cluster_dirty() -> None:
    fault = FakeFault(FaultLog(), heal_raises=[OSError("gone")]).start()
    with pytest.raises(FaultRecoveryError, match="gone"):
        fault.stop()
    assert fault.active and "could not be healed" in fault.cluster.dirty
    fault.stop()  # a later attempt can still succeed


def test_interrupt_during_heal_finishes_healing_then_reraises() -> None:
    fault = FakeFault(FaultLog(), heal_raises=[KeyboardInterrupt()]).start()
    with pytest.raises(KeyboardInterrupt):
        fault.stop()
    assert fault.calls == ["inject", "heal", "heal"] and not fault.active


class TimedOut(BaseException):
    """What pytest-timeout's signal method raises in the test (pytest's Failed: an
    OutcomeException, a BaseException but not an Exception)."""


def test_timeout_during_heal_finishes_healing_then_reraises() -> None:
    fault = FakeFault(FaultLog(), heal_raises=[TimedOut()]).start()
    with pytest.raises(TimedOut):
        fault.stop()
    assert fault.calls == ["inject", "heal", "heal"] and not fault.active
    assert fault.cluster.dirty is None


def test_heal_all_heals_every_fault_when_one_heal_is_interrupted() -> None:
    log = FaultLog()
    first = FakeFault(log, "first").start()
    FakeFault(log, "interrupted", heal_raises=[TimedOut()]).start()  # healed first (newest)
    with pytest.raises(TimedOut):
        log.heal_all()
    assert log.active() == [] and first.calls == ["inject", "heal"]


def test_heal_all_newest_first_and_retries_failures() -> None:
    log = FaultLog()
    order: list[str] = []
    a = FakeFault(log, "a", heal_raises=[OSError("paused")]).start()  # heals on the 2nd try
    b = FakeFault(log, "b").start()
    for fault in (a, b):
        original = fault._heal

        def traced(fault: FakeFault = fault, original: Any = original) -> None:
            order.append(fault.targets[0])
            original()

        fault._heal = traced  # type: ignore[method-assign]
    healed = log.heal_all()
    assert order == ["b", "a", "a"] and len(healed) == 2 and log.active() == []
    assert a.cluster.dirty is None  # the first failure did not condemn the cluster


def test_heal_all_reports_what_stays_broken() -> None:
    log = FaultLog()
    bad = FakeFault(log, "bad", heal_raises=[OSError("x"), OSError("y")]).start()
    FakeFault(log, "good").start()
    with pytest.raises(FaultRecoveryError, match="1 fault"):
        log.heal_all()
    assert bad.cluster.dirty and log.active() == [bad]


def test_log_is_thread_safe() -> None:
    log = FaultLog()

    def worker() -> None:
        for _ in range(50):
            FakeFault(log).start().stop()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(log) == 400 and all(not w.active for w in log) and log.active() == []
