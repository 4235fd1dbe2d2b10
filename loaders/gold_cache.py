"""The light gold cache: the gold of one split as JSON Lines, read by :func:`~smner_bench.loaders.gold.load_gold`
without ``datasets`` (importing it and running the builder cost seconds; reading this file, milliseconds).

:func:`.stamps.gold_cache` names the file and its key (the builder's own cache key: a digest of the builder's code
and of the raw files' content). The first line is a
header (format, version, key, the digest of the code that turns rows into a gold, dataset, split, the number of
tweets, the SHA-256 of the rest); every other line is one tweet, exactly the record that ``Gold.checksum`` hashes,
so the SHA-256 of the rest is the gold's checksum. A file whose header or content does not match is ignored (and
rewritten by the caller): a damaged or stale cache is never an error nor a wrong score (nor a hang: anything but a
regular file there is never read). JSON only, never pickle.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from smner_bench.benchmark import gold
from smner_bench.benchmark.errors import SmnerError
from smner_bench.benchmark.safe_output import write_bytes

from .stamps import read_regular_file

log = logging.getLogger(__name__)

FORMAT = "smner-bench gold cache"
VERSION = 1


@functools.cache
def code_digest() -> str:
    """A digest of the modules that write and read the cache and build the gold from its rows."""
    digest = hashlib.sha256()
    for path in (Path(gold.__file__), Path(__file__)):
        digest.update(path.name.encode() + b"\0" + path.resolve().read_bytes())
    return digest.hexdigest()[:16]


def header(key: str, dataset: str, split: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "key": key, "code": code_digest(), "dataset": dataset, "split": split}


def write_gold_cache(path: Path, expected: dict[str, Any], records: list[bytes]) -> None:
    """Write the cache atomically (``records``: one JSON line per tweet, newline-terminated); a cache folder that
    cannot be written is only logged, scoring goes on."""
    body = b"".join(records)
    head = {**expected, "tweets": len(records), "sha256": hashlib.sha256(body).hexdigest()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, json.dumps(head, ensure_ascii=False).encode() + b"\n" + body)
    except (OSError, SmnerError) as exc:
        log.debug("gold cache %s not written: %s", path, exc)


def read_gold_cache(path: Path, expected: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The rows (the data model's fields) stored in ``path``, or None when it is missing, damaged, or written
    for another key, code, dataset or split."""
    data = read_regular_file(path)  # never a FIFO there: it would block the scorer
    if data is None:
        return None
    head, _, body = data.partition(b"\n")
    try:
        found = json.loads(head)
        if not isinstance(found, dict) or any(found.get(k) != v for k, v in expected.items()):
            return None
        if hashlib.sha256(body).hexdigest() != found["sha256"] or not body.endswith(b"\n"):
            return None
        rows = [_row(json.loads(line)) for line in body[:-1].split(b"\n")]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        log.debug("gold cache %s ignored: %s", path, exc)
        return None
    return rows if len(rows) == found["tweets"] else None


def _row(record: list[Any]) -> dict[str, Any]:
    tweet_id, tokens, width, height, entities = record
    return {
        "id": tweet_id,
        "tokens": tokens,
        "width": width,
        "height": height,
        "entities": [
            {
                "start": start,
                "end": end,
                "text": text,
                "type": kind,
                "boxes": boxes,
                "masks": [{"size": size, "counts": counts} for size, counts in masks],
            }
            for start, end, text, kind, boxes, masks in entities
        ],
    }
