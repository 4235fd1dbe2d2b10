"""Where the time of ``smner-bench score`` on an SMNER release goes (issue 21, "Speed and memory"), beside the
bare one-pass pycocotools loop that ``cli_perf.py`` compares it with.

The case is ``cli_perf.py``'s: a synthetic SMNER release (1,000 tweets, ~1,300 labelme polygon masks at 640x640)
and a submission of 2,500 predicted masks. Each phase is timed inside a fresh process that does what
``smner-bench score`` does, step by step (the gold cache is warm, as on every run after the first); the median
of ``--runs`` processes is printed per phase, in milliseconds of the main thread's CPU time (which the other
processes of a shared machine move much less than wall time, and numpy's spinning OpenBLAS threads not at all),
beside the whole command's and the loop's wall times, all run in turns. Phases:

  interpreter        ``python -c pass`` (both sides pay it)
  import cli         the command table and argument parsing (``smner_bench.cli``)
  import core        the scorer's modules (numpy, pydantic models, pycocotools)
  import loaders     the loaders' gold path (``load_gold``, the cache key's module)
  key: code          the digest of the builder's modules (part of the gold cache key)
  key: raw files     the digest of the raw files' content (the other part)
  read gold cache    the light gold cache file (JSON Lines, its SHA-256 checked)
  gold from rows     the ``Gold`` built from the cached rows
  RLE validation     the predicted masks' check (part of reading the submission): ``rles_valid`` on the masks
                     of each chunk of lines at once, ``rle_problem`` on those it refuses (none here)
  read submission    the rest of reading and validating the submission
  match + IoUs       ``Scorer.build`` (pycocotools mask IoUs included) and the report of every task
  print              the table

The time of the cyclic garbage collector is part of the phases; its total is printed apart.

``python -X importtime`` says which module an import phase pays for. Imports read bytecode as in ``cli_perf.py``;
with ``--source-imports`` and PYTHONDONTWRITEBYTECODE set (as in some sandboxes) every import of the package
compiles its sources instead, which the import phases then include.

Run: .venv/bin/python tests/perf/smner_breakdown.py [--runs 7] [--source-imports]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_perf import ENV, MASK_LOOP, smner_bench, smner_release, use_bytecode, wall

# Does what cli/scoring.py cmd_score does, with a clock between the steps; prints the phases as JSON.
DRIVER = r"""
import gc, json, sys, time
clock = [("start", time.thread_time())]
def mark(name):
    clock.append((name, time.thread_time()))
collecting = [0.0, 0.0]  # the cyclic collector's time, and when its pass began
def collector(phase, info):
    if phase == "start":
        collecting[1] = time.thread_time()
    else:
        collecting[0] += time.thread_time() - collecting[1]
gc.callbacks.append(collector)

import smner_bench.cli
from smner_bench.cli import build_parser
argv = ["score", sys.argv[2], "--dataset", "smner", "--split", "test", "--data-dir", sys.argv[1]]
args = build_parser("score").parse_args(argv)
mark("import cli")
from smner_bench.benchmark import submission
from smner_bench.benchmark.scoring import Scorer, format_report
mark("import core")
from smner_bench.loaders import load_gold, stamps
from smner_bench.loaders.gold_cache import header, read_gold_cache
from smner_bench.benchmark.gold import gold_of
mark("import loaders")
stamps.code_hash()
mark("key: code")
path, key = stamps.gold_cache("smner", args.data_dir, "test")
mark("key: raw files")
rows = read_gold_cache(path, header(key, "smner", "test"))
assert rows is not None, "the gold cache is cold: run the command once first"
mark("read gold cache")
gold = gold_of(rows, "smner", "test")
mark("gold from rows")
rle_time = [0.0]
def timed(checked):
    def checking(rles):
        start = time.thread_time()
        try:
            return checked(rles)
        finally:
            rle_time[0] += time.thread_time() - start
    return checking
submission.rle_problem = timed(submission.rle_problem)
submission.rles_valid = timed(submission.rles_valid)
sub = submission.read_submission(args.predictions, gold)
mark("read submission")
scorer = Scorer.build(sub, gold)
report = scorer.report(None, None, 0.5)
mark("match + IoUs")
text = format_report(report)
mark("print")
phases = {name: 1000 * (t - clock[i][1]) for i, (name, t) in enumerate(clock[1:])}
phases["read submission"] -= 1000 * rle_time[0]
phases["RLE validation"] = 1000 * rle_time[0]
phases["collector"] = 1000 * collecting[0]
print(json.dumps(phases))
"""

ORDER = ("import cli", "import core", "import loaders", "key: code", "key: raw files", "read gold cache",
         "gold from rows", "RLE validation", "read submission", "match + IoUs", "print")  # fmt: skip


def measure(cmds: dict[str, list[str]], driver: list[str], runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall time of each command and median of each phase of the driver, all run in turns (after a
    warm-up run of each), so that a load that comes and goes on a shared machine weighs on all of them."""
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    found: dict[str, list[float]] = {}
    for run in range(runs + 1):
        for name, cmd in cmds.items():
            took = wall(cmd)
            if run:
                walls[name].append(took)
        out = subprocess.run(driver, env=ENV, check=True, capture_output=True, text=True).stdout
        if run:
            for name, ms in json.loads(out.splitlines()[-1]).items():
                found.setdefault(name, []).append(ms)
    median = statistics.median
    phases = {name: median(found[name]) for name in (*ORDER, "collector")}
    return {name: median(found) for name, found in walls.items()}, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--source-imports", action="store_true", help="keep PYTHONDONTWRITEBYTECODE as it is")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if not args.source_imports:
            use_bytecode(tmp)
        data, sub, n_gold, n_pred = smner_release(tmp)
        time.sleep(3.5)  # raw files as old as a release's (the digest of a file changed < 3 s ago is never memoised)
        (tmp / "driver.py").write_text(DRIVER, encoding="utf-8")
        (tmp / "maskloop.py").write_text(MASK_LOOP, encoding="utf-8")
        score = [*smner_bench(), "score", str(sub), "--dataset", "smner", "--split", "test", "--data-dir", str(data)]
        cmds = {
            "score": score,  # its warm-up run writes the gold cache
            "loop": [sys.executable, str(tmp / "maskloop.py"), str(data), str(sub)],
            "interpreter": [sys.executable, "-c", "pass"],
        }
        walls, found = measure(cmds, [sys.executable, str(tmp / "driver.py"), str(data), str(sub)], args.runs)
    score_s, loop_s, bare_s = walls["score"], walls["loop"], walls["interpreter"]
    print(f"smner_breakdown: median of {args.runs} runs ({n_gold} gold, {n_pred} predicted masks); ms")
    print(f"  {'interpreter':18s} {1000 * bare_s:7.1f}   (wall time of python -c pass)")
    for name in ORDER:
        print(f"  {name:18s} {found[name]:7.1f}")
    collector = found.pop("collector")
    total = 1000 * bare_s + sum(found.values())
    print(f"  {'sum of phases':18s} {total:7.1f}   (of which the cyclic garbage collector {collector:.1f})")
    print(f"  {'whole command':18s} {1000 * score_s:7.1f}   pycocotools loop {1000 * loop_s:.1f}   "
          f"ratio {score_s / loop_s:.2f}x   (wall times)")  # fmt: skip
    compiled = "PYTHONDONTWRITEBYTECODE" in ENV
    print(f"  imports {'compile the sources (PYTHONDONTWRITEBYTECODE)' if compiled else 'read bytecode'}")


if __name__ == "__main__":
    main()
