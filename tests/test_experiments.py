"""The collector of the measured PLIM runs (baselines/experiments/collect.py): figures are read from the run
records and the score reports, never typed; the paired bootstrap goes into both outputs; a record without its
figures is an error naming the folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from smner_bench.benchmark.errors import DataFormatError

SCRIPT = Path(__file__).resolve().parents[1] / "baselines" / "experiments" / "collect.py"


@pytest.fixture(scope="module")
def collect():
    spec = importlib.util.spec_from_file_location("collect", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, f1: float, tp: int) -> None:
    folder.mkdir(parents=True)
    config = {"epochs": 2, "seed": 42}
    (folder / "run.json").write_text(json.dumps({"command": f"plim-train {folder.name}", "config": config}))
    epochs = [
        {"epoch": e, "loss": 1.0 / e, "dev": {"f1": 0.5 + e / 10}, "train_seconds": 60.0, "tokens_per_second": 900.0}
        for e in (1, 2)
    ]
    history = {"epochs": epochs, "best_epoch": 2, "best_dev_f1": 0.7, "seconds": 130.0}
    (folder / "history.json").write_text(json.dumps(history))
    main = {"precision": f1, "recall": f1, "f1": f1, "tp": tp, "pred": 100, "gold": 100}
    report = {"results": {"mner": main}, "submission": {"sha256": "ab" * 32}}
    (folder / "test-report.json").write_text(json.dumps(report))


def test_collect_writes_the_runs_and_the_bootstrap(collect, tmp_path, capsys):
    out = tmp_path / "runs"
    _run(out / "text", 0.70, 70)
    _run(out / "knowledge", 0.76, 76)
    boot = {"difference": 0.06, "low": 0.01, "high": 0.11, "p_value": 0.012, "resamples": 10000, "seed": 0}
    boot |= {"level": 0.95, "match": "span", "task": "mner", "f1_a": 0.76, "f1_b": 0.70}
    (out / "compare.json").write_text(json.dumps(boot))
    stem = tmp_path / "plim-minilm-twitter2017"
    collect.main(str(out), str(stem), "twitter2017", "2")
    result = json.loads(stem.with_suffix(".json").read_text())
    assert result["dataset"] == "twitter2017" and result["difference_f1"] == pytest.approx(0.06)
    assert result["significance"]["p_value"] == 0.012 and result["runs"]["knowledge"]["test"]["tp"] == 76
    md = stem.with_suffix(".md").read_text()
    assert "# PLIM with all-MiniLM-L6-v2 on Twitter-2017 (MNER, test)" in md
    assert "| knowledge | 76.00 | 76.00 | 76.00 | 70.00 | 2 (2) | 2.0 min | epochs done |" in md
    assert "+6.00 F1, 95% interval [+1.00, +11.00], p = 0.0120." in md
    assert "the paper's Table V" in md and "plim_minilm.sh twitter2017 2" in md


def test_collect_refuses_a_record_without_figures(collect, tmp_path):
    out = tmp_path / "runs"
    _run(out / "text", 0.70, 70)
    _run(out / "knowledge", 0.76, 76)
    (out / "knowledge" / "test-report.json").write_text(json.dumps({"results": {}}))
    with pytest.raises(DataFormatError, match="without the expected fields"):
        collect.main(str(out), str(tmp_path / "x"), "twitter2015")
    with pytest.raises(DataFormatError, match="unknown dataset 'nope'"):
        collect.main(str(out), str(tmp_path / "x"), "nope")
    (out / "compare.json").write_text(json.dumps({"difference": 0.1}))
    (out / "knowledge" / "test-report.json").write_text((out / "text" / "test-report.json").read_text())
    with pytest.raises(DataFormatError, match="bootstrap record without the fields"):
        collect.main(str(out), str(tmp_path / "x"), "twitter2015")
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "x.md").exists()
