"""The framework's own tests: pytester runs generated test files against the plugin."""

from __future__ import annotations

pytest_plugins = ["pytester"]
