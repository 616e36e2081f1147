"""Engines under test and mixed-version shapes: naming, ordering, per-node engines and the
swarm marker's engines= (no Docker needed)."""

from __future__ import annotations

from typing import cast

import docker
import docker.errors
import pytest

from swarmcheck.config import Settings, engine_under_test
from swarmcheck.errors import ConfigError
from swarmcheck.machine.images import missing_images
from swarmcheck.spec import ClusterSpec, describe, parse_engines, previous_engine


def test_debian_engines_are_ordered_old_to_new() -> None:
    assert previous_engine("sid") == "trixie"
    assert previous_engine("trixie") == "bookworm"
    assert previous_engine("bookworm") is None
    assert previous_engine("my/dind:28") is None
    assert describe("trixie") == "trixie (Docker 26.1)"
    assert describe("my/dind:28") == "my/dind:28"


def test_engine_lists_are_split_and_an_empty_one_refused() -> None:
    assert parse_engines(" bookworm, trixie ,my/dind:28", "--x") == (
        "bookworm",
        "trixie",
        "my/dind:28",
    )
    with pytest.raises(ConfigError, match=r"--x is empty: give Debian suites"):
        parse_engines(" , ", "--x")


def test_per_node_engines_default_to_the_run_engine() -> None:
    spec = ClusterSpec(managers=2, workers=1, engine="trixie")
    assert spec.node_engines() == ("trixie", "trixie", "trixie")
    assert not spec.mixed
    mixed = ClusterSpec(managers=2, workers=1, engines=("bookworm", "trixie", "bookworm"))
    assert mixed.node_engines() == ("bookworm", "trixie", "bookworm")
    assert mixed.mixed
    image = ClusterSpec(managers=1, engine="my/dind:28")
    assert image.node_engines() == ("my/dind:28",)
    assert (image.label, mixed.label) == (
        "my/dind:28",
        "bookworm (Docker 20.10), trixie (Docker 26.1), bookworm (Docker 20.10)",
    )


def test_the_engine_under_test_is_the_image_given_else_the_debian_suite() -> None:
    assert engine_under_test("trixie", "my/dind:28") == "my/dind:28"
    assert engine_under_test("trixie", None) == "trixie"
    assert engine_under_test(None, None) == "bookworm"


def test_one_engine_per_node_or_a_message_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"give one engine per node \(3 managers then 0 workers"):
        ClusterSpec(engines=("bookworm", "trixie"))
    with pytest.raises(ConfigError, match="each engine is a Debian suite or an image"):
        ClusterSpec(managers=1, engines=(" ",))


def test_old_engine_is_the_one_before_the_engine_under_test() -> None:
    assert Settings(cluster=ClusterSpec(engine="sid")).old_engine == "trixie"
    assert Settings(cluster=ClusterSpec(engine="bookworm")).old_engine is None
    given = Settings(cluster=ClusterSpec(engine="bookworm"), upgrade_from="my/dind:19")
    assert given.old_engine == "my/dind:19"


MARKED = """
import pytest

@pytest.mark.swarm(managers=1, workers=1, engines=("old", "trixie"))
def test_ok(request):
    pass

@pytest.mark.swarm(managers=1, engines=("old", "new"))
def test_count(request):
    pass

@pytest.mark.swarm(managers=1, engines=("nonsense",))
def test_name(request):
    pass

@pytest.mark.swarm(managers=1, engines="bookworm")
def test_string(request):
    pass
"""


def test_bad_engines_in_a_swarm_marker_name_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=MARKED)
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:allure_pytest")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*test_a.py::test_count: swarm marker: bad cluster spec: engines=('bookworm', "
            "'bookworm'): give one engine per node (1 managers then 0 workers)*",
            "*test_a.py::test_name: swarm marker: engines= names 'nonsense': use 'old', 'new', "
            "a Debian suite (bookworm, trixie, sid) or a dind image reference",
            "*test_a.py::test_string: swarm marker: engines= takes a tuple, one engine per node "
            "(got 'bookworm')",
        ]
    )
    assert "test_ok" not in result.stderr.str()


class _Images:
    """A host engine's image store holding only ``held``."""

    def __init__(self, held: set[str]) -> None:
        self.held = held

    def get(self, ref: str) -> object:
        if ref not in self.held:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")
        return object()


class _Host:
    def __init__(self, held: set[str]) -> None:
        self.images = _Images(held)


def test_engine_images_missing_locally_are_named_and_debian_suites_never_are() -> None:
    host = cast(docker.DockerClient, _Host({"my/dind:28"}))
    engines = ["bookworm", "my/dind:28", "nosuch/dind:1", "sid"]
    assert missing_images(host, engines) == ["nosuch/dind:1"]
