"""Reading and writing entry files.

Published entries (``entries/published/*.yaml``) are only ever read; scored entries
(``entries/scored/<name>.json``) are written once, atomically, and never overwritten, next to a gzip copy of
the scored submission (``<name>.jsonl.gz``).

Every read checks every entry (:func:`read_entries`): the schema and its consistency rules (see
:mod:`.entry`), the digest of a scored entry over its canonical content, and its kept copy (present, a
readable gzip, hashing to the entry's ``submission_sha256``). A bad entry is excluded and reported by file
name; the others are still returned, so one damaged file never takes the board down.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from smner_bench.benchmark.errors import DataFormatError, UsageError, shown, validation_message
from smner_bench.benchmark.io import parse_yaml, sha256_stream
from smner_bench.benchmark.safe_output import OutputError, create_files

from .entry import Entry, entry_digest, sealed

DEFAULT_ROOT = Path(__file__).resolve().parent / "entries"
MAX_PUBLISHED_BYTES = 5 << 20  # one YAML file of published entries
MAX_SCORED_BYTES = 1 << 20  # one scored entry's JSON
MAX_COPY_BYTES = 1 << 30  # a kept copy, decompressed


@dataclass(frozen=True)
class Stored:
    entry: Entry
    file: Path


@dataclass(frozen=True)
class BadEntry:
    """An entry (or a whole file) that was excluded, and why."""

    file: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass
class Board:
    """What :func:`read_entries` found: the good entries and the excluded ones."""

    stored: list[Stored] = field(default_factory=list)
    bad: list[BadEntry] = field(default_factory=list)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {shown(key)}")
        out[key] = value
    return out


def _read_text(file: Path, limit: int) -> str:
    size = file.stat().st_size
    if size > limit:
        raise ValueError(f"file of {size} bytes, more than the limit of {limit}")
    return file.read_bytes().decode("utf-8")


def sha256_of_copy(path: Path) -> str:
    """SHA-256 of a kept copy's decompressed bytes; ``ValueError`` if it is not a readable gzip file."""
    try:
        with gzip.open(path, "rb") as f:
            return sha256_stream(f, limit=MAX_COPY_BYTES)
    except ValueError:
        raise ValueError(f"the copy {path.name} decompresses to more than {MAX_COPY_BYTES} bytes") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"the copy {path.name} is not a readable gzip file ({shown(exc, 80, quote=False)})") from None


def check_scored(file: Path) -> Entry:
    """Read one scored entry file and check it completely; ``ValueError`` says what is wrong."""
    try:
        item = json.loads(_read_text(file, MAX_SCORED_BYTES), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    try:
        entry = Entry.model_validate(item)
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from None
    if entry.provenance.kind != "scored":
        raise ValueError("a file in scored/ must hold a scored entry (published entries are YAML files)")
    if entry.digest is None:
        raise ValueError("no digest: the entry was not written by smner-bench (or predates digests)")
    if entry.digest != entry_digest(entry):
        raise ValueError("digest mismatch: the entry was edited after it was scored")
    copy = submission_copy(file)
    if entry.provenance.release is not None:
        if os.path.lexists(copy):
            raise ValueError(f"{copy.name}: an entry imported from a release keeps no copy (the release is the copy)")
        return entry
    if not copy.is_file():
        raise ValueError(f"the scored submission's copy {copy.name} is missing")
    if sha256_of_copy(copy) != entry.provenance.submission_sha256:
        raise ValueError(f"tampered entry: {copy.name} does not hash to the entry's submission_sha256")
    return entry


def _read_published(file: Path, board: Board) -> list[Stored]:
    try:
        items = parse_yaml(_read_text(file, MAX_PUBLISHED_BYTES), file=file.name, problem="unreadable YAML")
    except UnicodeDecodeError:
        board.bad.append(BadEntry(file, "not UTF-8"))
        return []
    except DataFormatError as exc:  # YAML syntax, a key written twice...: the line, once (BadEntry names the file)
        where = f"line {exc.line}: " if exc.line else ""
        board.bad.append(BadEntry(file, where + shown(exc.message, 160, quote=False)))
        return []
    except ValueError as exc:  # too large
        board.bad.append(BadEntry(file, f"unreadable YAML ({shown(exc, 160, quote=False)})"))
        return []
    if not isinstance(items, list):
        board.bad.append(BadEntry(file, "a published entries file must be a YAML list of entries"))
        return []
    out = []
    for i, item in enumerate(items):
        label = f"entry #{i + 1}"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label += f" ({shown(item['id'], 80, quote=False)})"
        try:
            entry = Entry.model_validate(item)
        except ValidationError as exc:
            board.bad.append(BadEntry(file, f"{label}: {validation_message(exc)}"))
            continue
        if entry.provenance.kind != "publication":
            board.bad.append(BadEntry(file, f"{label}: published files hold publication entries only"))
            continue
        out.append(Stored(entry, file))
    return out


def read_entries(root: str | os.PathLike = DEFAULT_ROOT) -> Board:
    """Every entry under ``root`` (published YAML lists, scored JSON files), each checked; bad ones excluded
    and listed in :attr:`Board.bad`. Ids must be unique: a later entry with a seen id is excluded."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"no leaderboard entries folder at {root}")
    board = Board()
    candidates: list[Stored] = []
    for file in sorted((root / "published").glob("*.yaml")):
        candidates += _read_published(file, board)
    for file in sorted((root / "scored").glob("*.json")):
        try:
            candidates.append(Stored(check_scored(file), file))
        except (ValueError, OSError) as exc:
            board.bad.append(BadEntry(file, shown(str(exc), 300, quote=False)))
    seen: dict[str, Path] = {}
    for stored in candidates:
        if stored.entry.id in seen:
            board.bad.append(
                BadEntry(stored.file, f"duplicate entry id {stored.entry.id!r} (also in {seen[stored.entry.id]})")
            )
            continue
        seen[stored.entry.id] = stored.file
        board.stored.append(stored)
    return board


def load_entries(root: str | os.PathLike = DEFAULT_ROOT) -> list[Stored]:
    """Every entry under ``root``, all of which must be good: raises :class:`DataFormatError` naming the bad
    ones otherwise (the commands use :func:`read_entries`, which excludes them and goes on)."""
    board = read_entries(root)
    if board.bad:
        raise DataFormatError(f"{len(board.bad)} bad entries: " + "; ".join(map(str, board.bad)), file=root)
    return board.stored


LOCK_NAME = ".submit.lock"


@contextmanager
def submission_lock(root: str | os.PathLike = DEFAULT_ROOT) -> Iterator[None]:
    """Hold the entries folder's submission lock (an exclusive ``flock`` of ``<root>/.submit.lock``): a
    submission's check that its predictions are not on the board and the writing of its entry happen under it,
    so two submissions of the same predictions started together (under two system names) never both land.

    The kernel releases the lock of a process that dies: no stale lock is ever left. The file is removed on
    release, while still locked; a process that locked a file removed meanwhile locks the new one instead."""
    import fcntl

    if not Path(root).is_dir():
        raise UsageError(f"no leaderboard entries folder at {root}")
    path = Path(root) / LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise OutputError(f"{path}: cannot lock the entries folder: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
        except BaseException:
            os.close(fd)
            raise
        if now is not None and (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev):
            break
        os.close(fd)  # the file we locked was released and removed by its holder: lock the current one
    try:
        yield
    finally:
        try:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def submission_copy(entry_file: Path) -> Path:
    return entry_file.with_suffix(".jsonl.gz")


def entry_file(entry: Entry, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    return Path(root) / "scored" / (entry.id.replace("/", "__") + ".json")


def entry_json(entry: Entry) -> str:
    return entry.model_dump_json(indent=1, exclude_none=True) + "\n"


def write_scored(entry: Entry, submission: str | os.PathLike, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """Write a scored entry (sealed with its digest) as ``scored/<id with / as __>.json`` with a gzip copy of
    its submission (none for an entry imported from a release: the release is its copy).

    Both are written once with :func:`~smner_bench.benchmark.safe_output.create_files` (synced temporary
    files linked into place): the copy first, the entry last, so a crash leaves either nothing or a copy without
    entry (ignored), never a half-written entry; an existing entry is never replaced. Files are 0644."""
    if entry.provenance.kind != "scored":
        raise UsageError("only scored entries are written by code; published entries are edited by hand")
    entry = sealed(entry)
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"no leaderboard entries folder at {root}")
    folder = root / "scored"
    if not folder.is_dir():
        try:
            folder.mkdir(exist_ok=True)  # another submission may make it at the same moment
            os.chmod(folder, 0o755)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    target = entry_file(entry, root)
    if target.exists():
        raise UsageError(f"{target} already exists")
    record = (target, entry_json(entry).encode("utf-8"))
    if entry.provenance.release is not None:
        create_files([record], inputs=[submission])
        return target
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz, open(submission, "rb") as src:
        shutil.copyfileobj(src, gz)
    copy = submission_copy(target)
    copy.unlink(missing_ok=True)  # a copy left by an interrupted earlier write has no entry: replace it
    create_files([(copy, packed.getvalue()), record], inputs=[submission])
    return target
