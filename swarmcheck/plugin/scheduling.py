"""The xdist scheduler that keeps tests of one cluster shape together (see plugin/xdist.py).

Imported only when pytest-xdist makes a scheduler, so swarmcheck does not need xdist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from xdist.scheduler import LoadScheduling, LoadScopeScheduling

from swarmcheck.plugin.chunks import read_groups


class _ShapeChunks(LoadScopeScheduling):  # type: ignore[misc]
    """xdist's scope scheduling with the workers' chunks as scopes (largest first); a test
    outside every chunk is a scope of its own."""

    def __init__(self, config: pytest.Config, log: Any, groups: dict[str, str]) -> None:
        super().__init__(config, log)
        self.groups = groups

    def _split_scope(self, nodeid: str) -> str:
        return self.groups.get(nodeid, nodeid)


class ShapeScheduling:
    """Chooses how to schedule once the first worker's collection arrives: by shape chunks
    when that worker found swarm tests, else exactly as xdist's ``load``."""

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
            groups = read_groups(self.testrunuid, str(node.workerinput["workerid"]))
            self.inner = (
                _ShapeChunks(self.config, self.log, groups)
                if groups
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
