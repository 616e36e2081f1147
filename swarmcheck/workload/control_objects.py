"""The two swarm objects the consistency workloads operate on, as one client sees them.

- ``ServiceRegister``: one service's spec as a compare-and-set register. A read is a GET of the
  service (its ``Version.Index`` and one label); a write is a service update that carries the
  version the client read earlier and sets that label to a unique value. The service runs no
  task (replicas 0, no ports, no networks) and writes change only ``Spec.Labels``, so the
  engine's allocator and updater have as little reason as possible to bump its version
  (they may, and the model tolerates it). The update is sent as one raw request with the
  version the client holds: docker-py's higher-level update reads the service first and would
  send the version it just read, which is not a compare-and-set.
- ``ConfigSet``: configs with unique names as a grow-only set. A write creates one; a read
  lists them (filtered by a label unique to the workload).

Calls go through the low-level API of a docker-py client the caller built (one per thread,
from ``client.engine``) and raise swarmcheck's exceptions (``client.errors``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import docker

from swarmcheck.client.errors import translated
from swarmcheck.steps import step

REGISTER_LABEL = "io.swarmcheck.register"
"""The label that holds the register's value."""
SET_LABEL = "io.swarmcheck.set"
"""The label every config of one set carries (its value: the set's token)."""
CONFIG_DATA = b"."


@dataclass(frozen=True)
class RegisterState:
    version: int
    value: str | None


@dataclass(frozen=True)
class ServiceRegister:
    """A service used as a register: its ID and the spec every write sends (labels aside)."""

    service_id: str
    spec: dict[str, Any]

    @classmethod
    def create(
        cls, client: docker.DockerClient, node: str, name: str, image: str, initial: str
    ) -> ServiceRegister:
        """Create the service (no task, the register label set to ``initial``)."""
        with step(f"create the register service {name} (via {node})"), translated(node, swarm=True):
            service = client.services.create(
                image,
                name=name,
                mode=docker.types.ServiceMode("replicated", replicas=0),
                labels={REGISTER_LABEL: initial},
            )
            spec = client.api.inspect_service(service.id)["Spec"]
        return cls(str(service.id), spec)

    def read(self, api: docker.APIClient, node: str) -> RegisterState:
        """GET the service: its version and the register's value (None: no label)."""
        with translated(node, swarm=True):
            attrs = api.inspect_service(self.service_id)
        labels = attrs.get("Spec", {}).get("Labels") or {}
        return RegisterState(int(attrs["Version"]["Index"]), labels.get(REGISTER_LABEL))

    def cas(self, api: docker.APIClient, node: str, version: int, value: str) -> None:
        """Update the service at ``version``, setting the register to ``value``."""
        spec = copy.deepcopy(self.spec)
        spec["Labels"] = {**(spec.get("Labels") or {}), REGISTER_LABEL: value}
        with translated(node, swarm=True):
            response = api._post_json(
                api._url("/services/{0}/update", self.service_id),
                data=spec,
                params={"version": version},
            )
            api._raise_for_status(response)


@dataclass(frozen=True)
class ConfigSet:
    """Configs labelled with one token: names are the set's elements."""

    token: str

    def create(self, api: docker.APIClient, node: str, name: str) -> None:
        with translated(node, swarm=True):
            api.create_config(name, CONFIG_DATA, labels={SET_LABEL: self.token})

    def list(self, api: docker.APIClient, node: str) -> list[str]:
        with translated(node, swarm=True):
            found = api.configs(filters={"label": f"{SET_LABEL}={self.token}"})
        return sorted(str(c["Spec"]["Name"]) for c in found)
