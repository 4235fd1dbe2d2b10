"""The layers of docs/design.md hold: nothing imports a layer above its own, neither with an import statement
(anywhere in a module, functions included) nor through a module path written as a string (what ``import_module``
and lazy exports take), and no entry-point group joins the package's own parts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("benchmark", "loaders", "formats", "leaderboard", "baselines", "cli")  # bottom to top
MODULE_PATH = re.compile(r"smner_bench\.(\w+)(\.\w+)*")


def imported(path: Path, layer: str) -> set[tuple[str, int]]:
    """The layers ``path`` imports (absolute ``smner_bench.X``, relative imports resolved, module-path strings),
    with the line of each."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.parent.relative_to(ROOT).parts  # ('baselines', 'commands'): the module's package
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join(("smner_bench", *base, *([node.module] if node.module else [])))]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_PATH.fullmatch(node.value):
            names = [node.value]
        for name in names:
            parts = name.split(".")
            if parts[0] == "smner_bench" and len(parts) > 1 and parts[1] in LAYERS:
                found.add((parts[1], node.lineno))
    return found


def modules() -> list[tuple[str, Path]]:
    return [(layer, p) for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))]


def _id(value: str | Path) -> str:
    return str(value.relative_to(ROOT)) if isinstance(value, Path) else value


@pytest.mark.parametrize(("layer", "path"), modules(), ids=_id)
def test_no_module_imports_a_layer_above_its_own(layer, path):
    upward = sorted(
        (other, line) for other, line in imported(path, layer) if LAYERS.index(other) > LAYERS.index(layer)
    )
    assert upward == [], f"{path.relative_to(ROOT)} imports {upward} (layer {layer}: see docs/design.md)"


def test_the_checker_sees_every_kind_of_upward_import(tmp_path, monkeypatch):
    """The check itself: a plain import, a relative import reaching into another part, an import inside a
    function and a module path handed to import_module are all found."""
    fake = ROOT / "benchmark" / "_probe.py"
    source = (
        "import smner_bench.loaders\n"
        "from ..baselines import mllm\n"
        "def f():\n    from smner_bench.leaderboard.store import read_entries\n"
        "MODULE = 'smner_bench.cli.scoring'\n"
        "DOC = 'see smner_bench.loaders.load_gold for the release'\n"  # prose, not a module path
    )
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source if self == fake else "")
    assert sorted(imported(fake, "benchmark")) == [("baselines", 2), ("cli", 5), ("leaderboard", 4), ("loaders", 1)]


def test_every_part_is_a_layer_and_no_entry_points_join_them():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapped = project["tool"]["setuptools"]["package-dir"]
    assert sorted(mapped.values()) == sorted(LAYERS)
    assert "entry-points" not in project["project"]  # commands are the static table of smner_bench.cli
    assert project["project"]["scripts"] == {"smner-bench": "smner_bench.cli:main"}
