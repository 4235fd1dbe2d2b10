"""Exception classes that carry the file/line/field context of a problem.

Library code raises these; the command line turns them into one clear message and a non-zero exit.
"""

from __future__ import annotations

from os import PathLike
from typing import Any


class SmnerError(Exception):
    """Base class of every error smner-bench raises on purpose.

    ``exit_code`` is what the command line exits with: 1 for invalid input files, 2 for bad usage or
    missing data.

    >>> str(SmnerError("an unknown tag 'B-FOO'", file="train.txt", line=12, field="tag"))
    "train.txt:12: tag: an unknown tag 'B-FOO'"
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        if self.field:
            where += f"{self.field}: "
        return where + self.message


class DataFormatError(SmnerError):
    """A raw data file (CoNLL, XML, JSON, knowledge, captions) does not follow its format."""


class MissingDataError(SmnerError):
    """A file or folder that is needed does not exist."""

    exit_code = 2


class UsageError(SmnerError):
    """The caller asked for something that does not exist (an unknown config, split, option...)."""

    exit_code = 2


def shown(value: Any, limit: int = 40, *, quote: bool = True) -> str:
    """A user's value as a message shows it: at most ``limit`` characters of it, then ``...`` when it was cut (and,
    for a string, its length); ``repr`` (a string quoted, so that spaces, control characters and an empty string are
    visible), or, with ``quote`` false, as one line of text (whitespace runs made one space). The one way every
    message shortens what it echoes.

    >>> shown("B-FOO"), shown(3.5), shown("x" * 50, 8), shown("one   line", quote=False)
    ("'B-FOO'", '3.5', "'xxxxxxxx'... (50 characters)", 'one line')
    """
    if not quote:
        text = " ".join(str(value).split())
        return text if len(text) <= limit else text[:limit] + "..."
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def validation_problems(exc, limit: int = 160) -> list[tuple[str | None, str]]:
    """``(field, message)`` of each problem of a pydantic ``ValidationError``: the field as a dotted path (None
    for the whole value), the message on one line, cut to ``limit`` characters, without pydantic's echo of the
    input and its "For further information visit ..." line (a user's value is never echoed whole).

    >>> from pydantic import BaseModel, Field, ValidationError
    >>> class Point(BaseModel):
    ...     x: int = Field(ge=0)
    >>> try:
    ...     Point(x=-1)
    ... except ValidationError as exc:
    ...     print(validation_problems(exc))
    [('x', 'Input should be greater than or equal to 0')]
    """
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(p) for p in err["loc"]) or None
        message = " ".join(str(err["msg"]).removeprefix("Value error, ").split())  # a validator's own words
        if len(message) > limit:
            message = message[: limit - 1] + "\u2026"
        out.append((where, message))
    return out


def validation_message(exc, limit: int = 160) -> str:
    """The first problem of a pydantic ``ValidationError`` on one line, ``field: message (and N more)``: for a
    message that names no file (the file is named by the caller's error)."""
    field, message = first_problem(exc, limit)
    return f"{field}: {message}" if field else message


def first_problem(exc, limit: int = 160) -> tuple[str | None, str]:
    """The first problem of a pydantic ``ValidationError`` as ``(field, message)``, the message saying how many
    others there are: what an error raised from it names (``SmnerError(message, field=field)``)."""
    problems = validation_problems(exc, limit) or [(None, "invalid")]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0][0], problems[0][1] + more
