"""A regular (non-editable) install ships every package of the four parts: pyproject's explicit package list
names each folder with an ``__init__.py`` (an editable install would hide a missing one)."""

from __future__ import annotations

import pytest

from .conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+ (CI runs 3.11)

PARTS = {"benchmark", "loaders", "formats", "leaderboard", "baselines", "cli"}


def test_every_package_folder_is_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        "smner_bench." + ".".join(init.parent.relative_to(ROOT).parts)
        for part in PARTS
        for init in (ROOT / part).rglob("__init__.py")
    }
    assert on_disk == listed
    assert {name.split(".")[1] for name in listed} == PARTS
    assert {config["package-dir"][f"smner_bench.{p}"] for p in PARTS} == PARTS
