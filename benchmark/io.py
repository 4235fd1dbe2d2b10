"""Reading JSON and JSON Lines with ``file:line`` errors, and SHA-256 digests of files, in one place.

Every problem a file can cause is a :class:`~smner_bench.benchmark.errors.DataFormatError` naming the file and
the line (exit 1), never a traceback. Writing is :mod:`smner_bench.benchmark.safe_output`'s (``write_json``,
``write_jsonl``...): this module only reads.

>>> parse_json('{"a": [1, 2]}')
{'a': [1, 2]}
>>> try:
...     parse_json('{"a": 1,}', file="x.json")
... except DataFormatError as exc:
...     print(exc)
x.json:1: not JSON (Expecting property name enclosed in double quotes, column 9)
>>> [value for _, value in json_lines('{"id": 1}\\n\\n{"id": 2}\\n', file="p.jsonl")]
[{'id': 1}, {'id': 2}]
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from .errors import DataFormatError

BLOCK = 1 << 20  # bytes read at a time when hashing


def parse_json(
    text: str | bytes,
    *,
    file: str | os.PathLike | None = None,
    line: int | None = None,
    problem: str = "not JSON",
    hint: str = "",
) -> Any:
    """The value of one JSON text: a whole file (the error names the line JSON stopped at) or line ``line`` of a
    JSON Lines file. ``problem`` starts the message, ``hint`` ends it (what to do about it)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = line if line is not None else exc.lineno
        raise DataFormatError(f"{problem} ({exc.msg}, column {exc.colno}){hint}", file=file, line=where) from None
    except RecursionError:
        raise DataFormatError(f"{problem} (nested too deeply){hint}", file=file, line=line) from None
    except ValueError as exc:  # an integer of more than 4300 digits; bytes that are not UTF-8
        why = f"{type(exc).__name__}: {str(exc)[:80]}"
        raise DataFormatError(f"{problem} ({why}){hint}", file=file, line=line) from None


def json_lines(
    text: str,
    *,
    file: str | os.PathLike | None = None,
    problem: str = "not JSON",
    hint: str = "",
    skip_blank: bool = True,
) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each line of a JSON Lines text (1-based; blank lines skipped unless
    ``skip_blank`` is false, when they are an error like any other line that is not JSON)."""
    for number, raw in enumerate(text.splitlines(), start=1):
        if skip_blank and not raw.strip():
            continue
        yield number, parse_json(raw, file=file, line=number, problem=problem, hint=hint)


def jsonl_text(lines: Iterable[Any]) -> str:
    """One JSON object per line (UTF-8 text, not ASCII-escaped), as every JSON Lines file of the package is written."""
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)


def sha256_stream(stream: BinaryIO, *, limit: int | None = None) -> str:
    """The SHA-256 (hex) of what ``stream`` yields to its end, read in blocks; more than ``limit`` bytes is a
    :class:`ValueError` (a bound on what a decompressing stream may yield)."""
    digest = hashlib.sha256()
    total = 0
    for block in iter(lambda: stream.read(BLOCK), b""):
        total += len(block)
        if limit is not None and total > limit:
            raise ValueError(f"more than {limit} bytes")
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 (hex) of a file's content, read in blocks (memory stays small for multi-GB checkpoints)."""
    with open(path, "rb") as f:
        return sha256_stream(f)
