"""The ``smner-bench`` command.

The core owns the entry point; every other part (loaders, baselines, leaderboard) declares its
subcommands in its own ``cli.py`` and registers them through the ``smner_bench.commands`` entry-point
group, so that this module never imports the parts above it (and ``--help`` never imports torch).

A part's ``register(subparsers)`` adds its subcommands and sets ``func`` on each, a callable taking the
parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from . import __version__
from .errors import SmnerError

log = logging.getLogger("smner_bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smner-bench",
        description="Datasets, scorer, baselines and leaderboard for multimodal NER on tweets.",
    )
    parser.add_argument("--version", action="version", version=f"smner-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from .commands import register

    register(subparsers)
    for ep in sorted(entry_points(group="smner_bench.commands"), key=lambda e: e.name):
        ep.load()(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SmnerError as exc:
        print(f"smner-bench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"smner-bench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if args.verbose:
            raise
        print(
            f"smner-bench {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(rerun with -v for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
