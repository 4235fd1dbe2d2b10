"""The builder's cache key, computed without importing ``datasets``, and where the light gold cache of a split
lives (read by the scorer's ``load_gold``: see docs/scoring.md).

:func:`cache_key` is the ``hash`` the builder gives ``datasets``: a digest of the source of the modules the builder
runs (:func:`code_hash`) and of the names and contents (SHA-256) of every raw file it reads (:func:`file_stamp`;
the images, gigabytes that no gold comes from, by name, size, modification and change time). :func:`gold_cache`
names the gold cache file of a split by the same key, so that editing a raw file or the builder's code leaves the
old file unread.

Both digests are memoised in small files beside the gold caches, so that a key computed again costs a ``stat`` per
raw file instead of a read: a raw file's SHA-256 is reused while its device, inode, size, modification and change
times are those it was hashed with (:func:`file_stamp`), a module's imports while its source has the same SHA-256
(:func:`code_hash`). A memo that is missing, damaged or of another format is ignored and written again; the key is
the same with and without it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from smner_bench.benchmark.errors import SmnerError
from smner_bench.benchmark.io import sha256_file
from smner_bench.benchmark.registry import canonical_split
from smner_bench.benchmark.safe_output import write_bytes

from .configs import Sources

log = logging.getLogger(__name__)

GOLD_CACHE_FOLDER = "smner_bench_gold"
MEMO_FORMAT = "smner-bench digest memo"
MEMO_VERSION = 1
MAX_MEMO_BYTES = 256 * 2**20
SETTLED_NS = 3 * 10**9
"""A raw file's digest is memoised only when the file last changed this long before it was read: an edit made
after the read, even one that keeps the size and sets the modification time back, then stamps another change time
(a change time cannot be set back, and file systems stamp it far more finely than this)."""


def gold_cache(name: str, data_dir: str | os.PathLike, split: str) -> tuple[Path, str]:
    """The gold cache file of ``split`` of config ``name`` read from the raw release ``data_dir``, and the cache
    key it must carry: a file in ``datasets``' cache folder (``HF_DATASETS_CACHE``, by default
    ``~/.cache/huggingface/datasets``), beside the builder's Arrow caches. Raises the loaders' own errors for a
    missing release, as :func:`smner_bench.loaders.load_split` does."""
    key = cache_key(Sources.of(name, data_dir))
    return datasets_cache_root() / GOLD_CACHE_FOLDER / f"{name}-{canonical_split(split)}-{key}.jsonl", key


def datasets_cache_root() -> Path:
    """``datasets``' cache folder, found as ``datasets.config`` finds it (without importing ``datasets``)."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home, "datasets").expanduser()


def cache_key(sources: Sources) -> str:
    """The builder's cache key: the source of the modules it runs, and the raw files ``sources`` reads."""
    by_stat = (sources.image_dir,) if sources.image_dir is not None else ()
    paths = sources.read_paths()
    return code_hash() + "-" + file_stamp(paths, by_stat=by_stat, memo=memo_path("files", paths))


def memo_path(kind: str, paths: Sequence[Path] = ()) -> Path:
    """The memo file of ``kind`` (``files``: one per set of raw paths; ``imports``: one) in the gold cache folder."""
    named = hashlib.sha256(b"\0".join(os.fsencode(os.path.abspath(p)) for p in paths)).hexdigest()[:16]
    return datasets_cache_root() / GOLD_CACHE_FOLDER / (f"{kind}-{named}.json" if paths else f"{kind}.json")


def read_regular_file(path: Path, limit: int | None = None) -> bytes | None:
    """The content of ``path``, or None when it is missing, unreadable, larger than ``limit`` or not a regular file
    (opened without blocking and never read: a FIFO there would block the scorer)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            found = os.fstat(f.fileno())
            if not stat.S_ISREG(found.st_mode) or (limit is not None and found.st_size > limit):
                log.debug("%s ignored: not a regular file, or larger than %s bytes", path, limit)
                return None
            return f.read()
    except OSError:
        return None


def read_memo(path: Path, kind: str) -> dict[str, Any]:
    """The entries of a memo file, or none when it is missing, damaged or of another format."""
    data = read_regular_file(path, MAX_MEMO_BYTES)
    try:
        found = json.loads(data) if data is not None else None
    except ValueError:
        found = None
    expected = {"format": MEMO_FORMAT, "version": MEMO_VERSION, "kind": kind}
    if not isinstance(found, dict) or any(found.get(k) != v for k, v in expected.items()):
        return {}
    entries = found.get("entries")
    return entries if isinstance(entries, dict) else {}


def write_memo(path: Path, kind: str, entries: dict[str, Any]) -> None:
    """Write a memo file atomically; a cache folder that cannot be written is only logged."""
    memo = {"format": MEMO_FORMAT, "version": MEMO_VERSION, "kind": kind, "entries": entries}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, json.dumps(memo, separators=(",", ":")).encode())
    except (OSError, SmnerError) as exc:
        log.debug("memo %s not written: %s", path, exc)


BUILDER_MODULES = ("smner_bench.loaders.builder", "smner_bench.loaders.assemble", "smner_bench.loaders.features")


@functools.cache
def code_hash() -> str:
    """A digest of the modules the builder runs: :data:`BUILDER_MODULES` and every ``smner_bench`` module
    they import, directly or not (imports inside functions included). The imports of each module are parsed
    once per source (memoised by its SHA-256 in the ``imports`` memo)."""
    memo = memo_path("imports")
    known: dict[str, Any] = read_memo(memo, "imports")
    kept: dict[str, Any] = {}

    def imports(source: bytes) -> list[list[Any]]:
        key = hashlib.sha256(source).hexdigest()
        found = known.get(key)
        if not _imports_entry(found):
            found = parse_imports(source)
        kept[key] = found
        return found

    digest = hashlib.sha256()
    for name, path in sorted(builder_modules(imports=imports).items()):
        digest.update(f"{name}\0".encode() + path.read_bytes())
    if kept != known:
        write_memo(memo, "imports", kept)
    return digest.hexdigest()[:16]


def builder_modules(
    roots: tuple[str, ...] = BUILDER_MODULES,
    package: str = "smner_bench",
    *,
    imports: Callable[[bytes], list[list[Any]]] | None = None,
) -> dict[str, Path]:
    """Module name -> file of ``roots`` and the modules of ``package`` they import (read from their source,
    importing none of them: only the packages above them, so that the key is computed without ``datasets``).
    ``imports`` gives a module's import statements from its source (by default :func:`parse_imports`)."""
    imports = imports or parse_imports
    found: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        spec = None if name in found else _spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        found[name] = path = Path(spec.origin)
        parent = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for level, module, names in imports(path.read_bytes()):
            if level < 0:  # import a.b, c
                todo += names
                continue
            base = module
            if level:
                stem = parent.rsplit(".", level - 1)[0] if level > 1 else parent
                base = f"{stem}.{base}" if base else stem
            todo.append(base)
            base_spec = _spec(base) if base.startswith(package + ".") or base == package else None
            if base_spec is not None and base_spec.submodule_search_locations is not None:
                todo += [f"{base}.{alias}" for alias in names]  # `from package import module`
        todo = [m for m in todo if m == package or m.startswith(package + ".")]
    return found


def parse_imports(source: bytes) -> list[list[Any]]:
    """The import statements of a module's source, as ``[level, module, names]``: ``[-1, "", ["a.b", "c"]]`` for
    ``import a.b, c``; ``[1, "x", ["y"]]`` for ``from .x import y``; ``[0, "p", ["q"]]`` for ``from p import q``."""
    found: list[list[Any]] = []
    for node in _import_statements(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.append([-1, "", [alias.name for alias in node.names]])
        else:
            found.append([node.level, node.module or "", [alias.name for alias in node.names]])
    return found


def _imports_entry(entry: Any) -> bool:
    """Whether a memoised entry has the shape :func:`parse_imports` gives (else the source is parsed again)."""
    return isinstance(entry, list) and all(
        isinstance(item, list)
        and len(item) == 3
        and type(item[0]) is int
        and isinstance(item[1], str)
        and isinstance(item[2], list)
        and all(isinstance(n, str) for n in item[2])
        for item in entry
    )


def _import_statements(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, nested ones too (in functions, classes, ``if``, ``try``...): the
    statements' bodies only, not their expressions (an import is a statement), which is faster than ``ast.walk``."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, name, None)
            if isinstance(block, list):
                todo += block
    return found


@functools.cache
def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of module ``name`` (importing the packages above it, never the module itself)."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def file_stamp(paths: list[Path], *, by_stat: tuple[Path, ...] = (), memo: Path | None = None) -> str:
    """A digest of the names and contents (SHA-256) of every file under ``paths``: what a cache built from them
    trusts is what they hold, so an edit whose modification time was set back (``os.utime``) is seen too. Under a
    root of ``by_stat`` (the images), names, sizes, modification and change times instead (a change time cannot be
    set back). Anything but a regular file (a broken link, a link loop, a FIFO, which is never opened) is
    stamped by its own status (the reader names the problem).

    With ``memo`` (a file), a file's SHA-256 is taken from there while the file has the device, inode, size,
    modification and change times it was hashed with, and hashed again otherwise (see :data:`SETTLED_NS`): the
    digest is the same, for the cost of a ``stat``."""
    if os.name == "nt":  # there st_ctime is the creation time, which an edit leaves as it was: no memo
        memo = None
    known = read_memo(memo, "files") if memo is not None else {}
    kept: dict[str, str] = {}
    settled = time.time_ns() - SETTLED_NS  # before any file is read
    digest = hashlib.sha256()
    for root in paths:
        files = [str(root)] if root.is_file() else _walk(root)
        for path in files:
            stamp = _stamp(path, content=root not in by_stat, known=known, kept=kept, settled=settled)
            digest.update(os.fsencode(path) + f"\0{stamp}\n".encode())  # a name that is not UTF-8 keeps its bytes
    if memo is not None and kept != known:
        write_memo(memo, "files", kept)
    return digest.hexdigest()[:16]


def _walk(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found += [f"{dirpath}/{name}" for name in sorted(filenames)]
    return found


def _stamp(path: str, *, content: bool, known: dict[str, Any], kept: dict[str, str], settled: int) -> str:
    """The SHA-256 of a regular file's content (from ``known`` while its status is the one recorded there; put in
    ``kept`` when it last changed before ``settled``), else the file's type, size and times."""
    try:
        st = os.stat(path)
    except OSError:  # a broken link or a link loop
        st = os.lstat(path)
    if content and stat.S_ISREG(st.st_mode):
        status = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        recorded = known.get(path)
        if isinstance(recorded, str) and recorded.rpartition(":")[0] == status and len(recorded) == len(status) + 65:
            kept[path] = recorded
            return recorded[-64:]
        try:
            sha = sha256_file(path)
        except OSError:  # unreadable: the reader names it
            pass
        else:
            if max(st.st_ctime_ns, st.st_mtime_ns) < settled:
                kept[path] = f"{status}:{sha}"
            return sha
    return f"{stat.S_IFMT(st.st_mode)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}"
