"""Loader performance on Twitter-GMNER v2.0 (10,000 tweets, 5,612 XML files, no images).

Prints, each as the median of several runs:
  parse      a plain-Python parse of the same raw files (CoNLL + XML readers, no datasets): the floor
  prepare    raw files -> Arrow cache (builder download_and_prepare + as_dataset), in-process, cold cache
  reload     a whole new process that calls load() on the warm cache; beside it the cost of a process
             that only imports datasets, which no loader can go below
  export     export to Parquet + dataset card, then datasets.load_dataset(folder) in-process, cold cache
Targets (issue 2): prepare <= 5 s, reload <= 1 s as a whole process, export + load_dataset <= 3 s.

Run: .venv/bin/python tests/perf/loaders_perf.py [--data-dir ../shared/data/twitter-gmner/v2.0] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import datasets

from smner_bench.loaders import load, quirk_report, read_conll, read_voc
from smner_bench.loaders.export import export

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = Path(os.environ.get("SMNER_BENCH_DATA", ROOT.parent / "shared" / "data")) / "twitter-gmner" / "v2.0"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(fn, runs: int) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    data = args.data_dir.resolve()
    datasets.disable_progress_bars()
    logging.getLogger("smner_bench").setLevel(logging.ERROR)

    def parse() -> None:
        for name in ("train.txt", "dev.txt", "test.txt"):
            read_conll(data / name)
        for xml in (data / "xml").glob("*.xml"):
            read_voc(xml)

    t_parse = median(parse, args.runs)

    with tempfile.TemporaryDirectory() as tmp:
        caches = iter(range(1000))
        t_prepare = median(lambda: load("gmner", data, cache_dir=f"{tmp}/c{next(caches)}"), args.runs)
        warm = f"{tmp}/warm"
        ds = load("gmner", data, cache_dir=warm)
        reports = quirk_report("gmner", data, cache_dir=warm)
        code = f"from smner_bench.loaders import load; load('gmner', {str(data)!r}, cache_dir={warm!r})"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        t_reload = median(lambda: subprocess.run([sys.executable, "-c", code], check=True, env=env), args.runs)
        t_import = median(lambda: subprocess.run([sys.executable, "-c", "import datasets"], check=True), args.runs)

        def export_and_read() -> None:
            out = Path(tempfile.mkdtemp(dir=tmp)) / "export"
            export("gmner", ds, reports, out)
            back = datasets.load_dataset(str(out), "gmner", cache_dir=str(out.parent / "cache"))
            assert len(back["train"]) == 7000

        t_export = median(export_and_read, args.runs)

    print(f"data: {data} ({sum(len(ds[s]) for s in ds)} tweets); median of {args.runs} runs")
    print(f"parse   (plain Python readers)             {t_parse:6.2f} s")
    print(
        f"prepare (raw -> Arrow cache, cold)         {t_prepare:6.2f} s   target <= 5 s   "
        f"{t_prepare / t_parse:4.1f}x parse"
    )
    print(
        f"reload  (whole process, warm cache)        {t_reload:6.2f} s   target <= 1 s   "
        f"(a process importing only datasets: {t_import:.2f} s; loader's own share {t_reload - t_import:.2f} s)"
    )
    print(f"export + load_dataset (cold)               {t_export:6.2f} s   target <= 3 s")


if __name__ == "__main__":
    main()
