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
    data_only = listed - on_disk  # folders of data files (the board's entries), listed with their package data
    assert on_disk <= listed and data_only == {
        "smner_bench.leaderboard.entries.published",
        "smner_bench.leaderboard.entries.scored",
    }
    for package in data_only:
        folder = ROOT / package.split(".", 1)[1].replace(".", "/")
        globs = config["package-data"][package]
        assert all(any(folder.glob(g)) for g in globs), (package, globs)
        assert {f.name for f in folder.iterdir() if f.is_file()} == {f.name for g in globs for f in folder.glob(g)}
    assert {name.split(".")[1] for name in listed} == PARTS
    assert {config["package-dir"][f"smner_bench.{p}"] for p in PARTS} == PARTS
