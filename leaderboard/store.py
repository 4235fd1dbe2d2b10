"""Reading and writing entry files.

Published entries (``entries/published/*.yaml``) are only ever read; scored entries
(``entries/scored/*.json``) are written once, atomically, and never overwritten.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from smner_bench.benchmark.errors import DataFormatError, UsageError

from .entry import Entry

DEFAULT_ROOT = Path(__file__).resolve().parent / "entries"


@dataclass(frozen=True)
class Stored:
    entry: Entry
    file: Path


def _validate(item: object, file: Path, where: str) -> Entry:
    try:
        return Entry.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise DataFormatError(
            f"{where}: {first['msg']} ({exc.error_count()} problems)", file=file, field=field
        ) from None


def load_entries(root: str | os.PathLike = DEFAULT_ROOT) -> list[Stored]:
    """Every entry under ``root`` (published YAML lists, scored JSON files), validated; ids must be unique."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"no leaderboard entries folder at {root}")
    out: list[Stored] = []
    for file in sorted((root / "published").glob("*.yaml")):
        try:
            items = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DataFormatError(f"unreadable YAML ({exc})", file=file) from None
        if not isinstance(items, list):
            raise DataFormatError("a published entries file must be a YAML list of entries", file=file)
        out += [Stored(_validate(item, file, f"entry #{i + 1}"), file) for i, item in enumerate(items)]
    for file in sorted((root / "scored").glob("*.json")):
        try:
            item = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"unreadable JSON ({exc.msg})", file=file, line=exc.lineno) from None
        out.append(Stored(_validate(item, file, "entry"), file))
    seen: dict[str, Path] = {}
    for stored in out:
        if stored.entry.id in seen:
            raise DataFormatError(
                f"duplicate entry id {stored.entry.id!r} (also in {seen[stored.entry.id]})", file=stored.file
            )
        seen[stored.entry.id] = stored.file
    return out


def write_scored(entry: Entry, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """Write a scored entry as ``scored/<id with / as __>.json``: a temporary file, flushed and synced, then
    linked into place, so a crash never leaves a half-written entry and an existing file is never replaced."""
    if entry.provenance.kind != "scored":
        raise UsageError("only scored entries are written by code; published entries are edited by hand")
    folder = Path(root) / "scored"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (entry.id.replace("/", "__") + ".json")
    fd, tmp = tempfile.mkstemp(prefix=".entry.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(entry.model_dump_json(indent=1, exclude_none=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)  # fails if the target exists: never overwrite
        except FileExistsError:
            raise UsageError(f"an entry file {target} already exists") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
