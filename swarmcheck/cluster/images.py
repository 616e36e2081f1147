"""The workload image names and the node entrypoint, where workload/ reads them (the images
are built in ``machine.images``; workload/ moves onto the public API in a later step)."""

from __future__ import annotations

from swarmcheck.machine.images import WORKLOAD_REPO, node_entrypoint

__all__ = ["WORKLOAD_REPO", "node_entrypoint"]
