"""Content digests (SHA-256) of the files a RiVEG run reads, for its stage keys, with a cache of them.

Stage keys hold what a run reads, never where it lies or when it was copied: a model folder is the list of its
files' relative names and SHA-256 digests, a data or image file its digest. Two copies of the same models, data
and images (another node, a node-local disk, a fresh copy with new modification times) give the same keys.

Hashing multi-GB checkpoints on every run would be slow, so :class:`DigestCache` keeps each file's digest with the
file's stat signature (size, mtime_ns, ctime_ns, inode, device) in ``<run>/.digests.json``: a resumed run re-hashes
only files whose signature changed. The cache is an optimisation only:

- an entry is used only when the file's whole signature is unchanged; ``ctime`` is in it, and no program can set it
  (``os.utime`` sets mtime and atime, and itself moves ctime), so an edit in place that keeps the size and restores
  the mtime is still seen. The limit: an edit that keeps size, mtime, ctime, inode and device alike, which takes
  setting the system clock back, is not seen; delete ``.digests.json`` (or use ``--force``) after such a thing;
- an entry is stored only when the file did not change while it was hashed and its times are at least
  :data:`RACY_SECONDS` old (a write in the same tick of a coarse file-system clock would keep the signature);
- a damaged, foreign or oversized cache file is ignored and rewritten; one that cannot be written is left alone
  with a warning. Neither is ever an error.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import time
from pathlib import Path

from smner_bench.benchmark.errors import MissingDataError
from smner_bench.benchmark.io import sha256_file as file_digest  # a module name: tests count its calls
from smner_bench.benchmark.safe_output import OutputError, write_json

log = logging.getLogger(__name__)

CACHE_NAME = ".digests.json"
CACHE_VERSION = 1
MAX_CACHE_BYTES = 64 << 20  # a larger file is ignored (and replaced by a smaller one)
RACY_SECONDS = 2.0  # an entry is stored only for a file whose mtime and ctime are at least this old
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _utf8(text: str) -> bool:  # a name with undecodable bytes (surrogates) is not kept in the JSON cache
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_entry(entry) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and _SHA256.fullmatch(entry["sha256"]) is not None
        and isinstance(entry.get("stat"), list)
        and len(entry["stat"]) == 5
        and all(isinstance(v, int) and not isinstance(v, bool) for v in entry["stat"])
    )


def read_cache(path: Path) -> dict[str, dict]:
    """The entries of a cache file (``{real path: {"stat": [...], "sha256": ...}}``); ``{}`` when it is missing,
    not a regular file, too large, not JSON or not a cache; entries of the wrong shape are dropped."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CACHE_BYTES:  # a FIFO is never opened
            return {}
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # missing, unreadable, not UTF-8, not JSON
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("files"), dict):
        return {}
    return {name: entry for name, entry in data["files"].items() if _valid_entry(entry)}


class DigestCache:
    """SHA-256 digests of files, remembered in ``path`` (none: in memory only) between runs."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries = read_cache(self.path) if self.path is not None else {}
        self.changed: dict[str, dict] = {}
        self.hashed = 0  # files hashed by this object (the rest came from the cache)

    def file(self, path: str | os.PathLike) -> str:
        """The digest of a regular file: from the cache when its signature is unchanged, else hashed."""
        real = os.path.realpath(path)
        try:
            before = os.stat(real)
            signature = _signature(before)
            entry = self.entries.get(real)
            if entry is not None and entry["stat"] == signature:
                return entry["sha256"]
            digest = file_digest(real)
            self.hashed += 1
            after = os.stat(real)
        except OSError as exc:
            raise MissingDataError(f"cannot read it ({exc.strerror or exc})", file=path) from None
        newest = max(after.st_mtime_ns, after.st_ctime_ns)
        settled = time.time_ns() - newest >= RACY_SECONDS * 1e9
        if _signature(after) == signature and settled and real.isprintable() and _utf8(real):
            self.entries[real] = self.changed[real] = {"stat": signature, "sha256": digest}
        return digest

    def tree(self, path: str | os.PathLike) -> list:
        """A model file as ``[name, digest]``, a folder as ``[[relative name, digest], ...]`` of every regular file
        under it, in name order; a missing path is :class:`MissingDataError`."""
        p = Path(path)
        if str(path) == "":
            raise MissingDataError("an empty path where a model file or folder was expected")
        if p.is_file():
            return [p.name, self.file(p)]
        if p.is_dir():
            files = sorted((f.relative_to(p).as_posix(), f) for f in p.rglob("*") if f.is_file())
            return [[name, self.file(f)] for name, f in files]
        raise MissingDataError("model file or folder not found", file=p)

    def save(self, inputs=()) -> None:
        """Write what was hashed since the last save, joined with what the file holds now (other shards may share
        it); a cache that cannot be written is skipped with a warning."""
        if self.path is None or not self.changed:
            return
        files = {**read_cache(self.path), **self.changed}
        try:
            write_json(self.path, {"version": CACHE_VERSION, "files": files}, inputs=inputs)
        except OutputError as exc:
            log.warning("digest cache not saved (%s): the next run hashes its files again", exc)
            return
        self.changed = {}
