"""MSEA example selection without leakage: one pool (all manual annotations minus the evaluated dataset's dev/test
tweets, matched by id and by normalised text), never the prompted tweet, prompts independent of sharding, a warning
when the pool is small, ``baseline knowledge --prompts-only``, and the runner's knowledge stage using the same pool.

Real data: PGIM's manual annotations of Twitter-2015/2017 against Twitter-GMNER v2.0 (81 of the 325 annotated tweets
are Twitter-GMNER dev or test tweets). The encoder is the tiny random BERT of ``baselines/tiny.py``."""

from __future__ import annotations

import json
import logging

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import tiny  # noqa: E402
from smner_bench.baselines.knowledge import example_pool, msea_prompts  # noqa: E402
from smner_bench.baselines.msea import Example, normalized_text  # noqa: E402
from smner_bench.baselines.providers.encoder import Encoder  # noqa: E402
from smner_bench.cli import main  # noqa: E402
from smner_bench.loaders import read_captions, read_conll  # noqa: E402


@pytest.fixture(scope="module")
def real(data_root):
    """Paths of the real releases this file uses."""
    gmner = data_root / "twitter-gmner" / "v2.0"
    return {
        "gmner": gmner,
        "manual": [data_root / "manual-annotations" / "2015", data_root / "manual-annotations" / "2017"],
        "manual_data": [f"twitter2015:{data_root / 'twitter2015'}", f"twitter2017:{data_root / 'twitter2017'}"],
        "blip2": [data_root / "captions" / "BLIP2_15.txt", data_root / "captions" / "BLIP2_17.txt"],
        "captions": data_root / "captions",
        "held": {split: read_conll(gmner / name) for split, name in (("validation", "dev.txt"), ("test", "test.txt"))},
        "train": read_conll(gmner / "train.txt"),
    }


@pytest.fixture(scope="module")
def real_pool(real):
    captions, descriptions = read_captions(real["blip2"])
    return example_pool(real["manual"], real["manual_data"], {**descriptions, **captions}, data_dir=real["gmner"])


@pytest.fixture(scope="module")
def encoder_dir(real, tmp_path_factory):
    words = {t for tweets in real["held"].values() for tw in tweets for t in tw.tokens}
    return tiny.save_encoder(tmp_path_factory.mktemp("msea-encoder") / "encoder", sorted(words))


def _held_out(real):
    ids = {t.id for tweets in real["held"].values() for t in tweets}
    texts = {normalized_text(" ".join(t.tokens)) for tweets in real["held"].values() for t in tweets}
    return ids, texts - {""}


# --- the pool on the real data ------------------------------------------------------------------------------


def test_real_pool_holds_out_every_gmner_dev_and_test_tweet(real, real_pool):
    assert real_pool.annotations == 325  # 123 of Twitter-2015 + 202 of Twitter-2017 with a written analysis
    assert real_pool.without_text == [] and real_pool.without_image == []
    assert {s: len(v) for s, v in real_pool.held_out.items()} == {"validation": 43, "test": 39}
    # the same tweet under two ids: annotation O_1761 (a Twitter-GMNER test tweet) is dev tweet O_1517
    assert real_pool.by_text == [("O_1761", "validation", "O_1517")]
    assert len(real_pool.examples) == 325 - 81
    ids, texts = _held_out(real)
    assert not {e.id for e in real_pool.examples} & ids
    assert not {normalized_text(e.text) for e in real_pool.examples} & texts
    # Twitter-2015's text of a tweet, as Twitter-GMNER writes it: the same normalised text
    assert normalized_text("RT @redbullESPORTS : Smash Shiba is stoked for #NWM7 . http://t.co/hmTEF9q0gz") == (
        normalized_text("RT @ redbullESPORTS : Smash Shiba is stoked for # NWM7 .")
    )


def test_no_twitter2015_or_2017_dev_or_test_tweet_is_annotated(real, data_root):
    captions, descriptions = read_captions(real["blip2"])
    for year in ("twitter2015", "twitter2017"):
        pool = example_pool(
            real["manual"], real["manual_data"], {**descriptions, **captions}, data_dir=data_root / year
        )
        assert {s: len(v) for s, v in pool.held_out.items()} == {"validation": 0, "test": 0}
        assert len(pool.examples) == 325


# --- prompts: never the tweet itself, never a dev/test tweet, the same in every shard -------------------------


def test_prompts_only_two_shards_equal_one_run_and_never_leak(real, real_pool, encoder_dir, tmp_path, capsys):
    """The leakage test: ``--prompts-only`` on Twitter-GMNER v2.0 test with the real manual annotations."""
    common = ["baseline", "knowledge", "--dataset", "gmner", "--data-dir", str(real["gmner"]), "--splits", "test",
              "--captions", str(real["captions"]), "--manual", *map(str, real["manual"]), "--manual-data",
              *real["manual_data"], "--encoder", str(encoder_dir),
              "--features", str(tmp_path / "pool.npz")]  # fmt: skip
    assert main([*common, "--prompts-only", str(tmp_path / "all.jsonl")]) == 0
    assert "MSEA example pool: 244 of 325 manual annotations; held out 81" in capsys.readouterr().out
    parts = []
    for i in range(2):
        out = tmp_path / f"shard-{i}.jsonl"
        assert main([*common, "--num-shards", "2", "--shard-index", str(i), "--prompts-only", str(out)]) == 0
        parts.append(out.read_bytes())
    whole = (tmp_path / "all.jsonl").read_bytes()
    assert parts[0] and parts[1] and parts[0] + parts[1] == whole  # byte-identical prompts
    lines = [json.loads(x) for x in whole.decode("utf-8").splitlines()]
    assert [x["id"] for x in lines] == [t.id for t in real["held"]["test"]]
    ids, texts = _held_out(real)
    pool_ids = {e.id: e for e in real_pool.examples}
    for line in lines:
        assert len(line["examples"]) == 5 and line["id"] not in line["examples"]
        assert not set(line["examples"]) & ids
        assert all(normalized_text(pool_ids[e].text) not in texts for e in line["examples"])
        assert line["prompt"].count("\nAnswer:") == 6
    annotated = set(ids) & {i for s in ("2015", "2017") for i in _manual_ids(real, s)}
    assert len(annotated & {x["id"] for x in lines}) == 39  # the annotated test tweets are prompted, without help


def _manual_ids(real, year):
    from smner_bench.loaders import read_manual_annotations

    return [m.id for m in read_manual_annotations(real["manual"][0 if year == "2015" else 1]) if m.analysis]


def test_an_annotated_train_tweet_never_retrieves_itself(real, real_pool, encoder_dir):
    by_id = {t.id: t for t in real["train"]}
    in_pool = {e.id for e in real_pool.examples}
    chosen = sorted(in_pool & set(by_id))[:8]  # 8 of the annotated Twitter-GMNER train tweets
    rows = [{"id": i, "tokens": by_id[i].tokens} for i in chosen]
    images = {e.id: e.image for e in real_pool.examples}
    prompts = msea_prompts(rows, images, real_pool.examples, Encoder(str(encoder_dir)), n=len(real_pool.examples))
    for row, p in zip(rows, prompts, strict=True):
        key = normalized_text(" ".join(row["tokens"]))
        same = {e.id for e in real_pool.examples if e.id == row["id"] or normalized_text(e.text) == key}
        assert same, row["id"]  # each of these tweets is (a copy of) an annotated one
        assert not same & set(p.examples)
        assert len(p.examples) == len(real_pool.examples) - len(same)  # everything else is still there


class OneByOne:
    """An encoder that encodes each text alone (a batch of one): how MSEA encoded tweets before batching."""

    def __init__(self, encoder):
        self.inner, self.name = encoder, encoder.name

    def encode(self, texts):
        import numpy as np

        return np.concatenate([self.inner.encode([t]) for t in texts]) if texts else self.inner.encode([])


def test_batched_features_equal_one_by_one_on_real_tweets(real, real_pool, encoder_dir):
    """300 real Twitter-GMNER test tweets with their captions, in padded batches of 16 (lengths 4 to 60+ sub-words):
    every feature within 1e-5 of the tweet encoded alone (fp32), and the same 5 examples chosen for each."""
    import numpy as np

    from smner_bench.baselines.knowledge import example_features, tweet_features
    from smner_bench.baselines.msea import feature_text, rank

    captions, descriptions = read_captions(real["blip2"])
    images = {**descriptions, **captions}
    texts = [feature_text(" ".join(t.tokens), images.get(t.id)) for t in real["held"]["test"][:300]]
    encoder = Encoder(str(encoder_dir), batch_size=16)
    lengths = {len(encoder.tokenizer(t)["input_ids"]) for t in texts}
    assert min(lengths) < 15 and max(lengths) > 50  # batches are padded
    batched = tweet_features(encoder, texts)
    alone = OneByOne(encoder).encode(texts).astype(np.float64)
    assert batched.shape == alone.shape == (300, 32)
    assert np.abs(batched - alone).max() < 1e-5
    assert not np.allclose(batched[:-1], batched[1:])  # rows differ: nothing was broadcast by mistake
    annotated = example_features(encoder, real_pool.examples).astype(np.float64)
    assert rank(batched, annotated, 5) == rank(alone, annotated, 5)


def test_a_tweets_features_do_not_depend_on_its_batch_mates(real, encoder_dir):
    """Bit for bit: a tweet encoded among other tweets (other mates, another place in the batch, another number of
    rows) has the same features, because every batch of a length bucket has one shape. (Padding to the longest row
    changed the last bits with the mates, so a near tie between two examples could differ between a sharded run and
    a single one.)"""
    import random

    import numpy as np

    from smner_bench.baselines.knowledge import tweet_features

    texts = [" ".join(t.tokens) for t in real["held"]["test"][:200]]
    encoder = Encoder(str(encoder_dir), batch_size=8)
    rng = random.Random(0)
    for _ in range(40):
        i = rng.randrange(len(texts))
        mates_a, mates_b = rng.sample(texts, 11), rng.sample(texts, 3)
        a = tweet_features(encoder, [*mates_a[:5], texts[i], *mates_a[5:]])[5]
        b = tweet_features(encoder, [*mates_b, texts[i]])[-1]
        assert np.array_equal(a, b), texts[i]


def test_batched_prompts_equal_one_by_one_on_the_sample(sample, words, tmp_path):
    """Every sample tweet (60) prompted with the other tweets' annotations as its pool: the same prompts as when
    each tweet is encoded alone."""
    rows = [r for split in ("train", "validation", "test") for r in sample[split]]
    images = {r["id"]: r["caption"] or "" for r in rows} if "caption" in rows[0] else {}
    pool = [Example(" ".join(r["tokens"]), images.get(r["id"], ""), f"about {r['id']}", r["id"]) for r in rows[::3]]
    encoder = Encoder(str(tiny.save_encoder(tmp_path / "encoder", words)), batch_size=8)
    calls = []
    encode = encoder.encode
    encoder.encode = lambda texts, length=None: calls.append((len(texts), length)) or encode(texts, length=length)
    batched = msea_prompts(rows, images, pool, encoder, n=5)
    assert calls[0] == (20, None)  # the pool, then the tweets: one call per length bucket, not one per tweet
    assert sum(n for n, _ in calls[1:]) == 60 and 1 <= len(calls) - 1 <= 4
    assert all(length % 16 == 0 for _, length in calls[1:])
    alone = msea_prompts(rows, images, pool, OneByOne(encoder), n=5)
    assert [p.prompt for p in batched] == [p.prompt for p in alone]
    assert len({tuple(p.examples) for p in batched}) > 5  # the choice depends on the tweet


def test_a_small_pool_is_warned_about(caplog, encoder_dir):
    pool = [Example("kobe wins", "a man", "Named entities: Kobe (person)", "a"), Example("paris", "a city", "x", "b")]
    rows = [
        {"id": "t1", "tokens": ["kobe", "in", "paris"]},
        {"id": "b", "tokens": ["paris"]},
        {"id": "copy", "tokens": ["Kobe", "#", "wins", "http://t.co/x"]},  # example a under another id
    ]
    encoder = Encoder(str(encoder_dir))
    with caplog.at_level(logging.WARNING, logger="smner_bench"):
        prompts = msea_prompts(rows, {"t1": "a man"}, pool, encoder, n=5)
    assert "the MSEA example pool has 2 examples, fewer than top-n 5" in caplog.text
    assert [p.examples for p in prompts][1:] == [["a"], ["b"]]  # never the tweet itself, by id or by text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="smner_bench"):
        msea_prompts(rows, {}, pool, encoder, n=2)
    assert "2 of 3 tweets get fewer than top-n 2 in-context examples" in caplog.text  # the pool less the tweet
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="smner_bench"):
        msea_prompts(rows, {}, pool, encoder, n=1)
    assert caplog.text == ""


# --- --prompts-only on the sample, the runner's stage, bad inputs ---------------------------------------------


@pytest.fixture
def manual(tmp_path):
    """Hand-made annotations of sample tweets: s0001 (train), s0040 (dev), s0050 (test) and x1, a tweet of
    another dataset with the text of sample test tweet s0051."""
    folder = tmp_path / "manual"
    folder.mkdir()
    ids = ["s0001", "s0002", "s0003", "s0040", "s0050", "x1"]
    (folder / "2099train.txt").write_text("".join(f"{i}\r\nNamed entities: about {i}\r\n" for i in ids))
    (folder / "2099train_GPT.txt").write_text("".join(f"{i}\r\nNone\r\n" for i in ids))
    return folder


@pytest.fixture
def other(tmp_path, sample_dir):
    """A release folder holding x1 (the text of s0051) and its caption file."""
    folder = tmp_path / "other"
    folder.mkdir()
    s0051 = next(t for t in read_conll(sample_dir / "test.txt") if t.id == "s0051")
    body = "".join(f"{tok}\t{tag}\n" for tok, tag in zip(s0051.tokens, s0051.tags, strict=True))
    (folder / "train.txt").write_text(f"IMGID:x1\n{body}\n")
    (folder / "blip2.txt").write_text("x1.jpg :a caption of x1\n")
    return folder


def _sample_args(sample_dir, manual, other, encoder):
    return ["baseline", "knowledge", "--dataset", "gmner", "--data-dir", str(sample_dir), "--captions",
            str(sample_dir / "captions"), "--manual", str(manual), "--manual-data", f"gmner:{other}",
            "--manual-captions", str(sample_dir / "captions"), str(other / "blip2.txt"),
            "--encoder", str(encoder)]  # fmt: skip


def test_prompts_only_writes_the_documented_lines_and_calls_no_llm(
    sample_dir, manual, other, sample_encoder, tmp_path, capsys, monkeypatch
):
    import smner_bench.baselines.providers.llm as llm_module

    def no_llm(*args, **kwargs):
        raise AssertionError("an LLM was built")

    monkeypatch.setattr(llm_module, "llm_from_spec", no_llm)
    args = _sample_args(sample_dir, manual, other, sample_encoder)
    out = tmp_path / "prompts.jsonl"
    bogus = ["--llm", "transformers:/no/such/model", "--cache", str(tmp_path / "cache.jsonl")]
    assert main([*args, "--top-n", "2", "--prompts-only", str(out), *bogus]) == 0
    captured = capsys.readouterr()
    assert "not used with --prompts-only" in captured.err
    # x1 is s0051 under another id (held out by its text), s0040 and s0050 are dev/test tweets
    assert "MSEA example pool: 3 of 6 manual annotations; held out 3" in captured.out
    assert not (tmp_path / "cache.jsonl").exists()
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    ids = [t.id for name in ("train.txt", "dev.txt", "test.txt") for t in read_conll(sample_dir / name)]
    assert [x["id"] for x in lines] == ids and all(list(x) == ["id", "examples", "prompt"] for x in lines)
    for x in lines:
        assert set(x["examples"]) <= {"s0001", "s0002", "s0003"} and x["id"] not in x["examples"]
        assert len(x["examples"]) == 2  # s0001..s0003 get the other two
        assert x["prompt"].count("\nAnswer:") == len(x["examples"]) + 1 and x["prompt"].endswith("Answer:")
        for e in x["examples"]:
            assert f"Answer: Named entities: about {e}\n" in x["prompt"]
    # without --llm at all, and by shards
    shard = tmp_path / "shard.jsonl"
    assert main([*args, "--top-n", "2", "--splits", "test", "--num-shards", "5", "--shard-index", "4",
                 "--prompts-only", str(shard)]) == 0  # fmt: skip
    assert [json.loads(x) for x in shard.read_text().splitlines()] == lines[-2:]  # 12 tweets: 3, 3, 2, 2, 2


def test_runner_knowledge_stage_uses_the_same_pool(
    sample_dir, manual, other, sample_encoder, tmp_path, capsys, monkeypatch
):
    from smner_bench.baselines import runner
    from smner_bench.baselines.run_config import RunConfig
    from smner_bench.benchmark.errors import UsageError

    args = _sample_args(sample_dir, manual, other, sample_encoder)
    expected = tmp_path / "expected.jsonl"
    assert main([*args, "--splits", "test", "--prompts-only", str(expected)]) == 0
    expected_lines = [json.loads(x) for x in expected.read_text().splitlines()]

    seen = {}

    class Recorder:
        def generate(self, requests):
            seen.update({r.key: r.prompt for r in requests})
            return ["" for _ in requests]

    import smner_bench.baselines.providers.llm as llm_module

    monkeypatch.setattr(llm_module, "llm_from_spec", lambda *a, **k: Recorder())
    cfg = RunConfig.model_validate(
        {
            "dataset": "gmner",
            "data_dir": str(sample_dir),
            "split": "test",
            "images": str(sample_dir / "images"),
            "out": str(tmp_path / "run"),
            "captions": {"captioner": f"replay:{sample_dir / 'captions'}"},
            "knowledge": {
                "llm": "transformers:unused",
                "encoder": str(sample_encoder),
                "manual": [str(manual)],
                "manual_data": [f"gmner:{other}"],
                "manual_captions": [str(sample_dir / "captions"), str(other / "blip2.txt")],
            },
            "plim": {"checkpoint": "unused"},
            "ve": {"checkpoint": "unused"},
            "vg": {"checkpoint": "unused"},
        }
    )
    rows = runner.split_rows(cfg)
    captions = runner.run_captions(runner.Context(cfg, rows, tmp_path), {})
    for n in (1, 3):
        for i in range(n):
            part = runner.shard_rows(rows, n, i)
            ids = {r["id"] for r in part}
            ctx = runner.Context(cfg, part, tmp_path)
            runner.run_knowledge(ctx, {"captions": [c for c in captions if c["id"] in ids]})
        assert seen == {x["id"]: x["prompt"] for x in expected_lines}, n
        seen.clear()
    no_captions = cfg.model_copy(update={"knowledge": cfg.knowledge.model_copy(update={"manual_captions": []})})
    with pytest.raises(UsageError, match="manual_captions"):
        runner.run_knowledge(runner.Context(no_captions, rows, tmp_path), {"captions": captions})


def test_bad_inputs_are_clear_errors(sample_dir, manual, other, sample_encoder, tmp_path, capsys):
    args = _sample_args(sample_dir, manual, other, sample_encoder)
    out = ["--prompts-only", str(tmp_path / "p.jsonl")]
    cases = [
        (["--llm", "transformers:x"], 2, "--cache, --out needed"),
        ([*out, "--num-shards", "2", "--shard-index", "2"], 2, "--shard-index 2 is not in 0..1"),
        (
            ["--llm", "x", "--cache", "c", "--out", "o", "--num-shards", "2"],
            2,
            "--num-shards works with --prompts-only",
        ),
        ([*out, "--manual-data", "nocolon"], 2, "expected CONFIG:FOLDER"),
        ([*out, "--manual-data", f"twitter2099:{other}"], 2, "expected CONFIG:FOLDER"),
        ([*out, "--manual", str(tmp_path / "missing")], 2, "expected <year>train.txt"),
        (["--prompts-only", str(sample_dir / "captions")], 2, ""),  # a folder, an input: refused
        ([*out, "--top-n", "0"], 2, ""),
        ([*out, "--splits", "test", "test"], 2, "--splits: 'test': the test split is named twice"),
        ([*out, "--splits", "validation", "dev"], 2, "'dev': the validation split is named twice"),
        ([*out, "--splits", "tset"], 2, "--splits: unknown split 'tset' (expected train, validation (alias dev)"),
    ]
    for extra, code, message in cases:
        try:
            got = main([*args, *extra])
        except SystemExit as exc:  # argparse's own errors
            got = exc.code
        assert got == code, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
    no_encoder = [a for a in args if a not in ("--encoder", str(sample_encoder))]
    assert main([*no_encoder, *out]) == 2
    assert "--encoder is needed" in capsys.readouterr().err
    (manual / "2099train.txt").write_text("s0001\r\n")  # an id without its analysis line
    assert main([*args, *out]) == 1
    assert "odd number of non-blank lines" in capsys.readouterr().err
    (manual / "2099train.txt").write_text("zz9\r\nNamed entities: none\r\n")
    (manual / "2099train_GPT.txt").write_text("zz9\r\nNone\r\n")
    assert main([*args, *out]) == 2
    assert "none of the 1 manual annotations has a text" in capsys.readouterr().err
    assert not (tmp_path / "p.jsonl").exists()


def test_knowledge_release_of_a_split_named_by_its_alias(sample_dir, tmp_path, capsys):
    """``--splits dev`` is the validation split (its file valid.txt), as everywhere else: it was an internal error
    (KeyError) when the release was written, after every answer had been asked for."""
    from smner_bench.loaders.knowledge import read_knowledge

    args = ["baseline", "knowledge", "--data-dir", str(sample_dir), "--captions", str(sample_dir / "captions"),
            "--llm", f"replay:{sample_dir / 'knowledge.zip'}", "--cache", str(tmp_path / "c.jsonl"),
            "--out", str(tmp_path / "k"), "--splits", "dev"]  # fmt: skip
    assert main(args) == 0
    assert "validation: 12 tweets (0 cached answers, 12 new)" in capsys.readouterr().out
    files = sorted(p.name for p in (tmp_path / "k").iterdir() if not p.name.startswith("."))
    assert files == ["labels.txt", "valid.txt"]
    assert len(read_knowledge(tmp_path / "k", "validation")[1]) == 12


def test_knowledge_command_and_stage_pass_dtype_to_a_bf16_saved_encoder_and_llm(
    sample_dir, manual, other, sample_encoder, words, tmp_path, capsys, monkeypatch
):
    """``baseline knowledge --dtype bf16`` loads a bf16-saved MSEA encoder and LLM in bf16 and writes a release; the
    run file's ``knowledge`` section passes ``dtype``/``device_map``/``concurrency`` to the same constructors."""
    import smner_bench.baselines.providers.encoder as encoder_module
    import smner_bench.baselines.providers.llm as llm_module

    from .test_checkpoints import to_bf16

    encoder = to_bf16(sample_encoder, tmp_path / "encoder-bf16")
    llm = to_bf16(tiny.save_causal_lm(tmp_path / "llm", words, positions=1024), tmp_path / "llm-bf16")
    loaded = {}

    class SpyEncoder(encoder_module.Encoder):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            loaded["encoder"] = {p.dtype for p in self.model.parameters()}

    class SpyLLM(llm_module.TransformersLLM):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            loaded["llm"] = {p.dtype for p in self.network.parameters()}

    monkeypatch.setattr(encoder_module, "Encoder", SpyEncoder)
    monkeypatch.setattr(llm_module, "TransformersLLM", SpyLLM)
    args = [*_sample_args(sample_dir, manual, other, encoder), "--top-n", "1", "--splits", "test"]
    out = tmp_path / "release"
    llm_args = ["--llm", f"transformers:{llm}", "--cache", str(tmp_path / "cache.jsonl"), "--out", str(out)]
    assert main([*args, *llm_args, "--dtype", "bf16", "--concurrency", "2"]) == 0
    assert loaded == {"encoder": {torch.bfloat16}, "llm": {torch.bfloat16}}
    assert "test: 12 tweets (0 cached answers, 12 new)" in capsys.readouterr().out
    assert any(out.rglob("*")), "the release folder is empty"
    loaded.clear()
    assert main([*args, "--prompts-only", str(tmp_path / "p.jsonl")]) == 0
    assert loaded == {"encoder": {torch.float32}}  # the default loads fp32 whatever was saved
    with pytest.raises(SystemExit) as exc:  # argparse's own usage error
        main([*args, *llm_args, "--concurrency", "0"])
    assert exc.value.code == 2

    # the runner's stage: the run file's dtype and the knowledge section's device_map/concurrency reach the models
    from smner_bench.baselines import runner
    from smner_bench.baselines.run_config import RunConfig

    calls = {}

    def fake_llm(*a, **k):
        calls["llm"] = k
        return _NoLLM()

    monkeypatch.setattr(llm_module, "llm_from_spec", fake_llm)
    cfg = RunConfig.model_validate(
        {
            "dataset": "gmner", "data_dir": str(sample_dir), "split": "test", "images": str(sample_dir / "images"),
            "out": str(tmp_path / "run"), "dtype": "bf16",
            "captions": {"captioner": f"replay:{sample_dir / 'captions'}"},
            "knowledge": {
                "llm": "transformers:unused", "encoder": str(encoder), "manual": [str(manual)],
                "manual_data": [f"gmner:{other}"], "concurrency": 3, "device_map": "cpu",
                "manual_captions": [str(sample_dir / "captions"), str(other / "blip2.txt")],
            },
            "plim": {"checkpoint": "unused"}, "ve": {"checkpoint": "unused"}, "vg": {"checkpoint": "unused"},
        }
    )  # fmt: skip
    rows = runner.split_rows(cfg)
    ctx = runner.Context(cfg, rows, tmp_path)
    lines = runner.run_knowledge(ctx, {"captions": runner.run_captions(ctx, {})})
    assert len(lines) == len(rows) and loaded["encoder"] == {torch.bfloat16}
    assert (calls["llm"]["dtype"], calls["llm"]["device_map"], calls["llm"]["concurrency"]) == ("bf16", "cpu", 3)


class _NoLLM:
    def generate(self, requests):
        return ["" for _ in requests]
