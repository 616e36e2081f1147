"""An availability probe that uses a service the way a client would, from inside the swarm.

The ingress routing mesh and service VIPs need IPVS, which some kernels lack. This probe
needs neither: it runs in a container on an attachable overlay network and, every round,
resolves the service's DNS-RR task names (`tasks.<service>`) and sends a request to every
address they list. The round succeeds when any address answers, as a client-side load
balancer that moves to the next task would; every address tried is recorded with its
outcome, so a task Swarm still lists but that does not answer shows too. (A client that
retries on the next address cannot tell a start-first update from a stop-first one over
several replicas: ``checkers.rolling`` judges the order from the tasks.) Times come from
/proc/uptime (the kernel's boot clock, shared with the host), so they line up with fault
windows the host records with ``boot_clock()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swarmcheck import labels
from swarmcheck.checkers.availability import AddressProbe, Probe
from swarmcheck.cluster.node import Node

SCRIPT = r"""
name="$1"; port="$2"; pause="$3"
while [ ! -e /tmp/stop ]; do
  read t0 _ < /proc/uptime
  ips=$(nslookup "$name" 2>/dev/null | awk '/^Name:/{f=1} f && /^Address/{print $2}')
  first=""; t1=""; n=0
  for ip in $ips; do
    n=$((n + 1))
    read ta _ < /proc/uptime
    answer=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 2 nc -w 1 "$ip" "$port" 2>/dev/null \
      | tail -n 1)
    if [ -n "$answer" ]; then
      echo "addr $ta $ip ok $answer"
      if [ -z "$first" ]; then first="$answer $ip"; read t1 _ < /proc/uptime; fi
    else
      echo "addr $ta $ip fail -"
    fi
  done
  if [ -n "$first" ]; then echo "ok $t0 $t1 $first $n"; else read t1 _ < /proc/uptime; \
    echo "fail $t0 $t1 - - $n"; fi
  sleep "$pause"
done
"""


@dataclass
class ServiceProbe:
    """A probe container on ``node`` that keeps requesting ``service`` until stopped.

    By default it resolves ``tasks.<service>`` (every task's address, no IPVS needed);
    ``via_vip=True`` resolves the service name itself, i.e. goes through its virtual IP.
    """

    node: Node
    network: str
    service: str
    image: str
    run_id: str
    pause_s: float = 0.05
    port: int = 8080
    via_vip: bool = False
    container_id: str | None = None
    attempts: list[AddressProbe] = field(default_factory=list)
    """Every request to one address, once stopped."""

    @property
    def dns_name(self) -> str:
        return self.service if self.via_vip else f"tasks.{self.service}"

    def start(self) -> ServiceProbe:
        self.container_id = self.node.engine().run(
            self.image,
            ["sh", "-c", SCRIPT, "probe", self.dns_name, str(self.port), str(self.pause_s)],
            name=f"probe-{self.service}{'-vip' if self.via_vip else ''}",
            network=self.network,
            labels=labels.for_run(self.run_id, "probe"),
        )
        return self

    def _started(self) -> str:
        assert self.container_id is not None, "probe not started"
        return self.container_id

    def output(self) -> str:
        return self.node.engine().logs(self._started(), stderr=False)

    def results(self) -> list[Probe]:
        """Every probe round so far, parsed from the container's output."""
        return parse(self.output())

    def address_results(self) -> list[AddressProbe]:
        """Every request to one task address so far (a round sends one per address)."""
        return parse_addresses(self.output())

    def stop(self) -> list[Probe]:
        """Stop probing and remove the container; return every probe round (the per-address
        requests stay readable through ``attempts``)."""
        engine, container = self.node.engine(), self._started()
        engine.exec(container, ["touch", "/tmp/stop"])
        engine.wait(container, timeout_s=10)
        out = self.output()
        engine.remove_container(container)
        self.attempts = parse_addresses(out)
        return parse(out)


def parse_addresses(output: str) -> list[AddressProbe]:
    """Lines `addr T IP ok|fail ANSWER` -> AddressProbe(t, address, ok, answer)."""
    attempts = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[0] != "addr" or parts[3] not in ("ok", "fail"):
            continue
        ok = parts[3] == "ok"
        attempts.append(AddressProbe(float(parts[1]), parts[2], ok, parts[4] if ok else None))
    return attempts


def parse(output: str) -> list[Probe]:
    """Round lines `ok|fail T0 T1 ANSWER IP N` -> Probe(t=T0, ok, latency_ms, answer): T1 is
    when the first address answered (the latency a client that stops there would see)."""
    probes = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] not in ("ok", "fail"):
            continue
        t0, t1 = float(parts[1]), float(parts[2])
        ok = parts[0] == "ok"
        probes.append(
            Probe(
                t=t0,
                ok=ok,
                latency_ms=(t1 - t0) * 1000 if ok else None,
                answer=parts[3] if ok else None,
            )
        )
    return probes
