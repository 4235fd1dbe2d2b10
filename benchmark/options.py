"""Small argparse types for the numeric options of every command, so that a bad value is a usage error.

argparse turns the ``ValueError``/``argparse.ArgumentTypeError`` these raise into
``smner-bench COMMAND: error: argument --x: ...`` and exit 2, before any command runs.

>>> positive_int("3"), non_negative_int("0"), unit_interval("0.5"), seed("7")
(3, 0, 0.5, 7)
>>> positive_int("0")
Traceback (most recent call last):
argparse.ArgumentTypeError: expected a positive integer (1 or more), got '0'
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .errors import shown

MAX_INT_DIGITS = 18
"""Longest integer an option accepts (fits in 64 bits): ``--resamples 1e400``-like values are refused."""


def _int(text: str) -> int:
    digits = text.strip()
    digits = digits[1:] if digits[:1] in ("+", "-") else digits
    if not digits.isdigit() or not digits.isascii():
        raise argparse.ArgumentTypeError(f"expected an integer, got {shown(text)}")
    if len(digits) > MAX_INT_DIGITS:
        raise argparse.ArgumentTypeError(f"expected an integer of at most {MAX_INT_DIGITS} digits, got {shown(text)}")
    return int(text)


def _float(text: str) -> float:
    try:
        value = float(text) if len(text) <= 64 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {shown(text)}")
    return value


def integer(text: str) -> int:
    """Any integer (at most 18 digits)."""
    return _int(text)


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for an integer in ``[low, high]``.

    >>> int_range(1, 10)("11")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: expected an integer from 1 to 10, got '11'
    """

    def parse(text: str) -> int:
        value = _int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}, got {shown(text)}")
        return value

    parse.__name__ = f"integer from {low} to {high}"
    return parse


MAX_SEED = 2**32 - 1
seed = int_range(0, MAX_SEED)
"""A random seed: 0 to 2**32 - 1, what numpy, torch and random all accept."""

MAX_RESAMPLES = 100_000
resamples = int_range(1, MAX_RESAMPLES)
"""Bootstrap resamples: 1 to 100,000 (drawn in chunks: memory does not grow with the count)."""


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: resamples, epochs, batch sizes, how many problems to list...)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (1 or more), got {shown(text)}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (an index, a count that may be zero)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {shown(text)}")
    return value


def unit_interval(text: str) -> float:
    """A number in (0, 1]: an IoU threshold, a fraction."""
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {shown(text)}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate, a temperature...)."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {shown(text)}")
    return value


def output_path(text: str) -> str:
    """A path to write: not empty (``--json ""`` must not silently write nothing). The path itself is checked by
    :mod:`smner_bench.benchmark.safe_output` when the command writes."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path to write, got an empty string")
    return text
