"""The answer cache: JSON Lines, one answer per line, keyed by the SHA-256 of backend, model, the request's key
(the tweet id, when the request has one) and the prompt.

Answers are appended and flushed one by one as they arrive, so an interrupted run keeps everything it got; a
line cut by the interruption (the start of a record) is ignored (and counted) when the cache is read again. Any
other line that is not such a record (garbage, another file's lines, edited values) is an error naming the line
(exit 1): answers are never guessed from it.

The cache file is the command's own output, checked like any other (``benchmark/safe_output.py``) before it is
read: a folder, FIFO or device, a dangling symbolic link, an input of the command or a missing parent folder
is refused (exit 2); a symbolic link to a file is followed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable

from smner_bench.benchmark.errors import DataFormatError
from smner_bench.benchmark.safe_output import append_file, output_file

log = logging.getLogger(__name__)


def prompt_key(backend: str, model: str, prompt: str, key: str | None = None) -> str:
    return hashlib.sha256(f"{backend}\0{model}\0{key or ''}\0{prompt}".encode()).hexdigest()


RECORD_START = '{"key": "'  # how every line this cache writes begins


def _record(raw: bytes):
    """A line's JSON value, or None for a line an interruption cut: empty, or the start of a record that does
    not parse (any other line that is not JSON is returned as itself, and refused by the caller)."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        if text.startswith(RECORD_START) or RECORD_START.startswith(text):
            return None
        return text


class AnswerCache:
    def __init__(self, path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = ()) -> None:
        self.shown = path
        self.inputs = list(inputs)
        self.path = output_file(path, inputs=self.inputs)  # a regular file (or none), never an input
        self.answers: dict[str, str] = {}
        self.broken_lines = 0
        if self.path.is_file():
            for n, raw in enumerate(self.path.read_bytes().split(b"\n"), start=1):
                record = _record(raw)
                if record is None:  # a line cut by an interruption
                    self.broken_lines += bool(raw)
                    continue
                fields = (record.get("key"), record.get("answer")) if isinstance(record, dict) else (None, None)
                if not all(isinstance(value, str) for value in fields):
                    raise DataFormatError(
                        'not an answer of this cache (expected {"key": "...", "answer": "..."}): an edited or '
                        "foreign file? (delete the line, or the file, to ask again)",
                        file=self.shown,
                        line=n,
                    )
                self.answers[record["key"]] = record["answer"]
            if self.broken_lines:
                log.warning("%s: %d unreadable lines ignored (an interrupted write)", self.path, self.broken_lines)
        self._file = None

    def __len__(self) -> int:
        return len(self.answers)

    def get(self, key: str) -> str | None:
        return self.answers.get(key)

    def put(self, key: str, answer: str, **meta: str) -> None:
        if self._file is None:
            cut = self.path.is_file() and self.path.stat().st_size and not self.path.read_bytes().endswith(b"\n")
            self._file = append_file(self.shown, inputs=self.inputs)  # kept open while answering
            if cut:  # end the line an interruption cut, so the next answer starts a line of its own
                self._file.write("\n")
        self._file.write(json.dumps({"key": key, **meta, "answer": answer}, ensure_ascii=False) + "\n")
        self._file.flush()
        self.answers[key] = answer

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
