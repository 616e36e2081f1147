"""Who each manager names as leader, sampled over a window (``checkers.leaders`` judges it)."""

from __future__ import annotations

from swarmcheck.checkers.leaders import LeaderSample
from swarmcheck.cluster.interface import Swarm
from swarmcheck.observe.sampler import Sampler
from swarmcheck.timing import boot_clock


class LeaderSampler(Sampler[LeaderSample]):
    """Asks every manager, every ``interval_s``, whom it sees as leader; each round's samples
    share one time ``t``, so the checker compares views of one moment. Short-timeout clients:
    a frozen or partitioned manager costs a gap, never a hung test."""

    name = "leader-sampler"

    def __init__(self, cluster: Swarm, interval_s: float = 0.5, timeout_s: float = 2.0) -> None:
        super().__init__(interval_s, timeout_s * 3, parallel=len(cluster.managers))
        self.cluster = cluster
        self.timeout_s = timeout_s
        self.names = [m.name for m in cluster.managers]

    def sample(self, t: float) -> list[LeaderSample]:
        def ask(name: str) -> LeaderSample:
            with self.cluster.client(name, self.timeout_s) as client:
                infos = client.nodes()  # unreachable, frozen or without quorum: a gap
            # answered: a frozen manager answers late, from a later moment than its round's
            return LeaderSample.of_view(
                t, name, (i.hostname for i in infos if i.leader), answered=boot_clock()
            )

        return self.ask_each(t, self.names, ask)
