"""Reading and writing entry files.

Published entries (``entries/published/*.yaml``) are only ever read; scored entries
(``entries/scored/<name>.json``) are written once, atomically, and never overwritten, next to a gzip copy of
the scored submission (``<name>.jsonl.gz``) whose SHA-256 must stay the entry's: a copy that was changed, or
is missing, makes the entry refused when entries are loaded, and ``verify`` re-scores the copies.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
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
        entry = _validate(item, file, "entry")
        copy = submission_copy(file)
        if not copy.is_file():
            raise DataFormatError(f"the scored submission's copy {copy.name} is missing", file=file)
        if _sha256_gz(copy) != entry.provenance.submission_sha256:  # type: ignore[union-attr]
            raise DataFormatError(
                f"tampered entry: {copy.name} does not hash to the entry's submission_sha256", file=file
            )
        out.append(Stored(entry, file))
    seen: dict[str, Path] = {}
    for stored in out:
        if stored.entry.id in seen:
            raise DataFormatError(
                f"duplicate entry id {stored.entry.id!r} (also in {seen[stored.entry.id]})", file=stored.file
            )
        seen[stored.entry.id] = stored.file
    return out


def submission_copy(entry_file: Path) -> Path:
    return entry_file.with_suffix(".jsonl.gz")


def _sha256_gz(path: Path) -> str:
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _publish(tmp: str, target: Path) -> None:
    """Link a finished temporary file into place; fails if the target exists (never overwrite)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise UsageError(f"{target} already exists") from None


def write_scored(entry: Entry, submission: str | os.PathLike, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """Write a scored entry as ``scored/<id with / as __>.json`` with a gzip copy of its submission.

    Each file is written to a temporary name, flushed and synced, then linked into place: the copy first,
    the entry last, so a crash leaves either nothing or a copy without entry (ignored), never a half-written
    entry; an existing file is never replaced."""
    if entry.provenance.kind != "scored":
        raise UsageError("only scored entries are written by code; published entries are edited by hand")
    folder = Path(root) / "scored"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (entry.id.replace("/", "__") + ".json")
    if target.exists():
        raise UsageError(f"{target} already exists")
    temporaries = []
    try:
        fd, tmp_copy = tempfile.mkstemp(prefix=".copy.", suffix=".tmp", dir=folder)
        temporaries.append(tmp_copy)
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
            open(submission, "rb") as src,
        ):
            shutil.copyfileobj(src, gz)
        with open(tmp_copy, "rb") as f:
            os.fsync(f.fileno())
        fd, tmp_entry = tempfile.mkstemp(prefix=".entry.", suffix=".tmp", dir=folder)
        temporaries.append(tmp_entry)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(entry.model_dump_json(indent=1, exclude_none=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        for tmp in temporaries:
            os.chmod(tmp, 0o644)  # mkstemp makes private files; entries are shared, read-only data
        copy = submission_copy(target)
        copy.unlink(missing_ok=True)  # a copy left by an interrupted earlier write has no entry: replace it
        _publish(tmp_copy, copy)
        _publish(tmp_entry, target)
    finally:
        for tmp in temporaries:
            Path(tmp).unlink(missing_ok=True)
    return target
