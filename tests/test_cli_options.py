"""The options every part shares are one definition (``benchmark/cli_options.py``): the gold source of the core's
commands, the leaderboard's, its migration and the baselines' importers accept and refuse the same things."""

from __future__ import annotations

import argparse

import pytest

from smner_bench.benchmark import cli
from smner_bench.benchmark.registry import DATASET_NAMES, MATCH_MODES
from smner_bench.leaderboard import migrate


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _gold_source(parser: argparse.ArgumentParser) -> dict:
    found = {a.dest: a for a in parser._actions if a.dest in ("dataset", "split", "data_dir", "gold")}
    return {
        "dataset": (tuple(found["dataset"].choices), found["dataset"].required),
        "split": found["split"].required,
        "exclusive": sorted(
            sorted(a.dest for a in g._group_actions) for g in parser._mutually_exclusive_groups if g.required
        ),
    }


def test_every_command_with_a_gold_source_shares_one_definition():
    root = cli.build_parser()
    parsers = {
        "score": _subparser(root, "score"),
        "validate": _subparser(root, "validate"),
        "leaderboard submit": _subparser(root, "leaderboard", "submit"),
        "import riveg": _subparser(root, "import", "riveg"),
    }
    migration = argparse.ArgumentParser()
    from smner_bench.benchmark.cli_options import add_gold_source

    add_gold_source(migration)
    expected = {"dataset": (DATASET_NAMES, True), "split": True, "exclusive": [["data_dir", "gold"]]}
    for name, parser in parsers.items():
        assert _gold_source(parser) == expected, name
    assert _gold_source(migration) == expected
    with pytest.raises(SystemExit):  # the migration's own parser refuses both sources at once
        migrate.main(["--dataset", "gmner", "--split", "test", "--data-dir", "a", "--gold", "b"])


def test_match_choices_come_from_the_registry():
    root = cli.build_parser()
    for names in (("score",), ("compare",), ("show",)):  # show: the visualizer
        parser = _subparser(root, *names)
        match = next(a for a in parser._actions if a.dest == "match")
        assert tuple(match.choices) == MATCH_MODES, names


def test_every_iou_option_is_the_same_type():
    """--iou of the scorer, the comparison, the leaderboard's submit and the visualizer: one definition, so one
    rule (a number in (0, 1]) and one message."""
    from smner_bench.benchmark.options import unit_interval

    root = cli.build_parser()
    for names in (("score",), ("compare",), ("leaderboard", "submit"), ("show",)):
        iou = next(a for a in _subparser(root, *names)._actions if a.dest == "iou")
        assert iou.type is unit_interval and iou.default == 0.5, names
    for bad, message in (("0", r"a number in \(0, 1\]"), ("1.5", r"in \(0, 1\]"), ("nan", "finite"), ("x", "number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            unit_interval(bad)


def test_runtime_options_of_the_baselines_share_one_definition():
    """--device and --threads of every baseline command come from baselines/commands/_options.py (plim-train's
    from its config model): the same default, the same type, and a help text that says where the model runs."""
    from smner_bench.benchmark.options import positive_int

    root = cli.build_parser()
    commands = [("masks",), ("run",), ("baseline", "plim-predict"), ("baseline", "plim-train")]
    commands += [("baseline", name) for name in ("ve-train", "vg-train", "caption-ve", "knowledge", "expand")]
    seen = {"device": 0, "threads": 0}
    for names in commands:
        actions = {a.dest: a for a in _subparser(root, *names)._actions}
        if "device" in actions:
            seen["device"] += 1
            # plim-train's flags derive from its config model: None means "the config's (or run file's) value"
            default = None if names == ("baseline", "plim-train") else "cpu"
            assert actions["device"].default == default and "cpu" in actions["device"].help, names
        if "threads" in actions:
            seen["threads"] += 1
            assert actions["threads"].type in (positive_int, int) and actions["threads"].default is None, names
    assert seen["device"] >= 7 and seen["threads"] >= 4, seen


def test_the_invocation_is_what_main_parsed():
    """Every record of a command (run.json, model metadata, export cards) holds the arguments main() parsed, by
    recorded_command's rule, whatever sys.argv says (a notebook, a test, a wrapper calling main(argv))."""
    import os

    from smner_bench.benchmark.cli_options import invocation

    args = argparse.Namespace(argv=["score", os.path.join(os.getcwd(), "p.jsonl"), "--json", "/elsewhere/r.json"])
    assert invocation(args) == "smner-bench score p.jsonl --json /elsewhere/r.json"
