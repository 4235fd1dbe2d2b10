"""The ``smner-bench`` command: one static table of subcommands, above every part (docs/design.md, "Layers").

:data:`COMMANDS` names each subcommand, its one-line help, and the module and function that add its options
(``options_<name>(parser)``, which sets ``func``: a callable taking the parsed arguments and returning an exit
code). ``--help`` prints the table without importing any command module; running a command imports its module
alone, so that scoring never imports torch. Every command is a thin adapter: options -> a config -> a library
function -> print.

:func:`main` is also where errors become exit codes (:data:`EXIT_CODES`): a library error prints one line and
exits with its code, anything else is an internal error (3) whose traceback ``-v`` shows. ``-v/--verbose`` is
added to every subcommand, so that it works before or after the subcommand's name.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import select
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module

from smner_bench.benchmark import __version__
from smner_bench.benchmark.arguments import command_line_flags
from smner_bench.benchmark.errors import SmnerError, UsageError
from smner_bench.cli.flags import FLAGS

log = logging.getLogger("smner_bench")

EXIT_CODES = """\
exit status:
  0   success
  1   an input file is invalid: the message names the file, the line and the field
  2   usage: a bad option, a missing file or folder, an output path that is refused;
      the environment: a current folder deleted or not named in UTF-8, a full disk
  3   internal error: a bug in smner-bench, never caused by a file or an option;
      please report it with the output of the same command rerun with -v
  130 interrupted (Ctrl-C)
  141 standard output was closed early (`| head`): the files the command writes
      are written before it prints; nothing more is printed
"""
MAX_INTERNAL_MESSAGE = 300
CLOSED_OUTPUT = 141  # what a shell reports for a command killed by SIGPIPE (128 + 13): the output was cut short
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
CWD_GONE = "the current folder no longer exists (deleted or moved away while in use): cd to an existing folder"


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


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    module: str  # the module that defines the command
    options: str  # its function adding the options to the command's parser

    def add(self, parser: argparse.ArgumentParser) -> None:
        getattr(import_module(self.module), self.options)(parser)


_SCORING, _LOADERS = "smner_bench.cli.scoring", "smner_bench.loaders.cli"
COMMANDS: tuple[Command, ...] = (
    Command("sample", "write the synthetic sample dataset in the raw release formats", _LOADERS, "options_sample"),
    Command("prepare", "build a config from raw files and export Parquet + dataset card", _LOADERS, "options_prepare"),
    Command("stats", "per-split statistics of a config", _LOADERS, "options_stats"),
    Command("validate", "check a prediction file against the submission format", _SCORING, "options_validate"),
    Command("score", "score a prediction file (P/R/F1 of every task it supports)", _SCORING, "options_score"),
    Command("compare", "paired bootstrap test between two prediction files", _SCORING, "options_compare"),
    Command("show", "draw a tweet's gold and predicted entities, boxes and masks", _SCORING, "options_show"),
    Command(
        "import",
        "convert another system's output into a submission (MNER, or GMNER where it gives boxes)",
        "smner_bench.formats.cli",
        "options_import",
    ),
    Command(
        "gold-diff",
        "compare a gold file (release folder, export, MQSPN/UnCo JSON) with a release split",
        "smner_bench.formats.cli",
        "options_gold_diff",
    ),
    Command(
        "baseline",
        "RiVEG reference baselines: train the models, run stages one by one",
        "smner_bench.baselines.commands",
        "options_baseline",
    ),
    Command(
        "run",
        "run a whole reference pipeline from a run file (stages cached, shardable)",
        "smner_bench.baselines.commands.run",
        "options_run",
    ),
    Command(
        "masks",
        "turn any GMNER submission into an SMNER one with SAM (box prompts)",
        "smner_bench.baselines.commands.masks",
        "options_masks",
    ),
    Command(
        "leaderboard",
        "the leaderboard: submit, verify, show, render, build",
        "smner_bench.leaderboard.cli",
        "options_leaderboard",
    ),
)
"""Every subcommand, in the order ``--help`` lists them: data, scoring, formats, baselines, leaderboard."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line with every subcommand named; only ``command``'s options are added (all of them when
    ``command`` is ``"*"``: the tests' and the docs' view of the whole interface)."""
    parser = argparse.ArgumentParser(
        prog="smner-bench",
        description="Datasets, scorer, baselines and leaderboard for multimodal NER on tweets.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"smner-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for c in COMMANDS:
        sub = subparsers.add_parser(c.name, help=c.help, description=c.help)
        if command in (c.name, "*"):
            c.add(sub)
    _add_verbose(parser, set())
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option (the top-level options take no
    value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _closed(stream) -> bool:
    """Whether ``stream`` is a pipe or socket whose reader is gone (``| head`` has exited): then a BrokenPipeError
    came from writing to it, not from a connection of the command's own."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (pytest's capture): never a closed pipe
        return False
    if not hasattr(select, "poll"):  # (Windows) cannot tell: take it for the output's
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _silence(*streams) -> None:
    """The Python docs' recipe for a closed pipe: point the stream's file at /dev/null, so that nothing more written
    to it (the buffered rest, the flush at exit) fails."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in streams:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


class _Diagnostics:
    """``sys.stderr`` while a command runs: when its reader is gone (``2>&1 | head`` has exited), what is written to
    it (progress bars, log lines, messages) is dropped, instead of failing the work that wrote it (a progress bar
    of ``datasets`` then failed the gold's build)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            _silence(self._stream)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            _silence(self._stream)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _environment_problem(argv: Sequence[str]) -> str | None:
    """What in the process's environment stops every command, refused before it starts: a current folder that was
    deleted (``os.getcwd()`` fails, and every relative path with it), an argument (a path) or a current folder whose
    name is not UTF-8 (paths are written as UTF-8 to reports, caches, cards and messages)."""
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        return CWD_GONE
    for what, value in [("argument", a) for a in argv] + [("the current folder", cwd)]:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(value).decode("utf-8", "backslashreplace")
            shown = shown if len(shown) <= 100 else shown[:100] + "..."
            return f"{what} '{shown}' is not valid UTF-8: file and folder names must be UTF-8 (rename it)"
    return None


def _cwd_gone() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status (see :data:`EXIT_CODES`). Whatever the command, output to a
    closed pipe ends it quietly with :data:`CLOSED_OUTPUT`: the commands write their files before they print."""
    argv = sys.argv[1:] if argv is None else list(argv)
    failed = None
    stderr = sys.stderr
    if stderr is not None:  # (None: started with stderr closed, 2>&-)
        sys.stderr = _Diagnostics(stderr)
    try:
        try:
            code = _main(argv)
        finally:  # here, not at interpreter exit, where a closed pipe or a full disk could no longer be reported
            failed = _flush_stdout()
    except BrokenPipeError:  # only a write to a closed stdout gets here (see _main)
        _silence(sys.stdout)
        return CLOSED_OUTPUT
    finally:
        sys.stderr = stderr
    return failed or code


def _flush_stdout() -> int | None:
    if sys.stdout is None:  # started with stdout closed (>&-): print() wrote nothing
        return None
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:  # > /dev/full, a full disk: what is left unwritten is dropped
        _silence(sys.stdout)
        print(f"smner-bench: error: cannot write the standard output ({exc.strerror or exc})", file=sys.stderr)
        return UsageError.exit_code
    return None


def _main(argv: list[str]) -> int:
    parser = build_parser(_command(argv))
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
        problem = _environment_problem(argv)
        if problem:
            raise UsageError(problem)
        with command_line_flags(FLAGS):  # the library's messages name the flags, not its argument names
            return int(args.func(args) or 0)
    except SmnerError as exc:
        print(f"smner-bench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"smner-bench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if isinstance(exc, BrokenPipeError) and _closed(sys.stdout):
            raise  # the reader of our output has gone: main() ends quietly
        if isinstance(exc, OSError) and _cwd_gone():  # the current folder was deleted while the command ran
            print(f"smner-bench {args.command}: error: {CWD_GONE}", file=sys.stderr)
            return UsageError.exit_code
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:  # never a bug: the disk (or quota) is full
            where = exc.filename or "the output"
            print(f"smner-bench {args.command}: error: {exc.strerror} (writing {where})", file=sys.stderr)
            return UsageError.exit_code
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
