"""The structure figures (benchmarks/structure.py) count what they say they count."""

from __future__ import annotations

from pathlib import Path

from benchmarks.structure import functions, lines_per_package, spellings


def _package(tmp_path: Path) -> Path:
    root = tmp_path / "swarmcheck"
    (root / "cli").mkdir(parents=True)
    (root / "__init__.py").write_text('"""--widget-size in a docstring is not a spelling."""\n')
    (root / "cli" / "__init__.py").write_text("")
    (root / "cli" / "main.py").write_text(
        "def main() -> None:\n"
        '    """Say --widget-size here: no spelling."""\n'
        '    flag = "--widget-size"\n'
        "    print(flag)\n"
        "\n"
        "\n"
        "def short() -> None: ...\n"
    )
    return root


def test_functions_are_measured_longest_first(tmp_path: Path) -> None:
    found = functions(_package(tmp_path))
    assert [(f.name, f.lines, f.where) for f in found] == [
        ("main", 4, "swarmcheck/cli/main.py:1"),
        ("short", 1, "swarmcheck/cli/main.py:7"),
    ]


def test_lines_are_summed_per_package(tmp_path: Path) -> None:
    assert lines_per_package(_package(tmp_path)) == {"cli": 7, "(top-level modules)": 1}


def test_a_flag_is_spelled_by_literals_not_by_docstrings(tmp_path: Path) -> None:
    assert spellings(_package(tmp_path), "widget-size") == {"swarmcheck/cli/main.py": 1}
