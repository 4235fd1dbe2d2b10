"""The ``smner-bench`` command.

The core owns the entry point; every other part (loaders, baselines, leaderboard) declares its
subcommands in its own ``cli.py`` and registers them through the ``smner_bench.commands`` entry-point
group, so that this module never imports the parts above it (and ``--help`` never imports torch).

A part's ``register(subparsers)`` adds its subcommands and sets ``func`` on each, a callable taking the
parsed arguments and returning an exit code. ``-v/--verbose`` is added here to every subcommand, so that it
works before or after the subcommand's name.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from . import __version__
from .errors import SmnerError

log = logging.getLogger("smner_bench")

EXIT_CODES = """\
exit status:
  0   success
  1   an input file is invalid: the message names the file, the line and the field
  2   usage: a bad option, a missing file or folder, an output path that is refused
  3   internal error: a bug in smner-bench, never caused by a file or an option;
      please report it with the output of the same command rerun with -v
  130 interrupted (Ctrl-C)
"""
MAX_INTERNAL_MESSAGE = 300


def _add_verbose(parser: argparse.ArgumentParser, seen: set[int]) -> None:
    """``-v/--verbose`` on every subcommand (nested ones too), without overriding a ``-v`` given earlier."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for sub in action.choices.values():
            if id(sub) in seen:
                continue  # an alias
            seen.add(id(sub))
            with contextlib.suppress(argparse.ArgumentError):  # unless the subcommand has its own -v
                sub.add_argument(
                    "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debugging details"
                )
            _add_verbose(sub, seen)


CORE_COMMANDS = ("validate", "score", "compare")


def build_parser(*, core_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; ``core_only``: the core's own subcommands alone (what :func:`main` builds to run
    one of them, so that scoring never imports the other parts' command modules)."""
    parser = argparse.ArgumentParser(
        prog="smner-bench",
        description="Datasets, scorer, baselines and leaderboard for multimodal NER on tweets.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"smner-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from .commands import register

    register(subparsers)
    if not core_only:
        for ep in sorted(entry_points(group="smner_bench.commands"), key=lambda e: e.name):
            ep.load()(subparsers)
    _add_verbose(parser, set())
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option (the top-level options take no
    value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(core_only=_command(argv) in CORE_COMMANDS)
    args = parser.parse_args(argv)
    args.argv = argv  # what cli_options.invocation records
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
        message = str(exc)
        if len(message) > MAX_INTERNAL_MESSAGE:
            message = message[:MAX_INTERNAL_MESSAGE] + "..."
        print(
            f"smner-bench {args.command}: internal error: {type(exc).__name__}: {message} "
            "(a bug: please report it, with the traceback that -v prints)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
