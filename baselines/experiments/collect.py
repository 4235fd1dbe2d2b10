"""Collect the two PLIM runs of plim_minilm_gmner.sh into <stem>.json and <stem>.md (measured, never typed)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from smner_bench.baselines.loading import read_json_file
from smner_bench.benchmark.errors import DataFormatError, SmnerError
from smner_bench.benchmark.safe_output import write_json, write_text


def machine() -> dict:
    import torch

    cpu = "unknown"
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.is_available(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _summary(run: dict, history: dict, report: dict) -> dict:
    """One run's figures; a record without them (or with text where numbers belong) raises a lookup/type error."""
    test = report["results"]["mner"]
    numbers = [test[k] for k in ("precision", "recall", "f1")] + [history["best_dev_f1"], history.get("seconds", 0)]
    if not all(isinstance(x, (int, float)) for x in numbers + [e["train_seconds"] for e in history["epochs"]]):
        raise TypeError("a figure that is not a number")
    return {
        "command": run["command"],
        "config": run["config"],
        "epochs_run": len(history["epochs"]),
        "best_epoch": history["best_epoch"],
        "dev_f1": history["best_dev_f1"],
        "train_minutes": round(sum(e["train_seconds"] for e in history["epochs"]) / 60, 1),
        "total_minutes": round(history.get("seconds", 0) / 60, 1),
        "stopped": history.get("stopped", "epochs done"),
        "tokens_per_second": [e["tokens_per_second"] for e in history["epochs"]],
        "history": history["epochs"],
        "test": {k: test[k] for k in ("precision", "recall", "f1", "tp", "pred", "gold")},
        "test_submission_sha256": report["submission"]["sha256"],
    }


def main(out: str, stem: str) -> None:
    runs = {}
    for name in ("text", "knowledge"):
        folder = Path(out) / name
        run = read_json_file(folder / "run.json", "PLIM run record")
        history = read_json_file(folder / "history.json", "PLIM training history")
        report = read_json_file(folder / "test-report.json", "score report")
        try:
            runs[name] = _summary(run, history, report)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
            raise DataFormatError(f"a run record without the expected fields ({exc!r:.100})", file=folder) from None
    result = {
        "experiment": "PLIM, all-MiniLM-L6-v2 encoder, Twitter-GMNER v2.0 (MNER), text only vs gpt-3.5-turbo knowledge",
        "scored_with": "smner-bench score --task mner --match span",
        "machine": machine(),
        "runs": runs,
        "difference_f1": runs["knowledge"]["test"]["f1"] - runs["text"]["test"]["f1"],
    }
    write_json(f"{stem}.json", result, inputs=[out])  # never over the runs it reads; the folder must exist
    m = result["machine"]
    lines = [
        "# PLIM with all-MiniLM-L6-v2 on Twitter-GMNER v2.0 (MNER, test)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu']}, torch {m['torch']}. Same seed and settings for",
        "both runs; the checkpoint with the best dev F1 is scored on test with `smner-bench score`.",
        "",
        "| run | P | R | F1 | dev F1 | epochs (best) | train time | stopped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        t = r["test"]
        lines.append(
            f"| {name} | {100 * t['precision']:.2f} | {100 * t['recall']:.2f} | {100 * t['f1']:.2f} | "
            f"{100 * r['dev_f1']:.2f} | {r['epochs_run']} ({r['best_epoch']}) | {r['train_minutes']} min | "
            f"{r['stopped']} |"
        )
    lines += [
        "",
        f"Knowledge minus text: {100 * result['difference_f1']:+.2f} F1 (the paper reports +4.7 for "
        "BERT-base trained to convergence).",
        "",
        "Commands:",
        "",
    ]
    lines += [f"- {name}: `{r['command']}`" for name, r in runs.items()]
    lines += [
        "",
        f"Reproduce both with `baselines/experiments/plim_minilm_gmner.sh {runs['text']['config']['epochs']}`.",
        "",
    ]
    write_text(f"{stem}.md", "\n".join(lines), inputs=[out])
    print("\n".join(lines))


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2])
    except SmnerError as exc:
        sys.exit(f"collect: error: {exc}")
