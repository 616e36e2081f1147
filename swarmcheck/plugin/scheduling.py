"""The xdist scheduler that keeps checks of one cluster shape together and makes the workers
end together (see plugin/xdist.py and chunks.plan_units).

Imported only when pytest-xdist makes a scheduler, so swarmcheck does not need xdist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from xdist.scheduler import LoadScheduling
from xdist.workermanage import parse_tx_spec_config

from swarmcheck.plugin.chunks import TOGETHER, Unit, pick_unit, plan_units, read_groups
from swarmcheck.plugin.durations import read_durations


class UnitScheduling:
    """Units of work (checks of one shape, about ``UNIT_S`` seconds each, heaviest first),
    handed out one at a time: a worker gets its next unit when it has one check left (it
    needs to know its next check before it starts the last one), a unit of the shape its
    cluster has when there is one, so bring-ups stay few while every worker keeps busy to
    the end. A worker that crashes gives its unfinished checks back, as a unit."""

    def __init__(self, config: pytest.Config, log: Any, shapes: dict[str, str]) -> None:
        self.config = config
        self.log = log
        self.shapes = shapes
        self.numnodes = len(parse_tx_spec_config(config))
        self.collections: dict[Any, list[str]] = {}
        self.pending: dict[Any, list[int]] = {}
        self.held: dict[Any, str | None] = {}
        self.units: list[Unit] = []
        self.collection: list[str] | None = None

    @property
    def nodes(self) -> list[Any]:
        return list(self.pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.collections) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        return self.collection_is_completed and not self.units and not any(self.pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self.units) or any(self.pending.values())

    def add_node(self, node: Any) -> None:
        self.pending[node] = []
        self.held[node] = None

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        self.collections[node] = list(collection)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        self.pending[node].remove(item_index)
        self._top_up(node)

    def mark_test_pending(self, item: str) -> None:
        raise NotImplementedError

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        raise NotImplementedError

    def remove_node(self, node: Any) -> str | None:
        pending = self.pending.pop(node)
        self.held.pop(node, None)
        if not pending:
            return None
        assert self.collection is not None
        crashed = self.collection[pending.pop(0)]
        if pending:
            left = tuple(self.collection[i] for i in pending)
            shape = self.shapes.get(left[0], "").partition(TOGETHER)[0] or None
            self.units.insert(0, Unit(shape, left, 0.0))
            for other in self.pending:
                self._top_up(other)
        return crashed

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:
            for node in self.nodes:
                self._top_up(node)
            return
        collections = list(self.collections.values())
        if any(c != collections[0] for c in collections[1:]):
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = collections[0]
        if not self.collection:
            return
        self.units = plan_units(
            [(nodeid, self.shapes.get(nodeid)) for nodeid in self.collection],
            read_durations(),
            workers=len(self.pending),
        )
        self.log(f"{len(self.units)} units of work for {len(self.pending)} workers")
        for node in self.nodes[len(self.units) :]:  # more workers than work
            node.shutdown()
        for node in self.nodes:
            self._top_up(node)

    def _top_up(self, node: Any) -> None:
        """Units until the worker has two checks or more to go (or none is left: then it
        may stop after what it has)."""
        while not node.shutting_down and len(self.pending[node]) <= 1:
            if not self.units:
                node.shutdown()
                return
            others = [shape for other, shape in self.held.items() if other is not node]
            unit = self.units.pop(pick_unit(self.units, self.held[node], others))
            if unit.shape is not None:
                self.held[node] = unit.shape
            indices = [self.collections[node].index(nodeid) for nodeid in unit.nodeids]
            self.pending[node].extend(indices)
            node.send_runtest_some(indices)


class ShapeScheduling:
    """Chooses how to schedule once the first worker's collection arrives: by units of one
    shape when that worker found swarm tests, else exactly as xdist's ``load``."""

    def __init__(self, config: pytest.Config, log: Any) -> None:
        self.config = config
        self.log = log
        self.inner: Any = None
        self.testrunuid = ""
        self._early: list[Any] = []

    @property
    def nodes(self) -> list[Any]:
        return list(self.inner.nodes) if self.inner is not None else list(self._early)

    @property
    def collection_is_completed(self) -> bool:
        return bool(self.inner.collection_is_completed) if self.inner is not None else False

    @property
    def tests_finished(self) -> bool:
        return bool(self.inner.tests_finished) if self.inner is not None else False

    @property
    def has_pending(self) -> bool:
        return bool(self.inner.has_pending) if self.inner is not None else True

    def add_node(self, node: Any) -> None:
        if self.inner is not None:
            self.inner.add_node(node)
        else:
            self._early.append(node)

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        if self.inner is None:
            self.testrunuid = str(node.workerinput["testrunuid"])
            shapes = read_groups(self.testrunuid, str(node.workerinput["workerid"]))
            self.inner = (
                UnitScheduling(self.config, self.log, shapes)
                if shapes
                else LoadScheduling(self.config, self.log)
            )
            for early in self._early:
                self.inner.add_node(early)
            self._early.clear()
        self.inner.add_node_collection(node, collection)

    def remove_node(self, node: Any) -> str | None:
        if self.inner is not None:
            return self.inner.remove_node(node)  # type: ignore[no-any-return]
        self._early.remove(node)
        return None

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        self.inner.mark_test_complete(node, item_index, duration)

    def mark_test_pending(self, item: str) -> None:
        self.inner.mark_test_pending(item)

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        self.inner.remove_pending_tests_from_node(node, indices)

    def schedule(self) -> None:
        self.inner.schedule()
