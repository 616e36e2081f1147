"""swarmcheck: conformance and chaos testing for Docker Swarm on a real dind cluster."""

from __future__ import annotations

from swarmcheck.errors import SwarmcheckError

__version__ = "0.1.0"
__all__ = ["SwarmcheckError", "__version__"]
