"""--swarm=existing without a swarm: endpoints from URLs and Docker contexts, TLS folders,
what the remote client labels and records, and which checks may run there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from docker.context import ContextAPI

from swarmcheck.client.engine import OWN_TASKS, Created, Permits, RemoteAPIClient
from swarmcheck.cluster.existing import RemoteNode, parse_endpoints, tls_from_dir
from swarmcheck.config import Settings
from swarmcheck.errors import ConfigError, EffectNotAllowed, NotOnExistingSwarm
from swarmcheck.plugin.admission import _skipping_what_an_existing_swarm_cannot_do as skipping


def cert_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "certs"
    folder.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (folder / name).write_text("-")
    return folder


def test_urls_take_the_tls_folder_and_unix_sockets_none(tmp_path: Path) -> None:
    certs = cert_dir(tmp_path)
    tcp, unix = parse_endpoints(
        ["tcp://10.0.0.5:2376", "unix:///run/docker.sock"], str(certs), env={}
    )
    assert tcp.url == "tcp://10.0.0.5:2376" and tcp.tls is not None
    assert tcp.tls.ca_cert == str(certs / "ca.pem")
    assert unix.tls is None
    plain = parse_endpoints(["tcp://10.0.0.5:2375"], None, env={})[0]
    assert plain.tls is None
    from_env = parse_endpoints(
        ["tcp://10.0.0.5:2376"],
        None,
        env={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)},
    )[0]
    assert from_env.tls is not None


def test_bad_endpoints_say_what_to_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"lacks ca\.pem, cert\.pem, key\.pem"):
        tls_from_dir(tmp_path)
    with pytest.raises(ConfigError, match="ssh:// is not supported"):
        parse_endpoints(["ssh://lab1"], env={})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="no Docker context named 'lab9'"):
        parse_endpoints(["lab9"], env={})


def test_a_context_brings_its_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    ContextAPI.create_context("lab1", host="tcp://10.0.0.7:2376")
    endpoint = parse_endpoints(["lab1"], env={})[0]
    assert endpoint.given == "lab1"
    assert endpoint.url.endswith("://10.0.0.7:2376")  # docker-py writes tcp:// as https://


class Recording(RemoteAPIClient):
    """The remote client with the network replaced: it answers creates with an ID."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(base_url="tcp://10.0.0.5:2375", version="1.41", **kwargs)
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        self.sent.append((url, json.loads(kwargs["data"])))
        response = requests.Response()
        response.status_code = 201
        response._content = json.dumps({"ID": f"id{len(self.sent)}"}).encode()
        return response


def test_remote_client_labels_what_it_creates_and_records_every_id() -> None:
    created = Created()
    api = Recording(labels={"io.swarmcheck.run": "r1"}, created=created)
    api._post_json(api._url("/services/create"), data={"Name": "web", "Labels": {"a": "b"}})
    api._post_json(api._url("/services/{0}/update", "id1"), data={"Name": "web"})
    api._post_json(api._url("/secrets/create"), data={"Name": "s", "Labels": {"tier": "db"}})
    api._post_json(api._url("/networks/create"), data={"Name": "n"})
    labels = [body.get("Labels") for _, body in api.sent]
    assert labels == [
        {"a": "b", "io.swarmcheck.run": "r1"},
        {"io.swarmcheck.run": "r1"},
        {"tier": "db"},  # secrets keep exactly their labels (checks compare them)
        {"io.swarmcheck.run": "r1"},
    ]
    assert created.of("services") == ["id1"]
    assert created.of("secrets") == ["id3"]
    assert created.of("networks") == ["id4"]
    created.forget("services", "id1")
    assert created.of("services") == []


def test_tls_verification_uses_the_given_ca_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    api = Recording()
    api.verify = "/lab/ca.pem"
    settings = api.merge_environment_settings("https://10.0.0.5:2376", {}, False, None, None)
    assert settings["verify"] == "/lab/ca.pem"


def test_existing_mode_needs_endpoints_and_endpoints_need_existing_mode() -> None:
    with pytest.raises(ConfigError, match="--swarm=existing needs --swarm-existing"):
        Settings(swarm="existing")
    with pytest.raises(ConfigError, match="add --swarm=existing"):
        Settings(existing=("lab1",))
    assert Settings(swarm="existing", existing=("lab1",)).existing == ("lab1",)


CHECKS = """
import pytest

DOC = "https://docs.docker.com/engine/swarm/"

def marked(check_id, effects=("writes",), **more):
    return pytest.mark.swarmcheck(
        id=check_id, area="services", doc=DOC, title="t", promise="Swarm MUST work.",
        rows=("svc-converge",), effects=effects, **more
    )

@marked("SC-T-001")
def test_plain(request):
    pass

@marked("SC-T-002", effects=("writes", "membership", "stops"))
def test_destructive(request):
    pass

@marked("SC-T-003", effects=("writes", "stops"))
@pytest.mark.swarm(faults=True)
def test_faults(request):
    pass

@marked("SC-T-004", effects=("writes", "stops"))
def test_fresh(swarm_fresh_cluster):
    pass

@marked("SC-T-008", effects=("writes", "stops"))
def test_fresh_by_its_old_name(fresh_cluster):
    pass

@marked("SC-T-005")
@pytest.mark.swarm(capabilities=("containers",))
def test_containers(request):
    pass

@marked("SC-T-006", effects=("writes", "leadership"))
def test_leadership(request):
    pass

@marked("SC-T-007", effects=("writes", "roles", "settings"))
def test_roles(request):
    pass
"""

CONFTEST = """
import pytest
from swarmcheck.plugin.admission import skip_reason
from swarmcheck.plugin.keys import SETTINGS_KEY

def pytest_collection_finish(session):
    settings = session.config.stash[SETTINGS_KEY]
    for item in session.items:
        print(f"REASON {item.name}: {skip_reason(item, settings)}")
"""


def skip_reasons(pytester: pytest.Pytester, *args: str) -> dict[str, str]:
    pytester.makepyfile(test_a=CHECKS)
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest("--collect-only", "-q", "-s", "-p", "no:allure_pytest", *args)
    lines = [line for line in result.outlines if line.startswith("REASON")]
    return dict(line.removeprefix("REASON ").split(": ", 1) for line in lines)


@pytest.mark.parametrize("allow", [False, True])
def test_only_checks_the_user_allowed_run_on_an_existing_swarm(
    pytester: pytest.Pytester, allow: bool
) -> None:
    args = ["--swarm=existing", "--swarm-existing=unix:///nonexistent.sock"]
    reasons = skip_reasons(pytester, *args, *(["--swarm-allow-destructive"] if allow else []))
    assert reasons["test_plain"] == "None"
    assert reasons["test_roles"] == "None"  # the reset puts roles and settings back
    # what an existing swarm cannot offer, even when allowed
    assert "swarm of its own" in reasons["test_fresh"]
    assert "swarm of its own" in reasons["test_fresh_by_its_old_name"]
    assert "Toxiproxy" in reasons["test_faults"]
    assert "node containers" in reasons["test_containers"]
    if allow:
        assert reasons["test_destructive"] == "None"
        assert reasons["test_leadership"] == "None"
    else:
        assert reasons["test_destructive"] == (
            "on an existing swarm: it makes nodes leave, join or be removed; it stops, pauses, "
            "kills or restarts nodes, or cuts their network, so it runs only with "
            "--swarm-allow-destructive"
        )
        assert reasons["test_leadership"] == (
            "on an existing swarm: it moves the leadership, so it runs only with "
            "--swarm-allow-destructive"
        )


def test_a_dind_swarm_runs_every_check(pytester: pytest.Pytester) -> None:
    reasons = skip_reasons(pytester, "--swarm=dind")
    assert set(reasons.values()) == {"None"}


def test_what_an_existing_swarm_cannot_reach_skips_and_everything_else_fails() -> None:
    unreachable = RemoteNode(name="lab9", role="worker", ip="10.0.0.9", node_id="n9")
    says = r"on an existing swarm: needs the engine of worker lab9"
    with pytest.raises(pytest.skip.Exception, match=says), skipping():
        unreachable.engine()  # --swarm-existing gave no endpoint for it
    node = RemoteNode(name="lab1", role="manager", ip="10.0.0.5", node_id="n1")
    with pytest.raises(AttributeError), skipping():  # a check that did not declare containers
        node.container.stop()  # type: ignore[attr-defined]


class Inspecting(Recording):
    """The recording client, whose engine holds a service of another run (lab-web) and task
    containers of each."""

    OBJECTS: ClassVar[dict[str, dict[str, Any]]] = {
        "/services/lab-web": {"ID": "labid", "Spec": {"Labels": {}}},
        "/services/id1": {"ID": "id1", "Spec": {"Labels": {"io.swarmcheck.run": "r1"}}},
        "/containers/t1/json": {"Id": "t1", "Config": {"Labels": {OWN_TASKS: "id1"}}},
        "/containers/t9/json": {"Id": "t9", "Config": {"Labels": {OWN_TASKS: "labid"}}},
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deleted: list[str] = []

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        attrs = self.OBJECTS.get(url.split("/v1.41", 1)[1])
        response.status_code = 200 if attrs else 404
        response._content = json.dumps(attrs or {"message": "not found"}).encode()
        return response

    def _delete(self, url: str, **kwargs: Any) -> requests.Response:
        self._guard("DELETE", url)
        self.deleted.append(url.split("/v1.41", 1)[1])
        response = requests.Response()
        response.status_code = 204
        return response


def test_on_a_swarm_in_use_only_this_runs_objects_can_be_removed() -> None:
    created = Created()
    api = Inspecting(labels={"io.swarmcheck.run": "r1"}, created=created)
    api._post_json(api._url("/services/create"), data={"Name": "web"})  # this run's: id1
    api._delete(api._url("/services/{0}", "id1"))
    api._delete(api._url("/containers/{0}", "t1"))  # a task of this run's service
    api._delete(api._url("/services/{0}", "gone"))  # unknown: the engine answers 404 itself
    with pytest.raises(NotOnExistingSwarm, match="refused to remove service lab-web"):
        api._delete(api._url("/services/{0}", "lab-web"))
    with pytest.raises(NotOnExistingSwarm, match="refused to remove container t9"):
        api._delete(api._url("/containers/{0}", "t9"))
    with pytest.raises(NotOnExistingSwarm, match="refused to update service lab-web"):
        api._guard("POST", api._url("/services/{0}/update", "lab-web"))
    assert api.deleted == ["/services/id1", "/containers/t1", "/services/gone"]


class Swarming(RemoteAPIClient):
    """The remote client over a stand-in engine (its HTTP session answers) that manages a
    swarm where n1 leads and n2 is a manager."""

    OBJECTS: ClassVar[dict[str, dict[str, Any]]] = {
        "/nodes/n1": {"ID": "n1", "Spec": {"Role": "manager"}, "ManagerStatus": {"Leader": True}},
        "/nodes/n2": {"ID": "n2", "Spec": {"Role": "manager"}, "ManagerStatus": {}},
        "/swarm": {"ID": "s", "Spec": {"CAConfig": {"ForceRotate": 0}}},
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(base_url="tcp://10.0.0.5:2375", version="1.41", **kwargs)
        self.sent: list[str] = []

    @staticmethod
    def _answer(status: int, body: object) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        return response

    def get(self, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        attrs = self.OBJECTS.get(url.split("/v1.41", 1)[1])
        return self._answer(200 if attrs else 404, attrs or {"message": "not found"})

    def post(self, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(url.split("/v1.41", 1)[1])
        return self._answer(200, {})


def test_a_swarm_in_use_refuses_what_the_check_may_not_do() -> None:
    permits = Permits()
    permits.allow(frozenset({"reads", "writes", "roles", "settings"}))
    api = Swarming(created=Created(), permits=permits)

    def update_node(node_id: str, role: str) -> None:
        api._post_json(api._url("/nodes/{0}/update", node_id), data={"Role": role})

    update_node("n2", "worker")  # demote a manager that does not lead: roles
    api._post(api._url("/images/create"), data=b"bin/\x00\xf0")  # no effect, not JSON either
    api._post_json(api._url("/swarm/update"), data={"CAConfig": {"ForceRotate": 0}})
    refused = {
        "leadership": lambda: update_node("n1", "worker"),
        "tokens": lambda: api._post_json(
            api._url("/swarm/update"), data={}, params={"rotateWorkerToken": "true"}
        ),
        "membership": lambda: api._post(api._url("/swarm/leave")),
    }
    for effect, call in refused.items():
        with pytest.raises(EffectNotAllowed, match=rf"\({effect!r}\)") as raised:
            call()
        assert raised.value.effect == effect
    ca = {"CAConfig": {"ForceRotate": 1}}
    with pytest.raises(
        EffectNotAllowed, match="rotates join tokens, the unlock key or the root CA"
    ):
        api._post_json(api._url("/swarm/update"), data=ca)
    with permits.lifted():  # the reset puts back what checks changed
        update_node("n1", "worker")
    assert api.sent == [
        "/nodes/n2/update",
        "/images/create",
        "/swarm/update",
        "/nodes/n1/update",
    ]


def test_a_refused_effect_fails_the_check() -> None:
    """Every check declares its effects: one the swarm in use refuses means the declaration is
    wrong, a failure to fix, never a skip."""
    with pytest.raises(EffectNotAllowed), skipping():
        raise EffectNotAllowed(
            "refused POST nodes/n1/update: it moves the leadership", "leadership"
        )


def test_an_engine_that_does_not_answer_is_engine_unreachable() -> None:
    """docker-py asks the engine its API version while the client is made: an engine that does
    not answer must surface as swarmcheck's error (which the report's diagnostics catch), not
    as docker's (which ended a whole session as an INTERNALERROR)."""
    from swarmcheck.cluster.existing import Endpoint
    from swarmcheck.errors import EngineUnreachable

    with pytest.raises(EngineUnreachable, match="lab9"):
        Endpoint("lab9", "tcp://127.0.0.1:9").client(2.0)
