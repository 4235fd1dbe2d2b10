"""Safe output paths: every file or folder any smner-bench command writes goes through this module.

The rule (documented once, in the README):

- A command writes only **regular files** that it creates or replaces **atomically** (a temporary file in the
  same folder, then a rename): a crash leaves the old file or the new one, never half of one.
- An existing target that is not a regular file (a folder, a FIFO, a device...) is refused.
- A **symbolic link** is written through: its target file is replaced atomically and the link stays. A link
  whose target does not exist is refused.
- A path that is also an **input** of the command (the same file, or an existing file inside an input folder)
  is refused: ``score p.jsonl --json p.jsonl`` never destroys the predictions.
- A missing **parent folder** is an error, never created silently. Only the folder a command owns (its
  ``--out``) is created, and only when its own parent exists.
- An existing **folder** is replaced or written into only when it carries the package's marker file
  (:data:`MARKER`) naming the same kind of folder (``site``, ``export``, ``run``...), or when it is empty.
  Anything else is refused and nothing is touched.
- Files are created with mode 0644, folders with 0755.

Refusals raise :class:`OutputError` (exit 2) naming the path and the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UsageError

MARKER = ".smner-bench"
"""Name of the marker file inside every folder a command made; its content is the folder's kind."""

FILE_MODE = 0o644
FOLDER_MODE = 0o755

PathLike = str | os.PathLike


class OutputError(UsageError):
    """An output path that a command refuses to write (exit 2); nothing was written."""


def _inputs(inputs: Iterable[PathLike | None]) -> list[Path]:
    return [Path(p).resolve() for p in inputs if p is not None and str(p) != "" and os.path.exists(p)]


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _refuse_inputs(shown: PathLike, target: Path, inputs: list[Path]) -> None:
    """Refuse a target that is one of the inputs or an existing file inside an input folder."""
    for src in inputs:
        if src.is_dir():
            if _is_within(target, src) and os.path.lexists(target):
                raise OutputError(f"{shown}: refused: it is inside {src}, an input of this command")
        elif target == src or (target.exists() and src.exists() and os.path.samefile(target, src)):
            raise OutputError(f"{shown}: refused: it is an input of this command")


def output_file(path: PathLike, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Check ``path`` as the target of a file write and return the real file to replace.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> output_file(d / "report.json") == (d / "report.json").resolve()
    True
    >>> output_file(d / "missing" / "report.json")
    Traceback (most recent call last):
    ...
    smner_bench.benchmark.safe_output.OutputError: ...: the folder ... does not exist (create it first)
    """
    shown = path
    path = Path(path)
    if path.is_symlink():
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise OutputError(f"{shown}: refused: a symbolic link whose target does not exist") from None
    else:
        real = path.parent.resolve() / path.name
    if not real.parent.is_dir():
        raise OutputError(f"{shown}: the folder {path.parent} does not exist (create it first)")
    if os.path.lexists(real):
        mode = os.stat(real).st_mode
        if stat.S_ISDIR(mode):
            raise OutputError(f"{shown}: refused: it is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise OutputError(f"{shown}: refused: not a regular file (a device, FIFO or socket)")
    _refuse_inputs(shown, real, _inputs(inputs))
    return real


def write_bytes(path: PathLike, data: bytes, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Write ``data`` to ``path`` atomically, following the module's rules; returns the file written."""
    target = output_file(path, inputs=inputs)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_text(path: PathLike, text: str, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Write a UTF-8 text file atomically, following the module's rules."""
    return write_bytes(path, text.encode("utf-8"), inputs=inputs)


def write_json(path: PathLike, data: Any, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Write ``data`` as indented JSON (UTF-8, one trailing newline) atomically."""
    return write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n", inputs=inputs)


def write_jsonl(path: PathLike, lines: Iterable[Any], *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Write one JSON object per line (UTF-8) atomically."""
    return write_text(path, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), inputs=inputs)


def _check_folder(path: PathLike, kind: str, inputs: list[Path]) -> Path:
    """Check ``path`` as a folder the command owns; return its resolved path (which may not exist yet)."""
    shown = path
    path = Path(path)
    if path.is_symlink():
        raise OutputError(f"{shown}: refused: a symbolic link (give the folder itself)")
    real = path.resolve()
    if not real.parent.is_dir():
        raise OutputError(f"{shown}: the folder {path.parent} does not exist (create it first)")
    for src in inputs:
        if _is_within(src, real):
            raise OutputError(f"{shown}: refused: it holds {src}, an input of this command")
    if os.path.lexists(real):
        if not real.is_dir():
            raise OutputError(f"{shown}: refused: it exists and is not a folder")
        marker = real / MARKER
        if marker.is_file() and not marker.is_symlink():
            found = marker.read_text(encoding="utf-8", errors="replace").strip()
            if found != kind:
                raise OutputError(f"{shown}: refused: it is an smner-bench {found!r} folder, not a {kind!r} folder")
        elif any(real.iterdir()):
            raise OutputError(
                f"{shown}: refused: the folder exists, is not empty and was not made by smner-bench "
                f"(no {MARKER} file): choose another path"
            )
    return real


def _mark(folder: Path, kind: str) -> None:
    (folder / MARKER).write_text(kind + "\n", encoding="utf-8")
    os.chmod(folder / MARKER, FILE_MODE)


def owned_folder(path: PathLike, kind: str, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Create (or reuse) the folder a command owns and works in, e.g. a run or checkpoint folder.

    Reused only when it carries the marker of the same ``kind`` or is empty; created (mode 0755) only when its
    parent exists."""
    real = _check_folder(path, kind, _inputs(inputs))
    if not real.exists():
        real.mkdir()
        os.chmod(real, FOLDER_MODE)
    _mark(real, kind)
    return real


@contextmanager
def atomic_folder(path: PathLike, kind: str, *, inputs: Iterable[PathLike | None] = ()) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces ``path``, on any error it is deleted
    and ``path`` is left as it was.

    ``path`` is checked first (see :func:`owned_folder`): an existing folder is replaced only when it is an
    smner-bench folder of the same ``kind`` or empty. The new folder gets the marker and mode 0755."""
    target = _check_folder(path, kind, _inputs(inputs))
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        os.chmod(tmp, FOLDER_MODE)
        yield tmp
        _mark(tmp, kind)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            target.rename(old / "previous")
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
