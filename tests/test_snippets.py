"""Every code block of the README and docs/ runs as written from a fresh clone, or says why it cannot here.

A block runs in a folder of its own laid out as a clone after ``make demo``: ``../shared/data`` is the real data,
``.venv`` the environment, ``build/demo/sample`` the synthetic sample that ``make demo`` writes first. The blocks of
one document run in order in one folder (a later block may read what an earlier one wrote). The few files a
block names as the reader's own (``preds.jsonl``, ``a.jsonl``, ``b.jsonl``: prediction files) are made from the
real Twitter-GMNER v2.0 test gold before the blocks run. Blocks that need what this machine lacks (a GPU, model
weights, an LLM endpoint, hours of training, the Hub) carry ``<!-- not run: why -->`` and are still checked: their
Python compiles and their ``smner-bench`` command lines parse with the real command line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import snippets

BLOCKS = snippets.all_blocks()
RUN = [b for b in BLOCKS if b.not_run is None]


def _ids(blocks):
    return [b.where for b in blocks]


def test_blocks_are_found_and_most_run():
    assert len(BLOCKS) >= 30
    assert {b.document for b in RUN} >= {"README.md", "docs/scoring.md", "docs/formats.md"}
    assert len(RUN) >= 10


def test_a_not_run_block_says_why():
    text = "```bash\nsmner-bench stats gmner\n```\n<!-- not run: needs a GPU -->\n```python\nprint(1)\n```\n"
    lines = text.splitlines()
    assert snippets.NOT_RUN.match(lines[3])["why"] == "needs a GPU"
    assert snippets.NOT_RUN.match("<!-- not run:  -->") is None  # a reason is required


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.lang == "python"], ids=_ids([b for b in BLOCKS if b.lang == "python"])
)
def test_python_blocks_compile(block):
    compile(block.code, block.where, "exec")


COMMAND_BLOCKS = [b for b in BLOCKS if b.lang == "bash" and snippets.commands(b.code)]


@pytest.mark.parametrize("block", COMMAND_BLOCKS, ids=_ids(COMMAND_BLOCKS))
def test_command_lines_parse(block):
    from smner_bench.cli import build_parser

    parser = build_parser("*")
    for args in snippets.commands(block.code):
        if "..." in args:  # an elided command ("plim-train ..."): its name still exists
            args = args[: args.index("...")]
            assert args and args[0] in {c.name for c in __import__("smner_bench.cli").cli.COMMANDS}, args
            continue
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"{block.where}: `smner-bench {' '.join(args)}` does not parse: {err.getvalue().strip()}")


def test_the_command_checker_sees_a_bad_option():
    from smner_bench.cli import build_parser

    (args,) = snippets.commands("smner-bench score p.jsonl --dataset gmner --no-such-option \\\n  --split test  # x\n")
    assert args == ["score", "p.jsonl", "--dataset", "gmner", "--no-such-option", "--split", "test"]
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        build_parser("*").parse_args(args)


def _reader_files(folder: Path, data_root: Path) -> None:
    """preds.jsonl, a.jsonl, b.jsonl: GMNER predictions on the v2.0 test split (gold with some entities left out)."""
    from smner_bench.loaders import load_split

    rows = load_split("gmner", data_root / "twitter-gmner" / "v2.0", "test", cache_dir=folder.parent / "hf")
    for name, every in (("preds.jsonl", 4), ("a.jsonl", 5), ("b.jsonl", 3)):
        with open(folder / name, "w", encoding="utf-8") as f:
            for row in rows:
                entities = [
                    {
                        "start": e["start"],
                        "end": e["end"],
                        "type": e["type"],
                        "box": e["boxes"][0] if e["boxes"] else None,
                    }
                    for k, e in enumerate(row["entities"])
                    if k % every
                ]
                f.write(json.dumps({"id": row["id"], "entities": entities}) + "\n")


def _sandbox(tmp_path: Path, data_root: Path) -> tuple[Path, dict]:
    clone = tmp_path / "clone"
    clone.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(data_root, target_is_directory=True)
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "HF_DATASETS_CACHE": str(tmp_path / "hf"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": "",
    }
    (clone / "build" / "demo").mkdir(parents=True)  # make demo's first steps
    subprocess.run(
        [str(Path(bin_dir) / "smner-bench"), "sample", "--out", "build/demo/sample"],
        cwd=clone,
        env=env,
        check=True,
        capture_output=True,
    )
    _reader_files(clone, data_root)
    return clone, env


RUN_DOCUMENTS = sorted({b.document for b in RUN})


@pytest.mark.slow
@pytest.mark.parametrize("document", RUN_DOCUMENTS)
def test_blocks_run_as_written(document, data_root, tmp_path):
    clone, env = _sandbox(tmp_path, data_root)
    for block in (b for b in RUN if b.document == document):
        if block.lang == "python":
            command = [sys.executable, "-c", block.code]
        else:
            command = ["bash", "-e", "-o", "pipefail", "-c", block.code]
        done = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{block.where} failed ({done.returncode}):\n{block.code}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, f"{block.where}:\n{done.stderr[-3000:]}"
