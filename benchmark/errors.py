"""Exception classes that carry the file/line/field context of a problem.

Library code raises these; the command line turns them into one clear message and a non-zero exit.
"""

from __future__ import annotations

from os import PathLike


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
