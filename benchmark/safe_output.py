"""Safe output paths: every file or folder any smner-bench command writes goes through this module.

The rule (documented once, in the README):

- A command writes only **regular files** that it creates or replaces **atomically** (a temporary file in the
  same folder, then a rename): a crash leaves the old file or the new one, never half of one.
- An existing target that is not a regular file (a folder, a FIFO, a device...) is refused; it is never opened.
- A **symbolic link** is written through: its target file is replaced atomically and the link stays. A link
  whose target does not exist is refused.
- A path that is also an **input** of the command (the same file, also through a symbolic or hard link, or an
  existing file inside an input folder) is refused: ``score p.jsonl --json p.jsonl`` never destroys the
  predictions.
- A missing **parent folder** is an error, never created silently. Only the folder a command owns (its
  ``--out``) is created, and only when its own parent exists.
- An existing **folder** is replaced or written into only when it carries the package's marker file
  (:data:`MARKER`) naming the same kind of folder (``site``, ``export``, ``run``...), or when it is empty.
  Anything else is refused and nothing is touched. A folder that holds an input of the command, an existing
  folder inside an input folder, and (for a folder replaced as a whole) the current folder or one above it
  are refused too.
- Files are created with mode 0644, folders with 0755 (whatever the umask).

Refusals raise :class:`OutputError` (exit 2) naming the path and the reason; so does a write the system
refuses (permissions, a full disk), with the system's reason.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UsageError
from .io import jsonl_text

MARKER = ".smner-bench"
"""Name of the marker file inside every folder a command made; its content is the folder's kind."""

FILE_MODE = 0o644
FOLDER_MODE = 0o755

PathLike = str | os.PathLike


class OutputError(UsageError):
    """An output path that a command refuses to write (exit 2); nothing was written."""


def _inputs(inputs: Iterable[PathLike | None]) -> list[Path]:
    found = []
    for p in inputs:
        if p is None or str(p) == "":
            continue
        try:
            if os.path.exists(p):
                found.append(Path(p).resolve())
        except (OSError, ValueError, RuntimeError):  # a name the system cannot even look up is no input of ours
            continue
    return found


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _need_parent(shown: PathLike, path: Path, real: Path) -> None:
    if not real.parent.is_dir():
        what = "is not a folder" if os.path.lexists(real.parent) else "does not exist (create it first)"
        raise OutputError(f"{shown}: the folder {path.parent} {what}")


def _refuse_inputs(shown: PathLike, target: Path, inputs: list[Path]) -> None:
    """Refuse a target that is one of the inputs or an existing file inside an input folder."""
    for src in inputs:
        if src.is_dir():
            if _is_within(target, src) and os.path.lexists(target):
                raise OutputError(f"{shown}: refused: it is inside {src}, an input of this command")
        elif target == src or (target.exists() and src.exists() and os.path.samefile(target, src)):
            raise OutputError(f"{shown}: refused: it is an input of this command")


def output_file(path: PathLike, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Check ``path`` as the target of a file write and return the real file to replace (the target of a
    symbolic link). Nothing is opened or created.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> output_file(d / "report.json") == (d / "report.json").resolve()
    True
    >>> try:
    ...     output_file(d / "missing" / "report.json")
    ... except OutputError as exc:
    ...     print(exc.exit_code, str(exc).endswith("missing does not exist (create it first)"))
    2 True
    """
    shown = path
    if str(path) == "":
        raise OutputError("an empty output path")
    if str(path).endswith(("/", os.sep)):
        raise OutputError(f"{shown}: refused: a file name was expected, not a folder (it ends with '/')")
    path = Path(path)
    if path.is_symlink():
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise OutputError(
                f"{shown}: refused: a symbolic link that leads to no file (its target is missing, a loop, or a pipe)"
            ) from None
    else:
        real = path.parent.resolve() / path.name
    _need_parent(shown, path, real)
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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise
    return target


def create_files(files: list[tuple[PathLike, bytes]], *, inputs: Iterable[PathLike | None] = ()) -> list[Path]:
    """Write each ``(path, data)`` as a new file, never replacing one; for records written once, such as
    leaderboard entries. Every file is first written to a synced temporary file; only then are they linked into
    place, in the order given: a crash leaves nothing, or the first files complete (never half a file), and an
    existing file (even one that appears meanwhile) is an :class:`OutputError`."""
    targets = [output_file(path, inputs=inputs) for path, _ in files]
    for (path, _), target in zip(files, targets, strict=True):
        if os.path.lexists(target):
            raise OutputError(f"{path}: refused: it already exists (written once, never replaced)")
    temporaries: list[str] = []
    try:
        for (path, data), target in zip(files, targets, strict=True):
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
            temporaries.append(tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, FILE_MODE)
        for (path, _), target, tmp in zip(files, targets, temporaries, strict=True):
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise OutputError(f"{path}: refused: it already exists (written once, never replaced)") from None
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}") from None
    finally:
        for tmp in temporaries:
            Path(tmp).unlink(missing_ok=True)
    return targets


def write_text(path: PathLike, text: str, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Write a UTF-8 text file atomically, following the module's rules."""
    return write_bytes(path, text.encode("utf-8"), inputs=inputs)


def write_json(path: PathLike, data: Any, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Write ``data`` as indented JSON (UTF-8, one trailing newline) atomically."""
    return write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n", inputs=inputs)


def write_jsonl(path: PathLike, lines: Iterable[Any], *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Write one JSON object per line (UTF-8) atomically."""
    return write_text(path, jsonl_text(lines), inputs=inputs)


def append_file(path: PathLike, *, inputs: Iterable[PathLike | None] = ()):
    """Open ``path`` for appending text (UTF-8), e.g. a cache the command owns and grows line by line.

    The same checks as :func:`output_file` (a regular file or none, written through a symbolic link, never an
    input, the parent must exist); a new file gets mode 0644. Appending is not atomic: readers of such a file
    must ignore a last line cut by an interruption."""
    target = output_file(path, inputs=inputs)
    try:
        created = not target.exists()
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
        if created:
            os.fchmod(fd, FILE_MODE)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return os.fdopen(fd, "a", encoding="utf-8")


def _holds_files(folder: Path) -> bool:
    """Anything in ``folder`` besides a marker another process is writing right now."""
    return any(not _marking(entry.name) for entry in folder.iterdir())


def _check_folder(path: PathLike, kind: str, inputs: list[Path], legacy: Callable[[Path], bool] | None) -> Path:
    """Check ``path`` as a folder the command owns; return its resolved path (which may not exist yet)."""
    shown = path
    if str(path) == "":
        raise OutputError("an empty output path")
    path = Path(path)
    if path.is_symlink():
        raise OutputError(f"{shown}: refused: a symbolic link (give the folder itself)")
    real = path.resolve()
    _need_parent(shown, path, real)
    for src in inputs:
        if _is_within(src, real):
            raise OutputError(f"{shown}: refused: it holds {src}, an input of this command")
        if src.is_dir() and _is_within(real, src) and os.path.lexists(real):
            raise OutputError(f"{shown}: refused: it is inside {src}, an input of this command")
    if os.path.lexists(real):
        if not real.is_dir():
            raise OutputError(f"{shown}: refused: it exists and is not a folder")
        marker = real / MARKER
        if marker.is_file() and not marker.is_symlink():
            found = marker.read_text(encoding="utf-8", errors="replace").strip()[:40]
            if found != kind:
                raise OutputError(f"{shown}: refused: it is an smner-bench {found!r} folder, not a {kind!r} folder")
        elif os.path.lexists(marker) or (_holds_files(real) and not (legacy and legacy(real))):
            raise OutputError(
                f"{shown}: refused: the folder exists, is not empty and was not made by smner-bench "
                f"(no {MARKER} file): choose another path"
            )
    return real


def check_folder(
    path: PathLike,
    kind: str,
    *,
    inputs: Iterable[PathLike | None] = (),
    legacy: Callable[[Path], bool] | None = None,
    replaced: bool = True,
) -> Path:
    """The checks of :func:`atomic_folder` (``replaced``) or :func:`owned_folder`, with nothing created: call it
    before a long job (training, a whole dataset) so that a refused ``--out`` fails at once. Returns the
    resolved path."""
    real = _check_folder(path, kind, _inputs(inputs), legacy)
    if replaced and os.path.lexists(real) and _is_within(Path.cwd().resolve(), real):
        raise OutputError(f"{path}: refused: it is the current folder or holds it (choose a folder below it)")
    return real


def _mark(folder: Path, kind: str) -> None:
    """Give ``folder`` its marker; a marker already saying ``kind`` is left alone, a new one appears whole (written
    to a temporary file first), so another process checking the folder meanwhile never reads half a marker."""
    marker = folder / MARKER
    found = marker.is_file() and not marker.is_symlink() and marker.read_text(encoding="utf-8", errors="replace")
    if found and found.strip() == kind:
        return
    fd, tmp = tempfile.mkstemp(prefix=f"{MARKER}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(kind + "\n")
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, marker)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _marking(name: str) -> bool:
    """A marker being written by :func:`_mark` (another process making the same folder at this moment)."""
    return name.startswith(f"{MARKER}.") and name.endswith(".tmp")


def owned_folder(
    path: PathLike,
    kind: str,
    *,
    inputs: Iterable[PathLike | None] = (),
    legacy: Callable[[Path], bool] | None = None,
) -> Path:
    """Create (or reuse) the folder a command owns and works in, e.g. a run or checkpoint folder.

    Reused only when it carries the marker of the same ``kind``, is empty, or (an unmarked folder) when
    ``legacy(folder)`` says an earlier version of the package made it; created (mode 0755) only when its parent
    exists. Files written into it later go through :func:`write_text` and friends."""
    checked = _inputs(inputs)
    real = _check_folder(path, kind, checked, legacy)
    try:
        if not real.exists():
            # made whole (marker inside) beside it, then renamed into place: processes started together (the
            # ranks of one launch) may all get here; one rename wins, the others find its folder and re-check it
            tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent))
            try:
                _mark(tmp, kind)
                os.chmod(tmp, FOLDER_MODE)
                os.rename(tmp, real)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if not real.is_dir():
                    raise
                _check_folder(path, kind, checked, legacy)
        _mark(real, kind)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return real


def _normalise_modes(folder: Path) -> None:
    """Folders 0755, files 0644 in a tree the command just wrote (libraries follow the umask or use 0700/0600)."""
    os.chmod(folder, FOLDER_MODE)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), FOLDER_MODE)
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), FILE_MODE)


@contextmanager
def atomic_folder(
    path: PathLike,
    kind: str,
    *,
    inputs: Iterable[PathLike | None] = (),
    legacy: Callable[[Path], bool] | None = None,
) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces ``path``, on any error it is deleted
    and ``path`` is left as it was.

    ``path`` is checked first (see :func:`owned_folder`): an existing folder is replaced only when it is an
    smner-bench folder of the same ``kind``, empty, or accepted by ``legacy``; never the current folder or one
    above it. The new folder gets the marker, mode 0755 and its files 0644."""
    target = check_folder(path, kind, inputs=inputs, legacy=legacy)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _mark(tmp, kind)
        _normalise_modes(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            target.rename(old / "previous")
            try:
                tmp.rename(target)
            except BaseException:
                (old / "previous").rename(target)  # put the old folder back
                old.rmdir()
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise


def _relative_piece(piece: str, cwd: Path, home: Path | None) -> str:
    path = Path(piece)
    try:
        path = Path(os.path.normpath(path))
        if _is_within(path, cwd) or (home is not None and home != Path("/") and _is_within(path, home)):
            return os.path.relpath(path, cwd)
    except (OSError, ValueError):
        pass
    return piece


def recorded_command(argv: Iterable[str] | None = None, *, prog: str = "smner-bench") -> str:
    """The command line to record in what a command writes (``run.json``, model metadata, export cards).

    The rule: the arguments as typed (``sys.argv[1:]`` by default), shell-quoted, except that every absolute
    path under the current folder or the user's home folder (a whole argument, or the value after ``=``,
    ``,`` or a ``kind:`` prefix) is rewritten relative to the current folder, so that no record carries the
    user's home or the machine's layout. Other absolute paths (``/data/...``) are kept as typed.

    >>> import os
    >>> recorded_command(["score", os.path.join(os.getcwd(), "p.jsonl"), "--json=/elsewhere/r.json"])
    'smner-bench score p.jsonl --json=/elsewhere/r.json'
    """
    import re
    import shlex
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    cwd = Path.cwd().resolve()
    home_env = os.environ.get("HOME")
    home = Path(home_env).resolve() if home_env else None

    def rewrite(arg: str) -> str:
        return re.sub(r"(?:(?<=^)|(?<=[=,:]))/[^,=]*", lambda m: _relative_piece(m.group(0), cwd, home), arg)

    return " ".join([prog, *(shlex.quote(rewrite(a)) for a in args)])
