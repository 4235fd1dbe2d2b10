"""Loading models with a clear error instead of a transformers traceback."""

from __future__ import annotations

import os
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError


def from_pretrained(cls, path: str | os.PathLike, what: str, **kwargs):
    """``cls.from_pretrained(path)`` (a local folder, or a hub name where a hub is reachable); a missing model
    or a folder holding another kind of model is reported as such (exit code 2 / 1)."""
    try:
        return cls.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if not Path(path).exists():
            raise MissingDataError(
                f"{what} not found: no such folder, and no model of that name ({first})", file=path
            ) from None
        raise DataFormatError(f"not a {what} folder ({first})", file=path) from None
