"""Secrets, configs and swarm networks through one manager's engine: create, inspect, list,
update, remove, with the Engine API's JSON in and out and swarmcheck's errors only.

Reached through a ``SwarmClient`` (``client.secrets``, ``client.configs``,
``client.networks``); a reference is whatever Swarm resolves: an ID, a name or an ID prefix.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Mapping
from typing import Any

import docker

from swarmcheck.client.facade import Facade
from swarmcheck.steps import step


class SwarmObjects(Facade):
    """The secrets or the configs (``kind``) of the swarm, through one engine."""

    swarm_calls = True

    def __init__(self, node: str, client: docker.DockerClient, kind: str) -> None:
        if kind not in ("secret", "config"):
            raise ValueError(f"kind must be secret or config, got {kind!r}")
        super().__init__(node, client)
        self.kind = kind

    def create(
        self,
        name: str,
        data: bytes,
        labels: Mapping[str, str] | None = None,
        *,
        templated: bool = False,
    ) -> str:
        """A new secret or config; its ID. ``templated``: rendered per task with Go templates."""
        body: dict[str, Any] = {
            "Name": name,
            "Data": base64.b64encode(data).decode(),
            "Labels": dict(labels) if labels is not None else None,
        }
        if templated:
            body["Templating"] = {"Name": "golang"}
        with self._calls() as api:
            response = api._post_json(api._url(f"/{self.kind}s/create"), data=body)
            return str(api._result(response, json=True)["ID"])

    def inspect(self, ref: str) -> dict[str, Any]:
        """`docker secret|config inspect`: ID, Version, Spec (a config's Data too)."""
        with self._calls() as api:
            found = api.inspect_secret(ref) if self.kind == "secret" else api.inspect_config(ref)
        return dict(found)

    def list(self, label: str | None = None) -> list[dict[str, Any]]:
        """Every secret or config (with label filter ``label``: ``key`` or ``key=value``)."""
        filters = {"label": label} if label else None
        with self._calls() as api:
            found = api.secrets(filters) if self.kind == "secret" else api.configs(filters)
        return [dict(o) for o in found]

    def names(self) -> set[str]:
        return {str(o["Spec"]["Name"]) for o in self.list()}

    def remove(self, ref: str) -> None:
        with step(f"remove {self.kind} {ref} (via {self.node})"), self._calls() as api:
            if self.kind == "secret":
                api.remove_secret(ref)
            else:
                api.remove_config(ref)

    def update(self, ref: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Read the spec, let ``change`` edit it, send it back at the version read (the only
        update the API offers; Swarm allows label changes only)."""
        attrs = self.inspect(ref)
        spec = copy.deepcopy(attrs["Spec"])
        change(spec)
        with step(f"update {self.kind} {ref} (via {self.node})"), self._calls() as api:
            response = api._post_json(
                api._url(f"/{self.kind}s/{{0}}/update", ref),
                data=spec,
                params={"version": attrs["Version"]["Index"]},
            )
            api._raise_for_status(response)


class SwarmNetworks(Facade):
    """The swarm's networks, through one manager's engine."""

    swarm_calls = True

    def create(
        self,
        name: str,
        *,
        attachable: bool | None = True,
        ingress: bool = False,
        subnet: str = "",
        driver: str = "overlay",
    ) -> str:
        """An overlay network (attachable by default, so standalone probe containers can join
        it; None: the engine's default), or the swarm's ingress network with ``ingress``, with
        one given ``subnet`` or the address pool's next; its ID."""
        ipam = {"Config": [{"Subnet": subnet}]} if subnet else None
        what = "ingress" if ingress else driver
        with step(f"create {what} network {name} (via {self.node})"), self._calls() as api:
            made = api.create_network(
                name, driver=driver, attachable=attachable, ingress=ingress, ipam=ipam
            )
        return str(made["Id"])

    def inspect(self, ref: str) -> dict[str, Any]:
        with self._calls() as api:
            return dict(api.inspect_network(ref))

    def list(self, *, swarm_scope: bool = True) -> list[dict[str, Any]]:
        """The networks the managers know (only swarm-scoped ones unless told otherwise)."""
        with self._calls() as api:
            found = api.networks(filters={"scope": "swarm"} if swarm_scope else None)
        return [dict(n) for n in found]

    def remove(self, ref: str) -> None:
        with step(f"remove network {ref} (via {self.node})"), self._calls() as api:
            api.remove_network(ref)
