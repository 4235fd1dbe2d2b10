"""The answer cache: JSON Lines, one answer per line, keyed by the SHA-256 of backend, model, the request's key
(the tweet id, when the request has one) and the prompt.

Answers are appended and flushed one by one as they arrive, so an interrupted run keeps everything it got; a
line cut by the interruption is ignored (and counted) when the cache is read again.

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

from smner_bench.benchmark.safe_output import append_file, output_file

log = logging.getLogger(__name__)


def prompt_key(backend: str, model: str, prompt: str, key: str | None = None) -> str:
    return hashlib.sha256(f"{backend}\0{model}\0{key or ''}\0{prompt}".encode()).hexdigest()


class AnswerCache:
    def __init__(self, path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = ()) -> None:
        self.shown = path
        self.inputs = list(inputs)
        self.path = output_file(path, inputs=self.inputs)  # a regular file (or none), never an input
        self.answers: dict[str, str] = {}
        self.broken_lines = 0
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    self.answers[record["key"]] = record["answer"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    self.broken_lines += 1
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
