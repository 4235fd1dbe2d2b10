"""PLIM on the tiny random models of ``baselines/tiny.py`` (built from configs, saved to tmp): never downloads."""

from __future__ import annotations

import itertools
import json

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import tiny  # noqa: E402
from smner_bench.baselines.plim.config import PlimConfig  # noqa: E402
from smner_bench.baselines.plim.data import collate, encode  # noqa: E402
from smner_bench.baselines.plim.model import PlimTagger  # noqa: E402
from smner_bench.baselines.plim.predict import predict  # noqa: E402
from smner_bench.baselines.plim.train import load_checkpoint, predict_tags, train  # noqa: E402
from smner_bench.benchmark.gold import gold_from_rows  # noqa: E402
from smner_bench.benchmark.submission import read_submission  # noqa: E402
from smner_bench.loaders import load_split  # noqa: E402


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, words):
    """The tiny BERT of ``baselines/tiny.py`` on the sample's words (and a few of the knowledge's), saved as a
    folder, and its tokenizer."""
    from transformers import AutoTokenizer

    folder = tiny.save_encoder(
        tmp_path_factory.mktemp("tiny-bert") / "encoder", [*words, "named", "entities", "person", "##s"]
    )
    return folder, AutoTokenizer.from_pretrained(folder)


def test_crf_decode_is_the_best_sequence():
    torch.manual_seed(1)
    model = PlimTagger.from_config(tiny.encoder_config(), dropout=0.0)
    crf = model.crf
    emissions = torch.randn(3, 4, crf.num_tags)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)
    decoded = crf.decode(emissions, mask=mask)
    for b in range(3):
        n = int(mask[b].sum())

        def total(seq, b=b):
            s = crf.start_transitions[seq[0]] + emissions[b, 0, seq[0]]
            for i in range(1, len(seq)):
                s = s + crf.transitions[seq[i - 1], seq[i]] + emissions[b, i, seq[i]]
            return float((s + crf.end_transitions[seq[-1]]).detach())

        best = max(itertools.product(range(crf.num_tags), repeat=n), key=total)
        assert decoded[b] == list(best)


def test_alignment_truncation_and_empty_tokens(tiny_bert):
    _, tokenizer = tiny_bert
    tokens = ["mara", "\ufe0f", "quill", "\u200b", "visits"]
    knowledge = " ".join(["named entities person"] * 40)
    e = encode(tokenizer, tokens, knowledge, tags=[1, 0, 2, 0, 0], max_length=24)
    # [CLS] + 6 word pieces (visits = visit ##s) + [SEP] = 8 positions before the knowledge, [SEP] at the end
    assert len(e.input_ids) == 24 and e.knowledge_cut > 0 and e.knowledge_kept == 24 - 8 - 1
    assert e.input_ids[0] == tokenizer.cls_token_id and e.input_ids[-1] == tokenizer.sep_token_id
    assert len(e.first) == 5  # every token keeps a position
    assert e.input_ids[e.first[1]] == tokenizer.unk_token_id and e.input_ids[e.first[3]] == tokenizer.unk_token_id
    assert tokenizer.convert_ids_to_tokens(e.input_ids[e.first[4] : e.first[4] + 2]) == ["visit", "##s"]
    assert e.input_ids[e.first[4] + 2] == tokenizer.sep_token_id  # the tweet is whole, then the separator
    long_tweet = ["visits"] * 30
    e = encode(tokenizer, long_tweet, knowledge, max_length=16)
    assert len(e.first) == 30 and e.knowledge_kept == 0  # only the knowledge is ever cut
    batch = collate([encode(tokenizer, tokens), e], tokenizer.pad_token_id)
    assert batch["token_mask"].sum(1).tolist() == [5, 30]


def test_train_predict_checkpoint_round_trip(tiny_bert, sample_dir, tmp_path, hf_cache):
    folder, _ = tiny_bert
    cfg = PlimConfig(
        encoder=str(folder),
        dataset="gmner",
        data_dir=str(sample_dir),
        knowledge=[str(sample_dir / "knowledge.zip")],
        out=str(tmp_path / "run"),
        epochs=2,
        batch_size=8,
        max_length=64,
        seed=3,
        threads=1,
        cache_dir=str(hf_cache),
    )
    history = train(cfg, progress=False)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert all(e["loss"] > 0 and 0 <= e["dev"]["f1"] <= 1 for e in history["epochs"])
    best = tmp_path / "run" / "best"
    assert json.loads((best / "plim.json").read_text())["epoch"] == history["best_epoch"]
    out = predict(best, "test", tmp_path / "test.jsonl")
    rows = load_split("gmner", sample_dir, "test", cache_dir=hf_cache)
    gold = gold_from_rows(rows, dataset="gmner", split="test", has_boxes=True, has_masks=False)
    sub = read_submission(out, gold)  # a valid submission
    assert len(sub.seen) == 12 and sub.tasks() == ("mner",)
    model, tok, _ = load_checkpoint(best)
    again, _, _ = load_checkpoint(best)
    from smner_bench.baselines.plim.train import encode_rows

    encoded = encode_rows(list(rows), tok, cfg, with_labels=False)
    assert predict_tags(model, encoded, tok.pad_token_id, 5) == predict_tags(again, encoded, tok.pad_token_id, 64)
    first = model.state_dict()
    for name, value in again.state_dict().items():
        assert torch.equal(first[name], value)


CONFIG = "encoder: enc\ndata_dir: data\nout: run\n"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (CONFIG + "lr: 0.1\nepochs: 3\nlr: 1.0\n", ":6:", "duplicate key 'lr' (first on line 4)"),  # PyYAML: lr 1.0
        ("{encoder: e, data_dir: d, out: r, out: s}\n", ":1:", "duplicate key 'out'"),
        (CONFIG + "lr: .inf\n", ": lr:", "finite"),
        (CONFIG + "time_budget_minutes: .nan\n", ": time_budget_minutes:", "finite"),
        (CONFIG + "time_budget_minutes: -5\n", ": time_budget_minutes:", "greater than 0"),
        (CONFIG + "seed: -1\n", ": seed:", "greater than or equal to 0"),  # numpy refuses it mid-training
        (CONFIG + "threads: 0\n", ": threads:", "greater than or equal to 1"),
        (CONFIG + "max_train_tweets: 0\n", ": max_train_tweets:", "greater than or equal to 1"),
        ("- encoder: e\n", ": ", "expected a mapping of settings"),
    ],
    ids=[
        "key twice",
        "flow key twice",
        "inf lr",
        "nan budget",
        "negative budget",
        "negative seed",
        "0 threads",
        "0 tweets",
        "a list",
    ],
)
def test_config_file_refuses_keys_written_twice_and_numbers_out_of_range(text, where, message, tmp_path):
    from smner_bench.benchmark.errors import DataFormatError

    path = tmp_path / "plim.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        PlimConfig.load(path)
    assert str(caught.value).startswith(f"{path}{where}") and message in str(caught.value), str(caught.value)
    assert caught.value.exit_code == 1
    path.write_text(CONFIG + "lr: 0.1\n", encoding="utf-8")
    assert PlimConfig.load(path).lr == 0.1
