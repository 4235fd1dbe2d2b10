"""How a message names the caller's argument: ``iou=`` when the library is called from Python, ``--iou`` when the
command line called it.

The library raises with its own argument names (:func:`arg`); the command line runs a command inside
:func:`command_line_flags`, with the one table that maps argument names to flags (``cli/flags.py``), and the same
messages then name the flags the user typed.

>>> f"{arg('iou')} must be in (0, 1]", f"use {arg('match', 'text')}", f"pass {arg('allow_missing', True)}"
('iou= must be in (0, 1]', "use match='text'", 'pass allow_missing=True')
>>> with command_line_flags({"max_issues": "--max-errors"}):
...     f"{arg('iou')} must be in (0, 1]", f"use {arg('match', 'text')}", arg("max_issues", metavar="N")
('--iou must be in (0, 1]', 'use --match text', '--max-errors N')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_FLAGS: ContextVar[Mapping[str, str] | None] = ContextVar("smner_bench_flags", default=None)
_UNSET: Any = object()


def arg(name: str, value: Any = _UNSET, *, metavar: str | None = None) -> str:
    """The argument ``name`` (with ``value``, or a placeholder ``metavar``) as the caller wrote it: ``name=value``
    from Python (the value's repr), ``--flag value`` on the command line (``--flag`` alone for ``True``)."""
    flags = _FLAGS.get()
    if flags is None:
        if metavar is not None:
            return f"{name}={metavar}"
        return f"{name}=" if value is _UNSET else f"{name}={value!r}"
    flag = flags.get(name, "--" + name.replace("_", "-"))
    if metavar is not None:
        return f"{flag} {metavar}"
    return flag if value is _UNSET or value is True else f"{flag} {value}"


@contextmanager
def command_line_flags(flags: Mapping[str, str]) -> Iterator[None]:
    """Within this block, :func:`arg` names flags: ``flags`` maps the argument names whose flag is not ``--`` and
    the name with dashes for underscores."""
    token = _FLAGS.set(flags)
    try:
        yield
    finally:
        _FLAGS.reset(token)
