"""The paper's recipes (issue 11, part 2): VE/VG presets with gradient accumulation, schedules and the best dev
epoch; PLIM paper presets without early stopping; several expression sources; the caption in the VE input;
the expansion prompt and templates; captions and descriptions in the runner. Tiny random models."""

from __future__ import annotations

import json

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import tiny  # noqa: E402
from smner_bench.baselines.plim.config import PRESETS, PlimConfig  # noqa: E402
from smner_bench.baselines.training import fit, resolve_recipe  # noqa: E402
from smner_bench.baselines.ve import VE_PRESETS  # noqa: E402
from smner_bench.baselines.vg import VG_PRESETS  # noqa: E402
from smner_bench.benchmark.cli import main  # noqa: E402
from smner_bench.loaders import load  # noqa: E402


@pytest.fixture(scope="module")
def sample(sample_dir, hf_cache):
    return load("gmner", sample_dir, cache_dir=hf_cache)


@pytest.fixture(scope="module")
def words(sample):
    return sorted({t for split in sample.values() for r in split for t in r["tokens"]})


@pytest.fixture(scope="module")
def matcher_dir(tmp_path_factory, words):
    return tiny.save_image_text_matcher(tmp_path_factory.mktemp("ve") / "matcher", words)


@pytest.fixture(scope="module")
def grounder_dir(tmp_path_factory, words):
    return tiny.save_grounder(tmp_path_factory.mktemp("vg") / "grounder", words)


# --- the training loop -------------------------------------------------------------------------------------


def _linear_fit(batch_size: int, grad_accum: int, **kw):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    xs = torch.randn(8, 3)
    ys = torch.randn(8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def loss_of(batch):
        idx = torch.tensor(batch)
        return ((model(xs[idx]).squeeze(-1) - ys[idx]) ** 2).mean()

    history = fit(
        model,
        opt,
        list(range(8)),
        loss_of,
        epochs=kw.pop("epochs", 2),
        batch_size=batch_size,
        seed=1,
        clip=1e9,
        desc="t",
        progress=False,
        grad_accum=grad_accum,
        **kw,
    )
    return model, history


def test_gradient_accumulation_equals_the_global_batch():
    """2 batches of 2 accumulated = 1 batch of 4 (same shuffle, SGD, constant rate)."""
    a, _ = _linear_fit(2, 2)
    b, _ = _linear_fit(4, 1)
    c, _ = _linear_fit(2, 1)
    assert torch.allclose(a.weight, b.weight, atol=1e-6) and torch.allclose(a.bias, b.bias, atol=1e-6)
    assert not torch.allclose(a.weight, c.weight, atol=1e-4)  # twice as many steps: not the same


def test_warmup_and_linear_decay_reach_zero():
    _, history = _linear_fit(2, 2, epochs=3, schedule="linear", warmup_ratio=0.5)
    assert [h["lr"] for h in history][-1] == 0.0
    # 4 batches of 2 = 2 steps an epoch, 6 in all, 3 of warmup: 2/3 of the rate after epoch 1, the top after 3 steps
    assert history[0]["lr"] == pytest.approx(0.1 * 2 / 3)
    assert history[1]["lr"] == pytest.approx(0.1 * 2 / 3)  # step 4 of 6: a third of the decay


def test_best_dev_epoch_is_restored_and_every_epoch_runs():
    snapshots, scores = [], iter([0.2, 0.9, 0.1, 0.3])
    holder = {}

    def evaluate():
        snapshots.append(holder["model"].weight.detach().clone())
        return next(scores)

    torch.manual_seed(0)
    model = holder["model"] = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    xs = torch.randn(6, 3)
    history = fit(
        model,
        opt,
        list(range(6)),
        lambda b: model(xs[torch.tensor(b)]).pow(2).mean(),
        epochs=4,
        batch_size=3,
        seed=0,
        clip=1e9,
        desc="t",
        progress=False,
        evaluate=evaluate,
    )
    assert len(history) == 4 and [h["best"] for h in history] == [False, True, False, False]
    assert [h["dev"] for h in history] == [0.2, 0.9, 0.1, 0.3]
    assert torch.equal(model.weight, snapshots[1])


def test_resolve_recipe_preset_then_options():
    r = resolve_recipe({"lr": 1.0, "epochs": 1, "batch": 8}, VE_PRESETS, "paper", {"epochs": 2, "lr": None})
    assert r["epochs"] == 2 and r["lr"] == 2e-5 and r["grad_accum"] == 8 and r["preset"] == "paper"
    assert VG_PRESETS["paper"]["epochs"] == 10 and VG_PRESETS["paper"]["lr"] == 3e-5
    assert VE_PRESETS["paper"]["batch"] * VE_PRESETS["paper"]["grad_accum"] == 32  # the authors' global batch


def test_plim_paper_presets_do_not_stop_early():
    for name in ("bert-base", "xlmr-large-twitter2015", "xlmr-large-twitter2017", "xlmr-large-gmner"):
        cfg = PlimConfig.from_preset(name, encoder="e", data_dir="d", out="o")
        assert cfg.patience is None and cfg.epochs == PRESETS[name]["epochs"]
    assert PlimConfig.from_preset("bert-base", encoder="e", data_dir="d", out="o", patience=2).patience == 2
    assert PlimConfig.from_preset("minilm", encoder="e", data_dir="d", out="o").patience == 3


# --- the commands ------------------------------------------------------------------------------------------


def test_preset_paper_resolved_settings_in_the_metadata(matcher_dir, grounder_dir, sample_dir, tmp_path):
    common = ["--data-dir", str(sample_dir), "--images", str(sample_dir / "images"), "--max-train", "6"]
    args = ["--preset", "paper", "--epochs", "2", "--grad-accum", "2"]
    assert main(["baseline", "ve-train", "--base", str(matcher_dir), "--out", str(tmp_path / "ve"), *common, *args]) == 0
    assert main(["baseline", "vg-train", "--base", str(grounder_dir), "--out", str(tmp_path / "vg"), *common, *args]) == 0
    ve = json.loads((tmp_path / "ve" / "ve.json").read_text())
    vg = json.loads((tmp_path / "vg" / "vg.json").read_text())
    for meta, lr, wd in ((ve, 2e-5, 0.2), (vg, 3e-5, 0.01)):
        assert meta["preset"] == "paper" and meta["epochs"] == 2 and meta["grad_accum"] == 2  # options win
        assert meta["lr"] == lr and meta["weight_decay"] == wd and meta["batch"] == 4
        assert meta["schedule"] == "linear" and meta["warmup_ratio"] == 0.06 and meta["keep_best"] is True
        assert meta["clip"] == 1.0 and len(meta["history"]) == 2 and sum(h["best"] for h in meta["history"]) == 1
        assert all("dev" in h for h in meta["history"])
    plain = tmp_path / "plain"
    assert main(["baseline", "ve-train", "--base", str(matcher_dir), "--out", str(plain), *common]) == 0
    meta = json.loads((plain / "ve.json").read_text())
    assert meta["preset"] is None and meta["epochs"] == 1 and meta["schedule"] == "constant"
    assert meta["keep_best"] is False and "dev" not in meta["history"][0]
