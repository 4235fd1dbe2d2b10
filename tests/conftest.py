"""Shared fixtures: where the real data is, the synthetic sample, a private datasets cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SMNER_BENCH_DATA", ROOT.parent / "shared" / "data")).resolve()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real releases (../shared/data, or $SMNER_BENCH_DATA). Missing data fails in CI, skips elsewhere."""
    if not (DATA / "README.md").is_file():
        message = f"real data not found at {DATA} (set SMNER_BENCH_DATA)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return DATA


@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hf-cache")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    from smner_bench.loaders.sample import write_sample

    out = tmp_path_factory.mktemp("sample") / "sample"
    write_sample(out)
    return out


@pytest.fixture(scope="session")
def smner_gold(sample_dir, hf_cache):
    """The sample's SMNER test gold (boxes and masks); read only."""
    from smner_bench.benchmark.gold import gold_from_rows
    from smner_bench.loaders import load_split

    rows = load_split("smner", sample_dir, "test", cache_dir=hf_cache)
    return gold_from_rows(rows, dataset="smner", split="test", has_boxes=True, has_masks=True)


# --- the synthetic sample as a gmner config, and tiny models (VE, VG, encoder) on its words ------------------


@pytest.fixture(scope="session")
def sample(sample_dir, hf_cache):
    from smner_bench.loaders import load

    return load("gmner", sample_dir, cache_dir=hf_cache)


@pytest.fixture(scope="session")
def words(sample):
    return sorted({t for split in sample.values() for r in split for t in r["tokens"]})


@pytest.fixture(scope="session")
def matcher_dir(tmp_path_factory, words):
    from smner_bench.baselines import tiny

    return tiny.save_image_text_matcher(tmp_path_factory.mktemp("ve") / "matcher", words)


@pytest.fixture(scope="session")
def grounder_dir(tmp_path_factory, words):
    from smner_bench.baselines import tiny

    return tiny.save_grounder(tmp_path_factory.mktemp("vg") / "grounder", words)


@pytest.fixture(scope="session")
def sample_encoder(tmp_path_factory, words):
    """The tiny BERT encoder (PLIM's, MSEA's) on the sample's words."""
    from smner_bench.baselines import tiny

    return tiny.save_encoder(tmp_path_factory.mktemp("encoder") / "encoder", words)


@pytest.fixture(scope="session")
def riveg_models(tmp_path_factory, sample_dir, hf_cache):
    """Tiny models of every RiVEG stage, PLIM/VE/VG briefly trained on the sample (as ``make demo`` does), with the
    run file ``baseline tiny-models`` writes: built once per test session for every test that runs the chain or
    damages a model (they read these files, or copy them before changing one)."""
    from smner_bench.cli import main

    root = tmp_path_factory.mktemp("riveg")
    data = ["--data-dir", str(sample_dir)]
    images = ["--images", str(sample_dir / "images")]
    assert main(["baseline", "tiny-models", "--out", str(root), *data]) == 0
    assert main(["baseline", "plim-train", "--encoder", str(root / "tiny/encoder"), *data, "--knowledge",
                 str(sample_dir / "knowledge.zip"), "--out", str(root / "plim"), "--epochs", "1",
                 "--batch-size", "8", "--max-length", "96"]) == 0  # fmt: skip
    assert main(["baseline", "ve-train", "--base", str(root / "tiny/matcher"), *data, *images, "--out",
                 str(root / "ve")]) == 0  # fmt: skip
    assert main(["baseline", "vg-train", "--base", str(root / "tiny/grounder"), *data, *images, "--out",
                 str(root / "vg")]) == 0  # fmt: skip
    return root


# --- the quick run: `make test-fast` (pytest -m "not slow") leaves out what needs seconds each ------------------

SLOW_MODULES = {"test_cluster_docs", "test_distributed", "test_site_browser"}  # launchers, SLURM scripts, a browser


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` (left out of the quick run, always run by ``make test`` and CI) every test that reads the real
    releases (the ``data_root`` fixture or the ``realdata`` marker), runs a torch model (its module imports torch),
    drives launchers or a browser (:data:`SLOW_MODULES`), or runs a fuzz campaign (a ``test_fuzz_*`` module or a
    hypothesis property: hundreds of generated cases each)."""
    slow = pytest.mark.slow
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__.rsplit(".", 1)[-1] if module is not None else ""
        if (
            "data_root" in getattr(item, "fixturenames", ())
            or item.get_closest_marker("realdata") is not None
            or getattr(module, "torch", None) is not None
            or name in SLOW_MODULES
            or name.startswith("test_fuzz_")
            or getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        ):
            item.add_marker(slow)
