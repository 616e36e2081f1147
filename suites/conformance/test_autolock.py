"""Autolock: a restarted manager stays locked until unlocked with the current key, every
manager keeps its keys encrypted at rest, workers never lock, the key rotates, autolock turns
off again.

Everything runs on the shared 3-manager + 1-worker swarm. Only followers and the worker are
restarted (restarting the leader costs a 10-20 s election); autolock is switched off again and
every manager's key left plain before the next test (``autolocked``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from swarmcheck.api import (
    UNLOCK_KEY_PREFIX,
    Autolock,
    ContainerNode,
    Recorder,
    Stopwatch,
    Swarm,
    autolocked,
    cert_ou,
    join_swarm,
    leave_swarm,
    local_state,
    pem_header,
    process,
    promise_timeout,
    refused,
    restart_node,
    restore_membership,
    set_autolock,
    tls_key,
    tls_key_sealed,
    unlock,
    unlock_key,
    update_swarm_spec,
    wait_keys_sealed,
    wait_until,
)

LOCK_DOC = "https://docs.docker.com/engine/swarm/swarm_manager_locking/"
NEEDS_UNLOCK = "Swarm is encrypted and needs to be unlocked before it can be used"
LEAVE_LOCKED = "Swarm is encrypted and locked. Please unlock it first"
WRONG_KEY = "swarm could not be unlocked: invalid key provided"
NOT_LOCKED = "swarm is not locked"
# moby's tests wait up to 30 s for a manager's key file to be (de|re)encrypted after a change.
KEY_FILE_BUDGET_S = 30.0
# The locked state is what the engine comes up in: moby checks it right after the restart.
LOCKED_AFTER_RESTART_S = 5.0

pytestmark = pytest.mark.swarm(workers=1)


@pytest.fixture
def autolock(swarm_cluster: Swarm) -> Iterator[Autolock]:
    """Autolock on for the test (through the leader); off again, every manager unlocked."""
    with autolocked(swarm_cluster) as lock:
        wait_keys_sealed(
            swarm_cluster.managers,
            sealed=True,
            timeout_s=KEY_FILE_BUDGET_S,
        )
        yield lock


def _follower(swarm_cluster: Swarm) -> ContainerNode:
    leader = swarm_cluster.leader()
    return next(n for n in swarm_cluster.managers if n.name != leader.name)


def _restart_expect(node: ContainerNode, state: str) -> None:
    """Restart the node's engine and expect ``state`` (locked / active) as it comes back."""
    restart_node(node)
    wait_until(
        lambda: True if local_state(node) == state else None,
        what=f"{node.name} to come back {state} after a restart",
        timeout_s=LOCKED_AFTER_RESTART_S,
        timeout_error=promise_timeout,
    )


def _wrong_key(key: str) -> str:
    """A well-formed unlock key that differs from ``key`` in its first payload character (the
    last one can differ in unused base64 bits only, which decode to the same key)."""
    body = key.removeprefix(UNLOCK_KEY_PREFIX)
    return UNLOCK_KEY_PREFIX + ("B" if body[0] == "A" else "A") + body[1:]


def _unlocked_member(swarm_cluster: Swarm, node: ContainerNode) -> None:
    """``node`` is an active manager again: its engine lists the whole swarm."""
    info = swarm_cluster.client(node).info()
    assert info["LocalNodeState"] == "active" and info["ControlAvailable"] is True, info
    swarm_cluster.wait_healthy()
    assert len(swarm_cluster.client(node).nodes()) == swarm_cluster.spec.size


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes", "containers"))
@pytest.mark.swarmcheck(
    id="SC-LOCK-001",
    area="autolock",
    doc=f"{LOCK_DOC}#unlock-a-swarm",
    title="with autolock a restarted manager comes back locked; only its key unlocks it",
    promise=(
        "With autolock on, a manager whose engine restarts MUST come back locked, refuse "
        'control requests ("Swarm is encrypted and needs to be unlocked") and a plain leave, '
        'refuse a wrong key (401 "invalid key provided") staying locked, and become an active '
        'manager again with the unlock key; an unlocked node MUST answer "swarm is not locked".'
    ),
    rows=("lock-autolock-restart",),
    needs=(),
    effects=("settings", "stops"),
)
def test_restarted_manager_is_locked(
    swarm_cluster: Swarm, autolock: Autolock, swarm_figure: Recorder
) -> None:
    assert autolock.key.startswith(UNLOCK_KEY_PREFIX), autolock.key
    node = _follower(swarm_cluster)
    refusal = refused(lambda: unlock(node, autolock.key), "unlocking an unlocked node")
    assert (refusal.status_code, refusal.explanation) == (409, NOT_LOCKED), refusal

    _restart_expect(node, "locked")
    engine = swarm_cluster.client(node)
    refusal = refused(engine.services, "a service list on a locked manager")
    assert refusal.status_code == 503 and NEEDS_UNLOCK in refusal.explanation, refusal
    refusal = refused(engine.leave, "a plain leave of a locked manager")
    assert refusal.status_code == 503 and LEAVE_LOCKED in refusal.explanation, refusal
    refusal = refused(lambda: unlock(node, _wrong_key(autolock.key)), "a wrong unlock key")
    assert (refusal.status_code, refusal.explanation) == (401, WRONG_KEY), refusal
    assert local_state(node) == "locked", "a wrong key changed the locked state"

    clock = Stopwatch()
    unlock(node, autolock.key)
    _unlocked_member(swarm_cluster, node)
    swarm_figure("unlock_to_whole_swarm_s", clock())


@pytest.mark.swarm(workers=1, capabilities=("containers",))
@pytest.mark.swarmcheck(
    id="SC-LOCK-002",
    area="autolock",
    doc=f"{LOCK_DOC}#enable-or-disable-autolock-on-an-existing-swarm",
    title="autolock set through any manager reaches every manager: keys encrypted at rest, "
    "one unlock key",
    promise=(
        "Turning autolock on through any manager MUST encrypt every manager's TLS key at rest "
        "(within 30 s) and give every manager the same unlock key, while workers keep theirs."
    ),
    rows=("lock-cluster-propagation",),
    needs=(),
    effects=("settings",),
)
def test_autolock_reaches_every_manager(swarm_cluster: Swarm) -> None:
    via = _follower(swarm_cluster)
    assert unlock_key(swarm_cluster.client(via)) == "", "an unlock key while autolock is off"
    with autolocked(swarm_cluster, via=via) as lock:
        wait_keys_sealed(
            swarm_cluster.managers,
            sealed=True,
            timeout_s=KEY_FILE_BUDGET_S,
        )
        for manager in swarm_cluster.managers:
            assert unlock_key(swarm_cluster.client(manager)) == lock.key, (
                f"{manager.name} has another key"
            )
        for worker in swarm_cluster.workers:
            assert not tls_key_sealed(worker), f"{worker.name}'s key is encrypted"


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes", "containers"))
@pytest.mark.swarmcheck(
    id="SC-LOCK-003",
    area="autolock",
    doc=LOCK_DOC,
    title="workers never lock: a restarted worker comes back active without a key",
    promise=(
        "Autolock MUST lock managers only: a worker MUST keep its TLS key unencrypted and come "
        "back active, with no unlock, after its engine restarts."
    ),
    rows=("lock-roles",),
    needs=(),
    effects=("settings", "stops"),
)
def test_workers_never_lock(
    swarm_cluster: Swarm, autolock: Autolock, worker: ContainerNode
) -> None:
    assert not tls_key_sealed(worker), f"{worker.name}'s TLS key is encrypted"
    _restart_expect(worker, "active")
    swarm_cluster.wait_healthy()


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes", "containers"))
@pytest.mark.swarmcheck(
    id="SC-LOCK-006",
    area="autolock",
    doc=LOCK_DOC,
    title="a promoted worker and a node joined with the manager token lock on their next "
    "restart without an unlock at join; demoted, a node comes back active",
    promise=(
        "With autolock on, a worker promoted to manager and a node joining with the manager "
        "token MUST receive the key without being unlocked and come back locked from their next "
        "restart, and a manager demoted to worker MUST come back active once its certificate "
        "says swarm-worker."
    ),
    rows=("lock-roles",),
    needs=(),
    effects=("settings", "roles", "membership", "stops"),
)
def test_new_managers_lock_demoted_do_not(
    swarm_cluster: Swarm, autolock: Autolock, worker: ContainerNode, swarm_figure: Recorder
) -> None:
    lead = swarm_cluster.leader_client()
    try:
        clock = Stopwatch()
        lead.update_node(worker.node_id, role="manager")
        _role_settled(swarm_cluster, worker, "manager")
        swarm_figure("promoted_s", round(clock(), 1))
        _restart_locks(swarm_cluster, worker, autolock.key)

        clock = Stopwatch()
        lead.update_node(worker.node_id, role="worker")
        _role_settled(swarm_cluster, worker, "worker")
        swarm_figure("demoted_s", round(clock(), 1))
        _restart_expect(worker, "active")
        swarm_cluster.wait_healthy()

        # A node that joins with the manager token: no unlock at join (the key comes over
        # mutual TLS), locked from its next restart.
        leave_swarm(swarm_cluster, worker)
        join_swarm(swarm_cluster, worker, "manager")
        swarm_cluster.rejoined(worker)
        info = swarm_cluster.client(worker).info()
        assert info["LocalNodeState"] == "active" and info["ControlAvailable"], info
        _role_settled(swarm_cluster, worker, "manager")
        _restart_locks(swarm_cluster, worker, autolock.key)
    finally:
        if local_state(worker) == "locked":
            unlock(worker, autolock.key)
        restore_membership(swarm_cluster, worker)


def _role_settled(
    swarm_cluster: Swarm, node: ContainerNode, role: str, sealed: bool = True
) -> None:
    """``node`` holds ``role`` for good: control plane on (off), its certificate says so and,
    for a manager, its TLS key is encrypted on disk under autolock (``sealed``; moby: 30 s),
    plain without."""
    swarm_cluster.wait_control(node, available=role == "manager", timeout_s=KEY_FILE_BUDGET_S)
    wait_until(
        lambda: True if cert_ou(node) == f"swarm-{role}" else None,
        what=f"{node.name}'s certificate to say swarm-{role}",
        timeout_s=KEY_FILE_BUDGET_S,
        timeout_error=promise_timeout,
    )
    if role == "manager":
        wait_keys_sealed(
            [node],
            sealed=sealed,
            timeout_s=KEY_FILE_BUDGET_S,
        )


def _restart_locks(swarm_cluster: Swarm, node: ContainerNode, key: str) -> None:
    """A manager under autolock: locked after a restart, an active manager with the key."""
    _restart_expect(node, "locked")
    unlock(node, key)
    _unlocked_member(swarm_cluster, node)


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes", "containers"))
@pytest.mark.swarmcheck(
    id="SC-LOCK-007",
    area="autolock",
    doc=f"{LOCK_DOC}#enable-or-disable-autolock-on-an-existing-swarm",
    title="autolock reaches a manager that was down when it changed; off again, a manager down "
    "meanwhile needs the old key once, and a manager joining afterwards never locks",
    promise=(
        "A manager that was down when autolock was turned on MUST start unlocked and lock from "
        "the restart after it caught up; once autolock is off, the managers MUST restart "
        "active, one that was down meanwhile MUST come back locked and accept the old key, and "
        "a manager that joins afterwards MUST never lock."
    ),
    rows=("lock-cluster-propagation",),
    needs=(),
    effects=("settings", "membership", "stops"),
)
def test_autolock_changes_reach_managers_that_were_down(
    swarm_cluster: Swarm, worker: ContainerNode
) -> None:
    first, second = (m for m in swarm_cluster.managers if m.name != swarm_cluster.leader().name)
    leader = swarm_cluster.leader()
    first_down = process.stop_node(swarm_cluster, first, grace_s=2).start()
    try:
        # On while `first` is down: it starts with its key still plain, then catches up and
        # locks from its next restart.
        with autolocked(swarm_cluster) as lock:
            first_down.stop()
            assert local_state(first) == "active", "a manager down during the change"
            wait_keys_sealed(
                [first],
                sealed=True,
                timeout_s=KEY_FILE_BUDGET_S,
            )
            _restart_locks(swarm_cluster, first, lock.key)

            # Off while `second` is down: it comes back locked and needs the old key, once;
            # the managers that took the change restart active (restarted only once `second`
            # is back: two managers down would lose the quorum).
            with process.stop_node(swarm_cluster, second, grace_s=2):
                set_autolock(swarm_cluster.client(leader), False)
                up = [m for m in swarm_cluster.managers if m.name != second.name]
                wait_keys_sealed(
                    up,
                    sealed=False,
                    timeout_s=KEY_FILE_BUDGET_S,
                )
            _wait_state(second, "locked")
            unlock(second, lock.key)
            _unlocked_member(swarm_cluster, second)
            _restart_expect(first, "active")
            swarm_cluster.wait_healthy()
            wait_keys_sealed([second], False, KEY_FILE_BUDGET_S)
            _restart_expect(second, "active")
            swarm_cluster.wait_healthy()

            # A manager that joins after autolock is off never locks.
            leave_swarm(swarm_cluster, worker)
            join_swarm(swarm_cluster, worker, "manager")
            swarm_cluster.rejoined(worker)
            _role_settled(swarm_cluster, worker, "manager", sealed=False)
            _restart_expect(worker, "active")
            swarm_cluster.wait_healthy()
    finally:
        first_down.stop()
        restore_membership(swarm_cluster, worker)


def _wait_state(node: ContainerNode, state: str) -> None:
    """The node's engine, just started, reports ``state``."""
    node.wait_engine()
    wait_until(
        lambda: True if local_state(node) == state else None,
        what=f"{node.name} to come back {state}",
        timeout_s=LOCKED_AFTER_RESTART_S,
        timeout_error=promise_timeout,
    )


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes", "containers"))
@pytest.mark.swarmcheck(
    id="SC-LOCK-004",
    area="autolock",
    doc=f"{LOCK_DOC}#rotate-the-unlock-key",
    title="a rotated unlock key: the old key no longer unlocks a restarted manager, the new one "
    "does",
    promise=(
        "`docker swarm unlock-key --rotate` MUST produce a new key, re-encrypt every manager's "
        'keys with it, and then a restarted manager MUST refuse the old key ("invalid key '
        'provided") and accept the new one.'
    ),
    rows=("lock-rotate-key",),
    needs=(),
    effects=("settings", "tokens", "stops"),
)
def test_rotated_unlock_key(swarm_cluster: Swarm, autolock: Autolock) -> None:
    leader = swarm_cluster.leader()
    old_key = autolock.key
    before = {n.name: pem_header(tls_key(n), "kek-version") for n in swarm_cluster.managers}
    update_swarm_spec(
        swarm_cluster.client(leader), rotate_unlock_key=True, title="rotate the unlock key"
    )
    new_key = unlock_key(swarm_cluster.client(leader))
    autolock.keys.append(new_key)
    assert new_key != old_key and new_key.startswith(UNLOCK_KEY_PREFIX), new_key

    # docs: keep the old key for a few minutes, a manager may still need it until it has
    # re-encrypted its keys; wait for that (moby waits for "successfully rotated KEK").
    def reencrypted() -> bool | None:
        now = {n.name: pem_header(tls_key(n), "kek-version") for n in swarm_cluster.managers}
        return True if all(now[name] != before[name] for name in now) else None

    wait_until(
        reencrypted,
        what="every manager to re-encrypt its TLS key with the new unlock key",
        timeout_s=KEY_FILE_BUDGET_S,
        timeout_error=promise_timeout,
    )
    node = _follower(swarm_cluster)
    _restart_expect(node, "locked")
    refusal = refused(lambda: unlock(node, old_key), "the old unlock key")
    assert (refusal.status_code, refusal.explanation) == (401, WRONG_KEY), refusal
    assert local_state(node) == "locked"
    unlock(node, new_key)
    _unlocked_member(swarm_cluster, node)


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes", "containers"))
@pytest.mark.swarmcheck(
    id="SC-LOCK-005",
    area="autolock",
    doc=f"{LOCK_DOC}#enable-or-disable-autolock-on-an-existing-swarm",
    title="autolock off: keys decrypted on every manager, a restarted manager comes back "
    "active; on and off again works",
    promise=(
        "Turning autolock off MUST decrypt every manager's keys at rest (within 30 s) and drop "
        "the unlock key, after which a restarted manager MUST come back active without a key; "
        "autolock MUST turn on and off again."
    ),
    rows=("lock-toggle",),
    needs=(),
    effects=("settings", "stops"),
)
def test_autolock_off(swarm_cluster: Swarm, autolock: Autolock) -> None:
    leader = swarm_cluster.leader()
    for round_ in range(2):
        if round_:  # on again, then off again
            set_autolock(swarm_cluster.client(leader), True)
            autolock.keys.append(unlock_key(swarm_cluster.client(leader)))
            wait_keys_sealed(
                swarm_cluster.managers,
                sealed=True,
                timeout_s=KEY_FILE_BUDGET_S,
            )
        set_autolock(swarm_cluster.client(leader), False)
        assert unlock_key(swarm_cluster.client(leader)) == "", "an unlock key while autolock is off"
        wait_keys_sealed(
            swarm_cluster.managers,
            sealed=False,
            timeout_s=KEY_FILE_BUDGET_S,
        )
    node = _follower(swarm_cluster)
    _restart_expect(node, "active")
    _unlocked_member(swarm_cluster, node)
