"""The baselines' command-line entry point (``smner_bench.commands`` in pyproject.toml): the commands
themselves live in :mod:`smner_bench.baselines.commands`, a module per group."""

from __future__ import annotations

from .commands import register

__all__ = ["register"]
