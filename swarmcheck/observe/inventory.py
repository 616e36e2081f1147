"""What the swarm holds, read once from the leader (``checkers.inventory`` compares two)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from swarmcheck.checkers.inventory import Inventory
from swarmcheck.cluster.interface import Swarm
from swarmcheck.errors import EngineAPIError, PromiseTimeout
from swarmcheck.timing import wait_until


def inventory(cluster: Swarm, timeout_s: float = 30.0) -> Inventory:
    """Services (with a digest of their spec), secrets, configs and swarm networks."""

    def read() -> Inventory:
        lead = cluster.leader_client()
        return Inventory(
            services={s["Spec"]["Name"]: _task_digest(s) for s in lead.raw_services()},
            secrets=frozenset(lead.secrets.names()),
            configs=frozenset(lead.configs.names()),
            networks=frozenset(str(n["Name"]) for n in lead.networks.list()),
        )

    return wait_until(
        read,
        what="the swarm's inventory from the leader",
        timeout_s=timeout_s,
        interval_s=0.5,
        transient=(EngineAPIError,),  # no leader yet, or it is busy: ask again
        timeout_error=PromiseTimeout,  # a leader answers list calls (raft-single-leader)
    )


def _task_digest(attrs: dict[str, Any]) -> str:
    """What a service runs (image, command, env, networks...), not how many: chaos tests
    scale on purpose, and a scale is not a loss."""
    template = attrs["Spec"]["TaskTemplate"]
    container = template.get("ContainerSpec", {})
    image = str(container.get("Image", "")).split("@")[0]
    # Only what the user specified: SDK updates (scale) fill in defaults elsewhere.
    what = {k: container.get(k) for k in ("Image", "Command", "Args", "Env", "Labels", "Mounts")}
    what["Networks"] = sorted(n.get("Target", "") for n in template.get("Networks") or [])
    body = json.dumps(what, sort_keys=True, default=str).encode()
    return f"{image}#{hashlib.sha256(body).hexdigest()[:12]}"
