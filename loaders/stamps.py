"""The builder's cache key, computed without importing ``datasets``, and where the light gold cache of a split
lives (read by the scorer's ``load_gold``: see docs/scoring.md).

:func:`cache_key` is the ``hash`` the builder gives ``datasets``: a digest of the source of the modules the builder
runs (:func:`code_hash`) and of the names and contents (SHA-256) of every raw file it reads (:func:`file_stamp`;
the images, gigabytes that no gold comes from, by name, size, modification and change time). :func:`gold_cache`
names the gold cache file of a split by the same key, so that editing a raw file or the builder's code leaves the
old file unread.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.machinery
import importlib.util
import os
import stat
from pathlib import Path

from smner_bench.benchmark.io import sha256_file
from smner_bench.benchmark.registry import canonical_split

from .configs import Sources

GOLD_CACHE_FOLDER = "smner_bench_gold"


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
    return code_hash() + "-" + file_stamp(sources.read_paths(), by_stat=by_stat)


BUILDER_MODULES = ("smner_bench.loaders.builder", "smner_bench.loaders.assemble", "smner_bench.loaders.features")


@functools.cache
def code_hash() -> str:
    """A digest of the modules the builder runs: :data:`BUILDER_MODULES` and every ``smner_bench`` module
    they import, directly or not (imports inside functions included)."""
    digest = hashlib.sha256()
    for name, path in sorted(builder_modules().items()):
        digest.update(f"{name}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def builder_modules(roots: tuple[str, ...] = BUILDER_MODULES, package: str = "smner_bench") -> dict[str, Path]:
    """Module name -> file of ``roots`` and the modules of ``package`` they import (read from their source,
    importing none of them: only the packages above them, so that the key is computed without ``datasets``)."""
    found: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        spec = None if name in found else _spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        found[name] = path = Path(spec.origin)
        parent = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _import_statements(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    stem = parent.rsplit(".", node.level - 1)[0] if node.level > 1 else parent
                    base = f"{stem}.{base}" if base else stem
                todo.append(base)
                base_spec = _spec(base) if base.startswith(package + ".") or base == package else None
                if base_spec is not None and base_spec.submodule_search_locations is not None:
                    todo += [f"{base}.{alias.name}" for alias in node.names]  # `from package import module`
        todo = [m for m in todo if m == package or m.startswith(package + ".")]
    return found


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


def file_stamp(paths: list[Path], *, by_stat: tuple[Path, ...] = ()) -> str:
    """A digest of the names and contents (SHA-256) of every file under ``paths``: what a cache built from them
    trusts is what they hold, so an edit whose modification time was set back (``os.utime``) is seen too. Under a
    root of ``by_stat`` (the images), names, sizes, modification and change times instead (a change time cannot be
    set back). Anything but a regular file (a broken link, a link loop, a FIFO, which is never opened) is
    stamped by its own status (the reader names the problem)."""
    digest = hashlib.sha256()
    for root in paths:
        files = [str(root)] if root.is_file() else _walk(root)
        for path in files:
            stamp = _stamp(path, content=root not in by_stat)
            digest.update(os.fsencode(path) + f"\0{stamp}\n".encode())  # a name that is not UTF-8 keeps its bytes
    return digest.hexdigest()[:16]


def _walk(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found += [f"{dirpath}/{name}" for name in sorted(filenames)]
    return found


def _stamp(path: str, *, content: bool) -> str:
    try:
        st = os.stat(path)
    except OSError:  # a broken link or a link loop
        st = os.lstat(path)
    if content and stat.S_ISREG(st.st_mode):
        try:
            return sha256_file(path)
        except OSError:  # unreadable: the reader names it
            pass
    return f"{stat.S_IFMT(st.st_mode)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}"
