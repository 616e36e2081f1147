"""The node image of an engine, where the release suites ask for it (the image is found or
built in ``machine.images``, the engines are named in ``spec``; suites move onto the
public API in a later step)."""

from __future__ import annotations

from swarmcheck.machine.images import engine_image

__all__ = ["engine_image"]
