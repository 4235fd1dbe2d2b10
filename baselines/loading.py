"""Loading local model folders with a clear error instead of a transformers traceback."""

from __future__ import annotations

import os
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError


def from_pretrained(cls, path: str | os.PathLike, what: str, **kwargs):
    """``cls.from_pretrained(path)``; a missing folder or one holding another kind of model is reported as
    such (exit code 2 / 1)."""
    if not Path(path).is_dir():
        raise MissingDataError(f"{what} folder not found", file=path)
    try:
        return cls.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataFormatError(f"not a {what} folder ({first[:200]})", file=path) from None
