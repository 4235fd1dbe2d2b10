"""Before and after on one machine at one time: ``smner-bench score`` of ``cli_perf.py``'s SMNER case run by this
checkout and by another copy of the package (an older commit), in turns with the bare pycocotools loop, so that a
load that comes and goes on a shared machine weighs on all three. Prints each median and each ratio to the loop.

The other copy is any folder holding the package's top-level folders (benchmark/, loaders/, cli/...), e.g.
``git worktree add /tmp/before <commit>`` or ``git archive <commit> | tar -x -C /tmp/before``; it runs through a
``smner_bench`` package made of links to those folders, put first on PYTHONPATH. Imports read bytecode as in
``cli_perf.py`` (``--source-imports`` to keep PYTHONDONTWRITEBYTECODE as it is).

Run: .venv/bin/python tests/perf/score_ab.py --before /tmp/before [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_perf import ENV, MASK_LOOP, smner_release, use_bytecode, wall

PARTS = ("benchmark", "loaders", "formats", "leaderboard", "baselines", "cli")


def shim(tree: Path, folder: Path) -> Path:
    """A folder whose ``smner_bench`` package is made of links to ``tree``'s top-level folders."""
    package = folder / "smner_bench"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    for part in PARTS:
        if (tree / part).is_dir():
            (package / part).symlink_to((tree / part).resolve(), target_is_directory=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the other copy of the package (a checkout)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--source-imports", action="store_true", help="keep PYTHONDONTWRITEBYTECODE as it is")
    args = parser.parse_args()
    if not (args.before / "cli" / "__init__.py").is_file():
        parser.error(f"{args.before}: not a checkout of smner-bench (no cli/__init__.py)")
    py = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if not args.source_imports:
            use_bytecode(tmp)
        data, sub, n_gold, n_pred = smner_release(tmp)
        time.sleep(3.5)  # raw files as old as a release's (a fresh file's digest is never memoised)
        (tmp / "maskloop.py").write_text(MASK_LOOP, encoding="utf-8")
        score = ["-m", "smner_bench.cli", "score", str(sub), "--dataset", "smner", "--split", "test",
                 "--data-dir", str(data)]  # fmt: skip
        before_env = {**ENV, "PYTHONPATH": str(shim(args.before, tmp / "before"))}
        runs = {
            "before": lambda: wall([py, *score], env=before_env),
            "after": lambda: wall([py, *score]),
            "loop": lambda: wall([py, str(tmp / "maskloop.py"), str(data), str(sub)]),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for run in range(args.runs + 1):  # the first round is a warm-up (gold caches, bytecode)
            for name, fn in runs.items():
                took = fn()
                if run:
                    times[name].append(took)
    median = {name: statistics.median(found) for name, found in times.items()}
    print(f"score_ab: median of {args.runs} rounds in turns ({n_gold} gold, {n_pred} predicted masks); wall time")
    for name in ("before", "after", "loop"):
        print(f"  {name:7s} {median[name]:.3f} s   {median[name] / median['loop']:.2f}x the loop")
    print(f"  after / before {median['after'] / median['before']:.2f}")


if __name__ == "__main__":
    main()
