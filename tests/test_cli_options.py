"""The options every command shares behave alike, seen from the command line: the gold source, ``--match``,
``--iou`` and the baselines' ``--device``. Each case runs the real command and reads its exit code and message
(nothing here reads argparse's internals): one definition of each option (``benchmark/cli_options.py``,
``benchmark/options.py``, ``baselines/commands/_options.py``) means one rule and one message everywhere."""

from __future__ import annotations

import argparse
import os

import pytest

from smner_bench.benchmark.registry import DATASET_NAMES, MATCH_MODES
from smner_bench.cli import main

GOLD_COMMANDS = {  # a command line up to its gold source, with its other required options
    "validate": ["validate", "p.jsonl"],
    "score": ["score", "p.jsonl"],
    "compare": ["compare", "a.jsonl", "b.jsonl"],
    "show": ["show", "--id", "1", "-o", "x.png"],
    "import riveg": ["import", "riveg", "--lines", "l.txt", "-o", "x.jsonl"],
    "leaderboard submit": ["leaderboard", "submit", "p.jsonl", "--meta", "m.yaml"],
    "leaderboard verify": ["leaderboard", "verify"],
}


def usage_error(capsys, argv: list[str]) -> str:
    """Run a command line that argparse must refuse; its message (exit 2)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2, argv
    return capsys.readouterr().err


@pytest.mark.parametrize("command", GOLD_COMMANDS)
def test_every_gold_source_takes_one_folder_and_a_known_dataset(command, capsys):
    argv = GOLD_COMMANDS[command]
    both = usage_error(capsys, [*argv, "--dataset", "gmner", "--split", "test", "--data-dir", "a", "--gold", "b"])
    assert "not allowed with argument" in both
    neither = usage_error(capsys, [*argv, "--dataset", "gmner", "--split", "test"])
    assert "one of the arguments --data-dir --gold is required" in neither
    unknown = usage_error(capsys, [*argv, "--dataset", "twitter2099", "--split", "test", "--gold", "g"])
    assert all(name in unknown for name in DATASET_NAMES)
    assert "--split" in usage_error(capsys, [*argv, "--dataset", "gmner", "--gold", "g"])


@pytest.mark.parametrize("command", [["score", "p.jsonl"], ["compare", "a", "b"], ["show", "--id", "1", "-o", "x.png"]])
def test_match_choices_are_the_registry_modes(command, capsys):
    err = usage_error(capsys, [*command, "--dataset", "gmner", "--split", "test", "--gold", "g", "--match", "fuzzy"])
    assert "invalid choice: 'fuzzy'" in err and all(mode in err for mode in MATCH_MODES)


@pytest.mark.parametrize(
    "command",
    [
        ["score", "p.jsonl"],
        ["compare", "a", "b"],
        ["show", "--id", "1", "-o", "x.png"],
        ["leaderboard", "submit", "p.jsonl", "--meta", "m.yaml"],
    ],
)
@pytest.mark.parametrize(("value", "message"), [("0", "(0, 1]"), ("1.5", "(0, 1]"), ("nan", "finite"), ("x", "number")])
def test_every_iou_option_has_one_rule_and_one_message(command, value, message, capsys):
    err = usage_error(capsys, [*command, "--dataset", "gmner", "--split", "test", "--gold", "g", "--iou", value])
    assert "--iou" in err and message in err


@pytest.mark.parametrize(
    "command",
    [
        ["run", "riveg", "--config", "missing.yaml"],
        ["baseline", "ve-train", "--base", "b", "--data-dir", "d", "--images", "i", "--out", "o"],
        ["baseline", "vg-train", "--base", "b", "--data-dir", "d", "--images", "i", "--out", "o"],
    ],
)
def test_threads_of_every_baseline_are_a_positive_integer(command, capsys):
    err = usage_error(capsys, [*command, "--threads", "0"])
    assert "--threads" in err and "a positive integer (1 or more)" in err


def test_every_command_lists_its_options_in_help(capsys):
    """Every command of the table adds its options and a help that names them (nothing fails to register)."""
    from smner_bench.cli import COMMANDS

    for command in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([command.name, "--help"])
        out = capsys.readouterr().out
        assert exc.value.code == 0 and out.startswith(f"usage: smner-bench {command.name}"), command.name
        assert command.help.split()[0] in out


def test_the_invocation_is_what_main_parsed():
    """Every record of a command (run.json, model metadata, export cards) holds the arguments main() parsed, by
    recorded_command's rule, whatever sys.argv says (a notebook, a test, a wrapper calling main(argv))."""
    from smner_bench.benchmark.cli_options import invocation

    args = argparse.Namespace(argv=["score", os.path.join(os.getcwd(), "p.jsonl"), "--json", "/elsewhere/r.json"])
    assert invocation(args) == "smner-bench score p.jsonl --json /elsewhere/r.json"
