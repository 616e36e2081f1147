"""The private parts of pytest and allure-pytest that swarmcheck uses still look as it expects.

pyproject.toml bounds those packages below their next major version; this test is what tells a
bump of the bound is safe: it fails, naming the missing piece, when an installed version no
longer has what ``swarmcheck/plugin/report.py`` calls.
"""

from __future__ import annotations

import inspect

import pytest


def test_junitxml_private_api() -> None:
    from _pytest import junitxml

    for name in ("LogXML", "mangle_test_address", "xml_key"):
        assert hasattr(junitxml, name), f"_pytest.junitxml has no {name} any more"
    assert isinstance(junitxml.xml_key, pytest.StashKey)
    params = list(inspect.signature(junitxml.LogXML.__init__).parameters)[1:]
    # report.py's _logxml passes these seven, by position, as junitxml's own configure does
    assert params[:7] == [
        "logfile",
        "prefix",
        "suite_name",
        "logging",
        "report_duration",
        "family",
        "log_passing_tests",
    ], params
    for method in ("pytest_sessionstart", "pytest_runtest_logreport", "pytest_sessionfinish"):
        assert callable(getattr(junitxml.LogXML, method, None)), f"LogXML.{method} is gone"
    assert junitxml.mangle_test_address("a/b.py::C::t[x]") == ["a.b", "C", "t[x]"]


def test_allure_private_api() -> None:
    from allure_commons.logger import AllureFileLogger
    from allure_pytest.listener import AllureListener

    assert list(inspect.signature(AllureListener.__init__).parameters)[1:2] == ["config"]
    params = list(inspect.signature(AllureFileLogger.__init__).parameters)[1:3]
    assert params == ["report_dir", "clean"], params
    import allure_commons

    manager = allure_commons.plugin_manager
    for method in ("register", "unregister", "get_name"):
        assert callable(getattr(manager, method, None)), f"allure plugin_manager.{method} is gone"
