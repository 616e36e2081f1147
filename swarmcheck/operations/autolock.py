"""Autolock (catalog area ``autolock``): switching it on and off, the unlock key, unlocking a
locked manager, and whether a node's TLS key is encrypted at rest (what autolock promises on
managers). ``autolocked`` leaves the swarm as the reset expects it, or marks it dirty."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.interface import ContainerNode, SwarmNode
from swarmcheck.errors import EngineAPIError
from swarmcheck.operations.promises import promise_timeout
from swarmcheck.operations.tokens_pki import (
    NODE_KEY_FILE,
    _read_pem,
    local_state,
    update_swarm_spec,
)
from swarmcheck.steps import step
from swarmcheck.timing import wait_until

UNLOCK_KEY_PREFIX = "SWMKEY-1-"
SEALED_KEY_PEM = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
PLAIN_KEY_PEM = "-----BEGIN PRIVATE KEY-----"


def key_sealed(key_pem: str) -> bool:
    """Whether a stored TLS key is encrypted (autolock) or plain; ValueError if neither."""
    if key_pem.startswith(SEALED_KEY_PEM):
        return True
    if key_pem.startswith(PLAIN_KEY_PEM):
        return False
    raise ValueError(f"not a PEM private key: {key_pem[:40]!r}")


def pem_header(key_pem: str, name: str) -> str | None:
    """A ``Name: value`` header of the PEM block (swarm keeps ``kek-version`` there)."""
    for line in key_pem.splitlines()[1:]:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def _checked_key(key_pem: str) -> str:
    """``key_pem`` if it is a whole PEM private key; ValueError otherwise."""
    key_sealed(key_pem)
    if "-----END " not in key_pem:
        raise ValueError(f"a truncated PEM private key: {key_pem[:40]!r}")
    return key_pem


def tls_key(node: ContainerNode) -> str:
    """The node's TLS key file (PEM, with swarm's headers)."""
    return _read_pem(node, NODE_KEY_FILE, _checked_key)


def tls_key_sealed(node: ContainerNode) -> bool:
    """Whether the node's TLS key is encrypted at rest (what autolock promises on managers)."""
    return key_sealed(tls_key(node))


def set_autolock(client: SwarmClient, enabled: bool) -> None:
    """``docker swarm update --autolock=<enabled>``, keeping the rest of the spec."""

    def lock(spec: dict[str, Any]) -> None:
        spec.setdefault("EncryptionConfig", {})["AutoLockManagers"] = enabled

    update_swarm_spec(client, lock, title=f"set autolock {enabled}")


def unlock_key(client: SwarmClient) -> str:
    """``docker swarm unlock-key``: the current key ("" while autolock is off)."""
    return client.unlock_key()


@dataclass
class Autolock:
    """Autolock switched on for a block; every unlock key handed out, newest last (a check
    that rotates the key appends the new one, so the clean-up can unlock with any)."""

    keys: list[str]

    @property
    def key(self) -> str:
        return self.keys[-1]


def wait_keys_sealed(nodes: Sequence[ContainerNode], sealed: bool, timeout_s: float) -> None:
    """Wait until every node's TLS key on disk is encrypted (``sealed``) or plain (autolock's
    documented effect: a timeout is a ``PromiseTimeout``)."""
    names = ", ".join(n.name for n in nodes)

    def settled() -> bool | None:
        return True if all(tls_key_sealed(n) is sealed for n in nodes) else None

    wait_until(
        settled,
        what=f"the TLS key of {names} to be {'encrypted' if sealed else 'plain'} on disk",
        timeout_s=timeout_s,
        timeout_error=promise_timeout,
    )


def unlock(node: SwarmNode, key: str) -> None:
    """``docker swarm unlock`` on the node's own engine."""
    SwarmClient(node.name, node.client).unlock(key)


def autolock_off(cluster: Cluster, keys: list[str]) -> None:
    """Leave ``cluster`` as the reset expects it: every manager running and unlocked (with
    whichever of ``keys`` works), autolock off, every manager's TLS key plain on disk again
    (so a later restart does not lock), the swarm whole."""
    with step("turn autolock off and unlock every manager"):
        for node in cluster.managers:
            if node.state != "running":
                node.start()
                node.wait_engine()
            for key in reversed(keys):
                if local_state(node) != "locked":
                    break
                try:
                    unlock(node, key)
                except EngineAPIError:
                    continue
        leader = cluster.wait_leader()
        set_autolock(cluster.client(leader), False)
        wait_keys_sealed(cluster.managers, sealed=False, timeout_s=30)
        cluster.wait_healthy()


@contextmanager
def autolocked(cluster: Cluster, via: ContainerNode | None = None) -> Iterator[Autolock]:
    """Autolock on (through ``via``'s engine, by default the leader's) for the block, and off
    again afterwards; a swarm that cannot be brought back is marked dirty (replaced)."""
    client = cluster.client(via or cluster.leader())
    set_autolock(client, True)
    lock = Autolock([unlock_key(client)])
    try:
        yield lock
    finally:
        try:
            autolock_off(cluster, lock.keys)
        except Exception as exc:  # whatever the cause, a swarm left locked is not reused
            cluster.dirty = f"autolock could not be turned off: {str(exc).splitlines()[0]}"
            raise
