"""An availability probe that uses a service the way a client would, from inside the swarm.

The ingress routing mesh and service VIPs need IPVS, which some kernels lack. This probe
needs neither: it runs in a container on an attachable overlay network, resolves the
service's DNS-RR task names (`tasks.<service>`) before every request and moves to the next
task address when one refuses, as a client-side load balancer would. Times come from
/proc/uptime (the kernel's boot clock, shared with the host), so they line up with fault
windows the host records with ``boot_clock()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from docker.models.containers import Container

from swarmcheck import labels
from swarmcheck.checkers.availability import Probe
from swarmcheck.client.errors import translated
from swarmcheck.cluster.node import Node

SCRIPT = r"""
name="$1"; port="$2"; pause="$3"
while [ ! -e /tmp/stop ]; do
  read t0 _ < /proc/uptime
  ips=$(nslookup "$name" 2>/dev/null | awk '/^Name:/{f=1} f && /^Address/{print $2}')
  answer=""
  for ip in $ips; do
    answer=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 2 nc -w 1 "$ip" "$port" 2>/dev/null \
      | tail -n 1)
    [ -n "$answer" ] && break
  done
  read t1 _ < /proc/uptime
  if [ -n "$answer" ]; then echo "ok $t0 $t1 $answer $ip"; else echo "fail $t0 $t1 - -"; fi
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
    container: Container | None = None

    @property
    def dns_name(self) -> str:
        return self.service if self.via_vip else f"tasks.{self.service}"

    def start(self) -> ServiceProbe:
        with translated(self.node.name):
            self.container = self.node.client.containers.run(
                self.image,
                ["sh", "-c", SCRIPT, "probe", self.dns_name, str(self.port), str(self.pause_s)],
                name=f"probe-{self.service}{'-vip' if self.via_vip else ''}",
                network=self.network,
                detach=True,
                labels=labels.for_run(self.run_id, "probe"),
            )
        return self

    def results(self) -> list[Probe]:
        """Every probe so far, parsed from the container's output."""
        assert self.container is not None, "probe not started"
        with translated(self.node.name):
            out = self.container.logs(stdout=True, stderr=False).decode(errors="replace")
        return parse(out)

    def stop(self) -> list[Probe]:
        """Stop probing and remove the container; return every probe."""
        assert self.container is not None, "probe not started"
        with translated(self.node.name):
            self.container.exec_run(["touch", "/tmp/stop"])
            self.container.wait(timeout=10)
            probes = self.results()
            self.container.remove(force=True)
        return probes


def parse(output: str) -> list[Probe]:
    """Lines `ok|fail T0 T1 ANSWER IP` -> Probe(t=T0, ok, latency_ms, answer)."""
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
