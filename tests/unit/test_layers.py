"""The layering of swarmcheck/ holds, and the check catches a lower layer importing a higher."""

from __future__ import annotations

from pathlib import Path

import swarmcheck
from tests.layers import check_layers, import_circles, suite_violations

PACKAGE = Path(swarmcheck.__file__).parent
SUITES = PACKAGE.parent / "suites"


def test_swarmcheck_keeps_its_layers() -> None:
    violations = check_layers(PACKAGE)
    assert not violations, "layering broken:\n" + "\n".join(map(str, violations))


def _package(tmp_path: Path, files: dict[str, str], name: str = "swarmcheck") -> Path:
    """A package ``name`` of these files (and an empty ``__init__.py``) under ``tmp_path``."""
    root = tmp_path / name
    for file, body in {"__init__.py": "", **files}.items():
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return root


def test_a_lower_layer_importing_a_higher_one_is_reported(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "cluster/__init__.py": "",
            "cluster/cluster.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from swarmcheck.faults.base import Fault\n",
            "faults/__init__.py": "",
            "faults/base.py": "from swarmcheck.cluster.cluster import Cluster\n",
        },
    )
    violations = check_layers(root)
    assert [str(v) for v in violations] == [
        "swarmcheck.cluster.cluster:3 imports swarmcheck.faults.base: "
        "faults is a higher layer than cluster"
    ]


def test_siblings_in_a_layer_stay_independent(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {"labels.py": "from swarmcheck import timing\n", "timing.py": ""},
    )
    assert [v.why for v in check_layers(root)] == [
        "timing and labels share a layer and must stay independent"
    ]


def test_a_module_outside_every_layer_is_reported(tmp_path: Path) -> None:
    root = _package(tmp_path, {"gadgets.py": ""})
    assert [v.why for v in check_layers(root)] == ["'gadgets' is in no layer"]


def test_swarmcheck_has_no_import_circle() -> None:
    circles = import_circles(PACKAGE)
    assert not circles, "import circles:\n" + "\n".join(
        "  " + "; ".join(map(str, arrows)) for arrows in circles
    )


def test_a_circle_inside_a_package_is_reported_whatever_hides_it(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "plugin/__init__.py": "from swarmcheck.plugin.session import hook\n",
            "plugin/session.py": "def hook() -> None:\n    from swarmcheck.plugin import xdist\n",
            "plugin/xdist.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from swarmcheck.plugin.session import hook\n",
            "plugin/keys.py": "from swarmcheck.plugin import xdist\n",
        },
    )
    assert [[str(a) for a in arrows] for arrows in import_circles(root)] == [
        [
            "swarmcheck.plugin.session:2 imports swarmcheck.plugin.xdist",
            "swarmcheck.plugin.xdist:3 imports swarmcheck.plugin.session",
        ]
    ]


def test_a_package_importing_its_modules_is_no_circle(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "catalog/__init__.py": "from swarmcheck.catalog.model import Check\n",
            "catalog/model.py": "from swarmcheck.errors import ConfigError\n",
            "catalog/render.py": "from swarmcheck.catalog import model\n",
            "errors.py": "",
        },
    )
    assert import_circles(root) == []


def test_suites_use_only_the_public_api() -> None:
    violations = suite_violations(SUITES)
    assert not violations, "suites reach past swarmcheck.api:\n" + "\n".join(map(str, violations))


def test_suites_have_no_import_circle() -> None:
    circles = import_circles(SUITES)
    assert not circles, "import circles in suites/:\n" + "\n".join(
        "  " + "; ".join(map(str, arrows)) for arrows in circles
    )


def test_a_suite_importing_docker_or_swarmcheck_internals_is_reported(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "budgets.py": "import json\nfrom swarmcheck.api import Bound\n",
            "conformance/__init__.py": "",
            "conformance/test_x.py": "import pytest\n"
            "from suites import budgets\n"
            "from swarmcheck.api import Swarm\n"
            "from docker.types import UpdateConfig\n"
            "from swarmcheck.client.errors import translated\n"
            "def test_x() -> None:\n"
            "    import allure\n"
            "    from swarmcheck import labels\n",
        },
        "suites",
    )
    assert [(v.module, v.line, v.imported) for v in suite_violations(root)] == [
        ("suites.conformance.test_x", 4, "docker.types"),
        ("suites.conformance.test_x", 5, "swarmcheck.client.errors"),
        ("suites.conformance.test_x", 7, "allure"),
        ("suites.conformance.test_x", 8, "swarmcheck.labels"),
    ]


def test_a_suite_reaching_past_the_facade_is_reported(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "test_y.py": "def test_y(cluster, node) -> None:\n"
            "    cluster.client(node).nodes()\n"  # the facade: fine
            "    node.engine().container('abc')\n"  # the facade: fine
            "    node.client.containers.list()\n"
            "    cluster.leader_client().docker.api.inspect_swarm()\n"
            "    node.container.stop()\n"
            "    node.quick_client(3)\n",
        },
        "suites",
    )
    assert [(v.line, v.imported) for v in suite_violations(root)] == [
        (4, ".client"),
        (5, ".api"),
        (5, ".docker"),
        (6, ".container"),
        (7, ".quick_client"),
    ]
