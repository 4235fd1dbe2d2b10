"""The baselines as Python functions over typed configs (issue 20): each library function called directly with a
config object, as a notebook would, on the synthetic sample with tiny models; and each command a thin adapter that
builds the same config from its options (its defaults are the config's)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import caption_ve, expansion, knowledge, ve, vg  # noqa: E402
from smner_bench.benchmark.errors import UsageError  # noqa: E402
from smner_bench.cli import main  # noqa: E402

from .servers import local_endpoint  # noqa: E402


def _paths(base, sample_dir, out) -> dict:
    return {"base": str(base), "data_dir": str(sample_dir), "images": str(sample_dir / "images"), "out": str(out)}


# --- the commands build the configs the library takes ------------------------------------------------------


def _captured(monkeypatch, module, name: str, result):
    """Replace ``module.name`` by a recorder of the config it is called with, returning ``result``."""
    seen = []
    monkeypatch.setattr(module, name, lambda config, **kw: seen.append((config, kw)) or result)
    return seen


def test_ve_vg_commands_build_the_configs_with_their_defaults(monkeypatch, sample_dir, tmp_path, capsys):
    seen = _captured(monkeypatch, ve, "train", {"history": []})
    paths = _paths(tmp_path / "base", sample_dir, tmp_path / "ve")
    argv = ["baseline", "ve-train", "--base", paths["base"], "--data-dir", paths["data_dir"], "--images",
            paths["images"], "--out", paths["out"]]  # fmt: skip
    assert main(argv) == 0
    config, kw = seen[-1]
    assert config == ve.VeConfig(**paths) and kw["command"].startswith("smner-bench baseline ve-train")
    assert (config.workers, config.image_cache_mb, config.seed, config.batch) == (2, 256, 42, 8)  # the help's
    more = ["--preset", "paper", "--epochs", "2", "--images-per-batch", "3", "--amp", "bf16", "--ve-caption",
            "--captions", "c.txt", "--expressions", "a.jsonl", "b.jsonl", "--max-train", "5",
            "--threads", "1"]  # fmt: skip
    assert main([*argv, *more]) == 0
    expected = ve.VeConfig(preset="paper", epochs=2, batch=3, mixed_precision="bf16", caption=True,
                           captions=["c.txt"], expressions=["a.jsonl", "b.jsonl"], max_train=5, threads=1,
                           **paths)  # fmt: skip
    assert seen[-1][0] == expected and expected.grad_accum == 8 and expected.keep_best  # the preset under the options
    seen = _captured(monkeypatch, vg, "train", {"history": []})
    argv = [x if x != "ve-train" else "vg-train" for x in argv]
    assert main([*argv, "--batch-size", "2", "--grad-accum", "3", "--mixed-precision", "no"]) == 0
    assert seen[-1][0] == vg.VgConfig(batch=2, grad_accum=3, mixed_precision="no", **paths)
    assert capsys.readouterr().out == ""  # another process of a launcher (no dev figures): nothing printed


def test_knowledge_expand_caption_ve_commands_build_their_configs(monkeypatch, sample_dir, tmp_path):
    result = knowledge.KnowledgeResult({}, [], tmp_path / "release")
    seen = _captured(monkeypatch, knowledge, "build", result)
    data = ["--data-dir", str(sample_dir), "--captions", str(sample_dir / "captions")]
    release = ["--llm", "replay:k.zip", "--cache", str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "release")]
    assert main(["baseline", "knowledge", *data, *release, "--splits", "test", "--dtype", "bf16"]) == 0
    config, kw = seen[-1]
    assert config == knowledge.KnowledgeConfig(
        data_dir=str(sample_dir), captions=[str(sample_dir / "captions")], splits=["test"], llm="replay:k.zip",
        cache=str(tmp_path / "c.jsonl"), out=str(tmp_path / "release"), dtype="bf16",
    )  # fmt: skip
    assert kw["report"] is print and config.top_n == 5 and config.concurrency == 4
    seen = _captured(monkeypatch, expansion, "run", expansion.ExpandResult([], 0, {}))
    out = tmp_path / "expressions.jsonl"
    argv = ["baseline", "expand", "--gold-entities", "--split", "test", *data, "--llm", "openai:m@http://127.0.0.1:9/v1",
            "--cache", str(tmp_path / "c.jsonl"), "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert seen[-1][0] == expansion.ExpandConfig(
        gold_entities=True, split="test", data_dir=str(sample_dir), captions=[str(sample_dir / "captions")],
        llm=["openai:m@http://127.0.0.1:9/v1"], cache=str(tmp_path / "c.jsonl"),
    )  # fmt: skip
    assert out.read_text() == ""  # the command writes what the library returned
    seen = _captured(monkeypatch, caption_ve, "run", {"history": []})
    argv = ["baseline", "caption-ve", "--encoder", "e", *data, "--out", str(tmp_path / "cv"), "--max-train", "3"]
    assert main(argv) == 0
    assert seen[-1][0] == caption_ve.CaptionVeConfig(
        encoder="e", data_dir=str(sample_dir), captions=[str(sample_dir / "captions")], out=str(tmp_path / "cv"),
        max_train=3,
    )  # fmt: skip


def test_configs_refuse_what_the_commands_refuse(sample_dir, tmp_path):
    from pydantic import ValidationError

    paths = _paths(tmp_path / "base", sample_dir, tmp_path / "ve")
    with pytest.raises(ValidationError, match="unknown preset 'authors': expected one of paper"):
        ve.VeConfig(preset="authors", **paths)
    for bad in ({"lr": float("nan")}, {"epochs": 0}, {"schedule": "cosine"}, {"seed": -1}, {"workers": -1}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            vg.VgConfig(**bad, **paths)
    with pytest.raises(ValidationError, match="extra"):
        ve.VeConfig(images_per_batch=4, **paths)  # one name per setting: batch
    with pytest.raises(UsageError, match="--ve-caption needs --captions"):
        ve.train(ve.VeConfig(caption=True, **paths))
    assert not (tmp_path / "ve").exists()
    k = {"data_dir": str(sample_dir), "captions": [str(sample_dir / "captions")]}
    with pytest.raises(UsageError, match="--llm, --cache, --out needed"):
        knowledge.build(knowledge.KnowledgeConfig(**k))
    only = {"prompts_only": str(tmp_path / "p.jsonl"), **k}
    with pytest.raises(UsageError, match=r"--shard-index 3 is not in 0\.\.1"):
        knowledge.build(knowledge.KnowledgeConfig(num_shards=2, shard_index=3, **only))
    with pytest.raises(UsageError, match="expected CONFIG:FOLDER"):
        knowledge.build(knowledge.KnowledgeConfig(manual_data=["x"], **only))
    e = {"split": "test", "llm": ["openai:m@http://127.0.0.1:9/v1"], "cache": str(tmp_path / "c.jsonl"), **k}
    with pytest.raises(UsageError, match="not both"):
        expansion.run(expansion.ExpandConfig(predictions="p.jsonl", gold_entities=True, **e))
    with pytest.raises(UsageError, match="no expansion expressions"):
        expansion.run(expansion.ExpandConfig(gold_entities=True, **{**e, "llm": ["replay:k.zip"]}))
    assert not (tmp_path / "p.jsonl").exists() and not (tmp_path / "c.jsonl").exists()


# --- the library functions, called directly ----------------------------------------------------------------


def test_ve_train_from_a_config(matcher_dir, sample, sample_dir, tmp_path):
    config = ve.VeConfig(preset="paper", epochs=1, grad_accum=2, max_train=6, workers=0,
                         **_paths(matcher_dir, sample_dir, tmp_path / "ve"))  # fmt: skip
    meta = ve.train(config, progress=False)
    assert json.loads((tmp_path / "ve" / "ve.json").read_text()) == meta and "command" not in meta
    assert meta["preset"] == "paper" and meta["lr"] == 2e-5 and meta["weight_decay"] == 0.2  # the preset's
    assert (meta["epochs"], meta["grad_accum"], meta["train_items"], meta["global_batch"]) == (1, 2, 6, 8)
    assert meta["expressions"] == [] and meta["caption"] is False and meta["history"][0]["best"] is True
    dev = ve.ve_items(sample["validation"], sample_dir / "images")
    assert 0 <= meta["threshold"] <= 1 and meta["dev"]["examples"] == len(dev)


def test_vg_train_from_a_config(grounder_dir, sample_dir, tmp_path):
    expressions = tmp_path / "expressions.jsonl"
    from smner_bench.loaders import load_split

    lines = [{"id": r["id"], "entities": [{"start": e["start"], "end": e["end"], "expression": f"{e['text']} - x"}
                                          for e in r["entities"]]}
             for split in ("train", "validation") for r in load_split("gmner", sample_dir, split)]  # fmt: skip
    expressions.write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = vg.VgConfig(expressions=[str(expressions)], max_train=2, workers=0, image_cache_mb=0,
                         **_paths(grounder_dir, sample_dir, tmp_path / "vg"))  # fmt: skip
    meta = vg.train(config, progress=False)
    assert json.loads((tmp_path / "vg" / "vg.json").read_text()) == meta
    assert meta["train_images"] == 2 and meta["expressions"] == [{"file": "expressions.jsonl", "llm": None}]
    assert meta["lr"] == 1e-5 and meta["clip"] == 0.1 and meta["preset"] is None and meta["batch_size"] == 4
    assert vg.Grounder(tmp_path / "vg").meta["expressions"] == meta["expressions"]  # read back at inference


def test_knowledge_build_from_a_config(sample_dir, sample_encoder, tmp_path):
    from smner_bench.loaders import load
    from smner_bench.loaders.knowledge import read_knowledge

    lines = []
    config = knowledge.KnowledgeConfig(
        data_dir=str(sample_dir), captions=[str(sample_dir / "captions")], splits=["validation", "test"],
        llm=f"replay:{sample_dir / 'knowledge.zip'}", cache=str(tmp_path / "answers.jsonl"), out=str(tmp_path / "k"),
    )  # fmt: skip
    result = knowledge.build(config, report=lines.append)
    assert lines == ["validation: 12 tweets (0 cached answers, 12 new)", "test: 12 tweets (0 cached answers, 12 new)"]
    released = load("gmner", sample_dir, knowledge=sample_dir / "knowledge.zip", cache_dir=tmp_path / "hf")
    for split in ("validation", "test"):  # the release written holds the answers replayed, word for word
        assert [r.knowledge for r in read_knowledge(result.written, split)[1]] == [
            r["knowledge"] for r in released[split]
        ]
        assert all(result.knowledge[r["id"]] == r["knowledge"] for r in released[split])
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "2099train.txt").write_text("s0001\r\nNamed entities: 1. Moonlit Saga (other)\r\n", encoding="utf-8")
    (manual / "2099train_GPT.txt").write_text("s0001\r\n['Moonlit Saga', 'OTHER']\r\n", encoding="utf-8")
    prompts = knowledge.KnowledgeConfig(
        data_dir=str(sample_dir), captions=[str(sample_dir / "captions")], splits=["test"], manual=[str(manual)],
        encoder=str(sample_encoder), top_n=1, prompts_only=str(tmp_path / "prompts.jsonl"),
    )  # fmt: skip
    lines.clear()
    result = knowledge.build(prompts, report=lines.append)
    assert lines[0].startswith("MSEA example pool: 1 of 1 manual annotations") and lines[1] == "test: 12 prompts"
    written = [json.loads(x) for x in (tmp_path / "prompts.jsonl").read_text().splitlines()]
    assert written == result.prompts and len(written) == 12 and all(x["examples"] == ["s0001"] for x in written)


class _Thing(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that answers every prompt "A thing."."""

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        reply = {"choices": [{"message": {"role": "assistant", "content": "A thing."}}]}
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(reply).encode())


def test_expansion_run_from_a_config(sample_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with local_endpoint(_Thing) as url:
        config = expansion.ExpandConfig(
            gold_entities=True, split="test", data_dir=str(sample_dir), captions=[str(sample_dir / "captions")],
            llm=[f"openai:m@{url}"], cache=str(tmp_path / "answers.jsonl"),
        )  # fmt: skip
        result = expansion.run(config)
    entities = [e for line in result.lines for e in line["entities"]]
    assert len(result.lines) == 12 and result.entities == len(entities) > 0
    assert all(e["expressions"] == {f"openai:m@{url}": f"{e['text']} ({e['type']}) - A thing."} for e in entities)
    assert len((tmp_path / "answers.jsonl").read_text().splitlines()) == result.entities  # cached for a rerun
    assert list(result.llms) == [f"openai:m@{url}"] and result.llms[f"openai:m@{url}"].skipped == 0


def test_caption_ve_run_from_a_config(sample_dir, sample_encoder, tmp_path):
    config = caption_ve.CaptionVeConfig(encoder=str(sample_encoder), data_dir=str(sample_dir),
                                        captions=[str(sample_dir / "captions")], out=str(tmp_path / "cv"),
                                        max_train=8, batch_size=4, max_length=48)  # fmt: skip
    results = caption_ve.run(config, progress=False)
    assert json.loads((tmp_path / "cv" / "results.json").read_text()) == results and "command" not in results
    assert results["train_examples"] == 8 and results["batch_size"] == 4 and results["test"]["examples"] > 0
    assert caption_ve.load_caption_ve(tmp_path / "cv" / "model")[2]["threshold"] == results["threshold"]


def test_plim_train_from_a_config_records_the_run(sample_dir, sample_encoder, tmp_path, capsys):
    from smner_bench.baselines.plim.config import PlimConfig
    from smner_bench.baselines.plim.train import train

    # max_train_tweets beyond the split's 36 tweets: all of them (it crashed with an IndexError, exit 3)
    cfg = PlimConfig.from_preset("minilm", encoder=str(sample_encoder), data_dir=str(sample_dir),
                                 out=str(tmp_path / "plim"), epochs=1, batch_size=8, max_length=64,
                                 max_train_tweets=1000)  # fmt: skip
    history = train(cfg, progress=False)
    assert history["best_epoch"] == 1 and (tmp_path / "plim" / "best" / "model.pt").is_file()
    assert json.loads((tmp_path / "plim" / "run.json").read_text()) == {"command": None, "config": cfg.model_dump()}
    # the command: the same function; a device it cannot train on leaves no run folder (it left one with run.json)
    argv = ["baseline", "plim-train", "--encoder", str(sample_encoder), "--data-dir", str(sample_dir), "--out"]
    assert main([*argv, str(tmp_path / "p2"), "--device", "cuda:1"]) == 2
    assert "CUDA_VISIBLE_DEVICES" in capsys.readouterr().err and not (tmp_path / "p2").exists()
