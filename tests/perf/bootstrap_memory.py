"""Peak memory of the bootstrap (issue 21, "Speed and memory"): ``paired_bootstrap`` and ``bootstrap_interval`` on
per-tweet counts of Twitter-2015 test's size (3,257 tweets, synthetic counts), at 1,000, 10,000 and 100,000
resamples (the most the command line allows): target < 500 MB at any count.

Each case runs in a fresh process and prints the peak that ``tracemalloc`` traced (numpy's arrays included) and
the growth of the process's peak resident memory (``ru_maxrss``) over what it held after its imports, with the
time taken. The code before chunking (one (resamples, tweets) draw, kept below as the reference) is run at
1,000 and 10,000 resamples only: at 100,000 its weights alone are 100,000 x 3,257 x 8 bytes = 2.6 GB (and as
much again converted to floats for the sums).

Run: .venv/bin/python tests/perf/bootstrap_memory.py [--tweets 3257]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CASE = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
from smner_bench.benchmark.metrics import f1_from_counts
from smner_bench.benchmark.significance import bootstrap_interval, paired_bootstrap

def unchunked(a, b, resamples, seed=0):
    n = a[0].size
    w = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    return f1_from_counts(*(w @ c.astype(np.float64) for c in a)) - f1_from_counts(
        *(w @ c.astype(np.float64) for c in b))

kind, n, resamples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
def system():
    gold, pred = rng.integers(0, 4, n), rng.integers(0, 4, n)
    return np.minimum(gold, pred), pred, gold
a, b = system(), system()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
start = time.perf_counter()
if kind == "paired":
    paired_bootstrap(a, b, resamples=resamples)
elif kind == "interval":
    bootstrap_interval(a, resamples=resamples)
else:
    unchunked(a, b, resamples)
took = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1]
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"traced": peak, "rss": grown * 1024, "seconds": took}))
"""


def run(kind: str, tweets: int, resamples: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CASE, kind, str(tweets), str(resamples)], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tweets", type=int, default=3257, help="tweets counted (Twitter-2015 test: 3,257)")
    args = parser.parse_args()
    print(f"bootstrap_memory: {args.tweets} tweets; peak traced / peak RSS growth / time; target < 500 MB")
    cases = [("paired", r) for r in (1000, 10_000, 100_000)] + [("interval", 100_000)]
    cases += [("unchunked", r) for r in (1000, 10_000)]
    for kind, resamples in cases:
        found = run(kind, args.tweets, resamples)
        name = {"paired": "paired_bootstrap", "interval": "bootstrap_interval", "unchunked": "before (unchunked)"}
        print(f"  {name[kind]:20s} {resamples:7,d} resamples  {found['traced'] / 2**20:8.1f} MB traced  "
              f"{found['rss'] / 2**20:8.1f} MB RSS  {found['seconds']:6.2f} s")  # fmt: skip
    print(f"  before (unchunked)   100,000 resamples  not run: {100_000 * args.tweets * 8 / 2**30:.1f} GiB of weights")


if __name__ == "__main__":
    main()
