"""Reading JSON, JSON Lines and YAML with ``file:line`` errors, and SHA-256 digests of files, in one place.

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
>>> try:
...     parse_yaml("split: test\\nsplit: train\\n", file="meta.yaml")
... except DataFormatError as exc:
...     print(exc)
meta.yaml:2: duplicate key 'split' (first on line 1): a YAML mapping names each key once
"""

from __future__ import annotations

import functools
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


@functools.cache
def _strict_loader():
    """A ``yaml.SafeLoader`` that refuses a mapping naming one key twice (PyYAML keeps the last value silently)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict = {}
                for key_node, _ in node.value:  # the keys written here; one merged in (<<) may be overridden
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    line = key_node.start_mark.line + 1
                    try:
                        if key in seen:
                            raise _DuplicateKey(key, seen[key], line)
                        seen[key] = line
                    except TypeError:  # an unhashable key: SafeLoader's own error follows
                        continue
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


class _DuplicateKey(Exception):
    def __init__(self, key, first: int, line: int) -> None:
        self.key, self.first, self.line = key, first, line


def parse_yaml(text: str | bytes, *, file: str | os.PathLike | None = None, problem: str = "not YAML") -> Any:
    """The value of a YAML text read safely (no Python objects), with every problem a
    :class:`~smner_bench.benchmark.errors.DataFormatError` naming ``file`` and the line: YAML syntax, nesting too
    deep, bytes that are not UTF-8, and a mapping that names a key twice (which PyYAML would silently resolve to
    the last value). The one YAML reader of the package: run files, trainer configs, meta files, published
    leaderboard entries and export cards all come through here."""
    import yaml

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"{problem} (not UTF-8 text: byte {exc.start})", file=file) from None
    try:
        return yaml.load(text, Loader=_strict_loader())  # a SafeLoader subclass
    except _DuplicateKey as dup:
        key = repr(dup.key) if len(repr(dup.key)) <= 42 else repr(dup.key)[:40] + "..."
        raise DataFormatError(
            f"duplicate key {key} (first on line {dup.first}): a YAML mapping names each key once",
            file=file,
            line=dup.line,
        ) from None
    except RecursionError:
        raise DataFormatError(f"{problem} (nested too deeply)", file=file) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        why = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark else None
        raise DataFormatError(f"{problem} ({str(why)[:200]})", file=file, line=line) from None


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
