"""The paper's recipes (issue 11, part 2): VE/VG presets with gradient accumulation, schedules and the best dev
epoch; PLIM paper presets without early stopping; several expression sources; the caption in the VE input;
the expansion prompt and templates; captions and descriptions in the runner. Tiny random models."""

from __future__ import annotations

import json

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines.plim.config import PRESETS, PlimConfig  # noqa: E402
from smner_bench.baselines.training import (  # noqa: E402
    Objective,
    Part,
    fit,
    make_accelerator,
    mixed_precision_of,
    split_batch,
)
from smner_bench.baselines.ve import PRESETS as VE_PRESETS  # noqa: E402
from smner_bench.baselines.ve import VeConfig  # noqa: E402
from smner_bench.baselines.vg import PRESETS as VG_PRESETS  # noqa: E402
from smner_bench.baselines.vg import VgConfig  # noqa: E402
from smner_bench.benchmark.errors import UsageError  # noqa: E402
from smner_bench.cli import main  # noqa: E402

# --- the training loop -------------------------------------------------------------------------------------


def _squared_error(model, batch):
    xs, ys = batch
    return ((model(xs).squeeze(-1) - ys) ** 2).mean()


class _Rows:
    """Collate: the rows of ``xs``/``ys`` of a batch of indices."""

    def __init__(self, xs, ys):
        self.xs, self.ys = xs, ys

    def __call__(self, part):
        idx = torch.tensor(part)
        return self.xs[idx], self.ys[idx]


def _linear_fit(batch_size: int, grad_accum: int, **kw):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    xs = torch.randn(8, 3)
    ys = torch.randn(8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(
        make_accelerator(),
        Objective(model, _squared_error),
        opt,
        list(range(8)),
        _Rows(xs, ys),
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


def test_split_batch_gives_every_process_its_share():
    parts = [split_batch(list(range(10, 17)), 3, r, weights=None) for r in range(3)]
    assert [p.indices for p in parts] == [(10, 11, 12), (13, 14), (15, 16)]
    assert [p.scale for p in parts] == pytest.approx([9 / 7, 6 / 7, 6 / 7])  # sum 3: the mean of the means is the mean
    weights = [0] * 10 + [1, 1, 1, 1, 1, 5, 5]
    heavy = [split_batch(list(range(10, 17)), 3, r, weights) for r in range(3)]
    assert [p.weight for p in heavy] == [3, 2, 10] and sum(p.scale for p in heavy) == pytest.approx(3.0)
    assert split_batch([1, 2], 3, 2) == Part((1,), 0.0, 0)  # an empty part: a placeholder, weight 0


def test_mixed_precision_options():
    assert mixed_precision_of("none") == "no" and mixed_precision_of("bf16") == "bf16"
    with pytest.raises(UsageError, match="expected one of no, bf16, fp16"):
        mixed_precision_of("fp8")
    with pytest.raises(UsageError, match="fp16 needs a GPU"):
        make_accelerator("cpu", "fp16")
    with pytest.raises(UsageError, match="CUDA_VISIBLE_DEVICES"):
        make_accelerator("cuda:1", "no")
    assert make_accelerator("cpu", "bf16").mixed_precision == "bf16"
    assert make_accelerator("cpu", "no").mixed_precision == "no"  # settings of an earlier training replaced


def test_warmup_and_linear_decay_reach_zero():
    _, history = _linear_fit(2, 2, epochs=3, schedule="linear", warmup_ratio=0.5)
    assert [h["lr"] for h in history][-1] == 0.0
    # 4 batches of 2 = 2 steps an epoch, 6 in all, 3 of warmup: 2/3 of the rate after epoch 1, the top after 3 steps
    assert history[0]["lr"] == pytest.approx(0.1 * 2 / 3)
    assert history[1]["lr"] == pytest.approx(0.1 * 2 / 3)  # step 4 of 6: a third of the decay


def _square(model, batch):
    return model(batch).pow(2).mean()


def _square_fit(model, lr: float, **kw):
    """``model`` fitted by SGD at ``lr`` to push its outputs on 6 random rows to 0."""
    xs = torch.randn(6, 3)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    return fit(make_accelerator(), Objective(model, _square), opt, list(range(6)), lambda part: xs[torch.tensor(part)],
               seed=0, clip=1e9, desc="t", progress=False, **kw)  # fmt: skip


def test_best_dev_epoch_is_restored_and_every_epoch_runs():
    snapshots, scores = [], iter([0.2, 0.9, 0.1, 0.3])

    def evaluate():
        snapshots.append(model.weight.detach().clone())
        return next(scores)

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    history = _square_fit(model, lr=0.5, epochs=4, batch_size=3, evaluate=evaluate)
    assert len(history) == 4 and [h["best"] for h in history] == [False, True, False, False]
    assert [h["dev"] for h in history] == [0.2, 0.9, 0.1, 0.3]
    assert torch.equal(model.weight, snapshots[1])


def test_on_epoch_can_stop_early():
    seen = []

    def on_epoch(record, improved):
        seen.append((record["epoch"], improved))
        return "enough" if record["epoch"] == 2 else None

    torch.manual_seed(0)
    history = _square_fit(
        torch.nn.Linear(3, 1), lr=0.1, epochs=5, batch_size=2, evaluate=lambda: 1.0, on_epoch=on_epoch
    )
    assert [h["epoch"] for h in history] == [1, 2] and seen == [(1, True), (2, False)]


def test_ve_vg_configs_take_the_preset_then_the_fields_given():
    paths = {"base": "b", "data_dir": "d", "images": "i", "out": "o"}
    r = VeConfig(preset="paper", epochs=2, **paths)
    assert r.epochs == 2 and r.lr == 2e-5 and r.grad_accum == 8 and r.preset == "paper"
    assert VeConfig.from_preset("paper", epochs=2, lr=None, **paths) == r  # as PlimConfig.from_preset: None not given
    assert VG_PRESETS["paper"]["epochs"] == 10 and VG_PRESETS["paper"]["lr"] == 3e-5
    assert VE_PRESETS["paper"]["batch"] * VE_PRESETS["paper"]["grad_accum"] == 32  # the authors' global batch
    for config, presets in ((VeConfig, VE_PRESETS), (VgConfig, VG_PRESETS)):
        assert {k: v for k, v in config(preset="paper", **paths).recipe().items() if k != "preset"} == presets["paper"]
    assert VgConfig(**paths).recipe() == {"epochs": 1, "lr": 1e-5, "batch": 4, "grad_accum": 1, "warmup_ratio": 0.0,
                                          "schedule": "constant", "weight_decay": 1e-4, "clip": 0.1,
                                          "keep_best": False, "preset": None}  # fmt: skip


def test_plim_paper_presets_do_not_stop_early():
    for name in ("bert-base", "xlmr-large-twitter2015", "xlmr-large-twitter2017", "xlmr-large-gmner"):
        cfg = PlimConfig.from_preset(name, encoder="e", data_dir="d", out="o")
        assert cfg.patience is None and cfg.epochs == PRESETS[name]["epochs"]
    assert PlimConfig.from_preset("bert-base", encoder="e", data_dir="d", out="o", patience=2).patience == 2
    assert PlimConfig.from_preset("minilm", encoder="e", data_dir="d", out="o").patience == 3


# --- the commands ------------------------------------------------------------------------------------------


def test_preset_paper_resolved_settings_in_the_metadata(matcher_dir, grounder_dir, sample, sample_dir, tmp_path):
    from smner_bench.baselines.vg import train_grounder, vg_images

    images = sample_dir / "images"
    common = ["--data-dir", str(sample_dir), "--images", str(images), "--max-train", "6"]
    args = ["--preset", "paper", "--epochs", "2", "--grad-accum", "2"]
    assert (
        main(["baseline", "ve-train", "--base", str(matcher_dir), "--out", str(tmp_path / "ve"), *common, *args]) == 0
    )
    ve = json.loads((tmp_path / "ve" / "ve.json").read_text())
    paths = {"base": str(grounder_dir), "data_dir": str(sample_dir), "images": str(images), "out": str(tmp_path / "vg")}
    config = VgConfig(preset="paper", epochs=2, grad_accum=2, workers=0, **paths)
    train, dev = vg_images(sample["train"], images)[:4], vg_images(sample["validation"], images)[:2]
    vg = train_grounder(config, train, dev, progress=False)
    assert json.loads((tmp_path / "vg" / "vg.json").read_text())["history"] == vg["history"]
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


# --- expressions from several LLMs (the paper's augmented rows) --------------------------------------------


def _expression_files(sample, tmp_path):
    """Two files: the runner's kind (one ``expression``) and an expand file with two LLMs."""
    one, two = [], []
    for split in ("train", "validation"):
        for r in sample[split]:
            ents = [{"start": e["start"], "end": e["end"], "text": e["text"], "type": e["type"]} for e in r["entities"]]
            one.append({"id": r["id"], "entities": [dict(e, expression=f"{e['text']} - thing") for e in ents]})
            two.append(
                {
                    "id": r["id"],
                    "entities": [
                        dict(e, expressions={"transformers:a": f"{e['text']} - a", "openai:b@u": f"{e['text']} - b"})
                        for e in ents
                    ],
                }
            )
    paths = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    for path, lines in zip(paths, (one, two), strict=True):
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return paths


def test_several_expression_sources_each_a_training_example(matcher_dir, sample, sample_dir, tmp_path, capsys):
    from smner_bench.baselines.ve import read_expression_sets, ve_items

    one, two = _expression_files(sample, tmp_path)
    sets = read_expression_sets([one, two], every_llm=True)
    assert [s for s, _ in sets] == [
        {"file": "one.jsonl", "llm": None},
        {"file": "two.jsonl", "llm": "transformers:a"},
        {"file": "two.jsonl", "llm": "openai:b@u"},
    ]
    images = sample_dir / "images"
    single = ve_items(sample["train"], images)
    assert sum(len(ve_items(sample["train"], images, found)) for _, found in sets) == 3 * len(single)
    out = tmp_path / "ve"
    args = ["--data-dir", str(sample_dir), "--images", str(images), "--expressions", str(one), str(two)]
    assert main(["baseline", "ve-train", "--base", str(matcher_dir), "--out", str(out), *args]) == 0
    assert f"VE: {3 * len(single)} training pairs" in capsys.readouterr().out
    meta = json.loads((out / "ve.json").read_text())
    assert meta["expressions"] == [s for s, _ in sets] and meta["train_items"] == 3 * len(single)


def test_source_mismatch_note():
    from smner_bench.baselines.ve import sources_note

    trained = [{"file": "two.jsonl", "llm": "transformers:a"}, {"file": "two.jsonl", "llm": "openai:b@u"}]
    assert sources_note(trained, "transformers:a", "VE") is None
    assert sources_note(None, "transformers:z", "VE") is None  # a checkpoint without the record: nothing known
    note = sources_note(trained, "transformers:z", "the VE checkpoint x")
    assert note.startswith("the VE checkpoint x was trained on expressions from openai:b@u, transformers:a,")
    assert "this run's come from transformers:z" in note
    assert "come from Entity (TYPE)" in sources_note(trained, None, "VG")
    assert sources_note([], None, "VG") is None  # trained and used on "Entity (TYPE)"
    assert "from Entity (TYPE), this run's come from transformers:a" in sources_note([], "transformers:a", "VG")


# --- the caption in the VE input ---------------------------------------------------------------------------


def test_ve_caption_input(matcher_dir, sample, sample_dir, tmp_path, capsys):
    from smner_bench.baselines.ve import ve_items, with_caption

    assert with_caption("A dog on a sofa.", "Rex (PER)") == "A dog on a sofa. Rex (PER)"
    assert with_caption("", "Rex (PER)") == with_caption(None, "Rex (PER)") == "Rex (PER)"
    images = sample_dir / "images"
    rows = list(sample["train"])
    items = ve_items(rows, images, captions={rows[0]["id"]: "a red square"})
    assert items[0].expression.startswith("a red square. ")
    base = ["baseline", "ve-train", "--base", str(matcher_dir), "--data-dir", str(sample_dir), "--images", str(images)]
    assert main([*base, "--out", str(tmp_path / "x"), "--ve-caption"]) == 2
    assert "--ve-caption needs --captions" in capsys.readouterr().err and not (tmp_path / "x").exists()
    captions = ["--captions", str(sample_dir / "captions")]
    assert main([*base, "--out", str(tmp_path / "ve"), "--ve-caption", *captions, "--max-train", "4"]) == 0
    assert json.loads((tmp_path / "ve" / "ve.json").read_text())["caption"] is True


def test_runner_ve_uses_the_caption_as_trained_and_warns_on_another_source(
    matcher_dir, sample, sample_dir, tmp_path, caplog, monkeypatch
):
    """The VE stage reads ``caption`` from the captions stage when the checkpoint was trained with it, and
    warns when this run's expressions come from an LLM the checkpoint never saw."""
    from types import SimpleNamespace

    from smner_bench.baselines import runner
    from smner_bench.baselines.ve import ImageTextMatcher

    seen = []
    monkeypatch.setattr(ImageTextMatcher, "scores", lambda self, image, texts: seen.extend(texts) or [0.9] * len(texts))
    ckpt = tmp_path / "ve"
    shutil_copy(matcher_dir, ckpt)
    (ckpt / "ve.json").write_text(json.dumps({"threshold": 0.5, "caption": True, "expressions": []}))
    rows = [r for r in sample["test"] if r["entities"]][:2]
    cfg = SimpleNamespace(
        ve=SimpleNamespace(checkpoint=str(ckpt), threshold=None, caption=None),
        expansion=SimpleNamespace(llm="transformers:other"),
        device="cpu",
        dtype="fp32",
        images=str(sample_dir / "images"),
        workers=0,
    )
    ctx = runner.Context(cfg=cfg, rows=rows, folder=tmp_path, progress=False)
    lines = [{"id": r["id"], "entities": [dict(e, expression=f"{e['text']} - x") for e in _ents(r)]} for r in rows]
    captions = [{"id": r["id"], "caption": f"cap {k}", "description": "long"} for k, r in enumerate(rows)]
    with caplog.at_level("WARNING"):
        out = runner.run_ve(ctx, {"mner": lines, "expansion": lines, "captions": captions})
    assert seen[0] == f"cap 0. {_ents(rows[0])[0]['text']} - x"
    assert all(e["groundable"] for line in out for e in line["entities"])
    assert "trained on expressions from Entity (TYPE), this run's come from transformers:other" in caplog.text
    seen.clear()
    cfg.ve.caption = False  # the run file overrides (and is warned about)
    with caplog.at_level("WARNING"):
        runner.run_ve(ctx, {"mner": lines, "expansion": lines, "captions": captions})
    assert seen[0] == f"{_ents(rows[0])[0]['text']} - x" and "trained with the caption" in caplog.text


def _ents(row):
    return [{k: e[k] for k in ("start", "end", "text", "type")} for e in row["entities"]]


def shutil_copy(src, dst):
    import shutil

    shutil.copytree(src, dst)


# --- entity expansion --------------------------------------------------------------------------------------


def test_expansion_prompt_structure_and_templates(tmp_path):
    from smner_bench.baselines.expansion import DEMONSTRATIONS, INSTRUCTION, expand, expansion_prompt, read_template
    from smner_bench.benchmark.errors import DataFormatError, MissingDataError

    prompt = expansion_prompt("Kobe", "Kobe wins", "a man holds a ball", "PER")
    blocks = prompt.split("\n\n")
    assert blocks[0] == INSTRUCTION and len(DEMONSTRATIONS) == 3 and len(blocks) == 5
    assert all("Question:" in b and b.split("Answer: ")[1] for b in blocks[1:4])  # answered demonstrations
    assert "(ORG) in the Text?" in blocks[1]  # the demonstrations' questions name the type too
    assert blocks[-1].endswith("what is the Kobe (PER) in the Text?\nAnswer:")
    assert "Background: a man holds a ball\nText: Kobe wins" in blocks[-1]

    good = tmp_path / "t.txt"
    good.write_text("Describe {entity} [{type}] from {{ {text} }} and {description}.")
    template = read_template(good)
    for text, problem in (
        ("What is {thing}?", "unknown placeholder {thing}"),
        ("What is it? {text}", "never names the entity"),
        ("What is {entity", "not a template"),
    ):
        bad = tmp_path / "bad.txt"
        bad.write_text(text)
        with pytest.raises(DataFormatError, match=problem.replace("{", r"\{")):
            read_template(bad)
    with pytest.raises(MissingDataError):
        read_template(tmp_path / "none.txt")

    class Echo:
        def generate(self, requests):
            self.prompts = [r.prompt for r in requests]
            return ["x"] * len(requests)

    llm = Echo()
    lines = [{"id": "1", "entities": [{"start": 0, "end": 1, "text": "Kobe", "type": "PER"}]}]
    out = expand(lines, {"1": "Kobe wins"}, {"1": "a court"}, {"e": llm}, template=template)
    assert llm.prompts == ["Describe Kobe [PER] from { Kobe wins } and a court."]
    assert out[0]["entities"][0]["expressions"] == {"e": "Kobe (PER) - x"}


def test_captions_stage_carries_caption_and_description(sample, sample_dir):
    from types import SimpleNamespace

    from smner_bench.baselines import runner

    rows = list(sample["test"])[:3]
    folder = sample_dir / "captions"
    replay = "replay:" + ",".join(str(p) for p in sorted(folder.glob("*.txt")))
    cfg = SimpleNamespace(captions=SimpleNamespace(captioner=replay, describer=None, prompt=None, max_new_tokens=40))
    out = runner.run_captions(SimpleNamespace(cfg=cfg, rows=rows), {})
    for line in out:
        assert line["caption"] and line["description"].startswith("The image shows ")
        assert line["caption"] != line["description"]
    only_blip = "replay:" + str(folder / "BLIP2_sample.txt")
    cfg.captions.captioner, cfg.captions.describer = only_blip, None
    out2 = runner.run_captions(SimpleNamespace(cfg=cfg, rows=rows), {})
    assert [x["description"] for x in out2] == [x["caption"] for x in out]  # one source: the same text twice
    cfg.captions.describer = replay  # descriptions from another source
    cfg.captions.describer_prompt, cfg.captions.describer_max_new_tokens = None, 256
    assert runner.run_captions(SimpleNamespace(cfg=cfg, rows=rows), {}) == out
