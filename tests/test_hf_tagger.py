"""``baseline hf-tagger``: any token-classification model folder as an MNER baseline (a submission, label names
mapped or refused, sub-words aligned to words) and ``--eval-all`` (every MNER dataset, one table with intervals),
on tiny random BERTs built from configs on the synthetic sample's words."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
import torch

from smner_bench.baselines import hf_tagger, tiny
from smner_bench.baselines.hf_tagger import HfTagger, HfTaggerConfig, label_tags, tag_of
from smner_bench.benchmark.errors import MissingDataError, UsageError
from smner_bench.benchmark.submission import parse_submission
from smner_bench.cli import main
from smner_bench.loaders import load_gold

SPELLED = ["O", "B-PERSON", "I-PERSON", "B-LOC", "I-LOC", "B-ORGANIZATION", "I-ORG", "B-MISC", "I-MISC"]
SPLIT_WORD = "Dunmereville"  # "dunmere" + "##ville": two sub-words


def save_tagger(folder, words, labels=None, vocab_size=tiny.VOCAB_SIZE):
    """A 1-layer BertForTokenClassification with random weights over the sample's words (+ ``##ville``)."""
    from transformers import BertForTokenClassification

    tiny.bert_tokenizer(folder, [*words, "##ville"])
    config = tiny.encoder_config(vocab_size)
    if labels is not None:
        config.id2label = dict(enumerate(labels))
        config.label2id = {v: k for k, v in config.id2label.items()}
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, words):
    return save_tagger(tmp_path_factory.mktemp("tagger") / "model", words, SPELLED)


@pytest.fixture(scope="module")
def gold(sample_dir):
    return load_gold("gmner", "test", data_dir=sample_dir)


def test_label_spellings_map_to_the_dataset_tags():
    assert [tag_of(x) for x in SPELLED] == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-OTHER",
                                            "I-OTHER"]  # fmt: skip
    assert tag_of("b_organisation") == "B-ORG" and tag_of("B-DATE") is None and tag_of("S-PER") is None


def test_run_writes_a_valid_submission(model_dir, gold):
    lines = hf_tagger.run(HfTaggerConfig(model=str(model_dir)), gold)
    assert [line["id"] for line in lines] == [t.id for t in gold.tweets]
    sub = parse_submission(lines, gold, task="mner")  # valid: spans in range, text agrees, types known
    assert len(sub.predictions) == sum(len(line["entities"]) for line in lines) > 0
    assert {e["type"] for line in lines for e in line["entities"]} <= {"PER", "LOC", "ORG", "OTHER"}


def _fake_logits(n_labels):
    """A model whose label at each sub-word is its token id modulo ``n_labels``: the tag a word gets names the
    sub-word it was read from."""

    def forward(input_ids, **_):
        return SimpleNamespace(logits=torch.nn.functional.one_hot(input_ids % n_labels, n_labels).float())

    return forward


def test_a_word_of_several_sub_words_gets_its_first_sub_words_label(model_dir):
    tagger = HfTagger(HfTaggerConfig(model=str(model_dir)))
    tagger.model = _fake_logits(len(SPELLED))
    vocab = tagger.tokenizer.get_vocab()
    words = ["Mara", SPLIT_WORD, "Quill", "in", "Dunmere"]
    assert tagger.tokenizer.tokenize(SPLIT_WORD) == ["dunmere", "##ville"]
    [tags] = tagger.tag([words])
    expected = [tagger.tags[vocab[w.lower()] % len(SPELLED)] for w in ["Mara", "Dunmere", "Quill", "in", "Dunmere"]]
    assert tags == expected  # one label per word, from its first piece, and the next word not shifted
    assert vocab["##ville"] % len(SPELLED) != vocab["dunmere"] % len(SPELLED)  # the second piece would differ


def test_words_past_the_length_limit_are_o_and_counted(model_dir):
    tagger = HfTagger(HfTaggerConfig(model=str(model_dir), max_length=6))  # [CLS] + 4 sub-words + [SEP]
    tagger.model = _fake_logits(len(SPELLED))
    [tags] = tagger.tag([["Mara", SPLIT_WORD, "Quill", "in", "Dunmere", "Mara"]])
    assert tags[3:] == ["O", "O", "O"] and tagger.truncated == 3


def test_batch_size_does_not_change_the_output(model_dir, gold):
    one = hf_tagger.run(HfTaggerConfig(model=str(model_dir), batch_size=1), gold)
    many = hf_tagger.run(HfTaggerConfig(model=str(model_dir), batch_size=64), gold)
    assert one == many


def test_unknown_labels_are_refused_naming_them_unless_mapped(tmp_path, words, gold):
    folder = save_tagger(tmp_path / "plain", words)  # BertConfig's default labels: LABEL_0, LABEL_1
    with pytest.raises(UsageError, match=r"config\.json: id2label: label 'LABEL_0' \(id 0\).*--label-map LABEL_0="):
        HfTagger(HfTaggerConfig(model=str(folder)))
    config = HfTaggerConfig(model=str(folder), label_map={"LABEL_0": "O", "LABEL_1": "B-PERSON"})
    lines = hf_tagger.run(config, gold)
    assert {e["type"] for line in lines for e in line["entities"]} <= {"PER"}
    parse_submission(lines, gold, task="mner")
    with pytest.raises(UsageError, match=r"'LABEL_1'.*not O, B-X or I-X"):  # mapping one label is not enough
        HfTagger(HfTaggerConfig(model=str(folder), label_map={"LABEL_0": "O"}))
    with pytest.raises(UsageError, match=r"--label-map 'LABEL_9': no label of the model.*LABEL_0, LABEL_1"):
        HfTagger(HfTaggerConfig(model=str(folder), label_map={"LABEL_9": "O", "LABEL_0": "O", "LABEL_1": "O"}))


def test_label_tags_refuses_bad_id2label():
    with pytest.raises(UsageError, match="ids 0 to n-1"):
        label_tags({0: "O", 2: "B-PER"}, {}, file="c.json")
    with pytest.raises(UsageError, match="integer ids"):
        label_tags({"x": "O"}, {}, file="c.json")
    assert label_tags({"1": "B-PER", "0": "o"}, {}, file=None) == ["O", "B-PER"]


def test_command_writes_a_submission_and_refuses_bad_options(tmp_path, model_dir, sample_dir, gold, capsys):
    out = tmp_path / "pred.jsonl"
    base = ["baseline", "hf-tagger", "--model", str(model_dir), "--dataset", "gmner", "--data-dir", str(sample_dir)]
    assert main([*base, "-o", str(out), "--batch-size", "3"]) == 0
    assert "MNER submission, 12 tweets" in capsys.readouterr().out
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines and json.loads(lines[0])["id"] == gold.tweets[0].id
    parse_submission(lines, gold, task="mner")
    assert main([*base, "-o", str(tmp_path / "b.jsonl"), "--label-map", "B-DATE"]) == 2
    assert "--label-map 'B-DATE': expected LABEL=TAG" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "b.jsonl"), "--label-map", "B-PERSON=B-DATE"]) == 2
    assert "--label-map: " in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "b.jsonl"), "--device", "gpu"]) == 2
    assert "--device: 'gpu': expected cpu, cuda, cuda:N or mps" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*base, "-o", str(tmp_path / "b.jsonl"), "--device", "cuda"]) == 2
        assert "--device cuda: no GPU is visible" in capsys.readouterr().err
    assert main([*base]) == 2 and "give -o/--output" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "b.jsonl"), "--eval-all"]) == 2
    assert "--eval-all needs --data-root" in capsys.readouterr().err
    assert not (tmp_path / "b.jsonl").exists()
    assert main(["baseline", "hf-tagger", "--model", str(tmp_path / "none"), "--dataset", "gmner", "--data-dir",
                 str(sample_dir), "-o", str(tmp_path / "b.jsonl")]) == 2  # fmt: skip
    assert "token-classification model not found" in capsys.readouterr().err


def test_cuda_device_runs_when_there_is_a_gpu(model_dir, gold):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert hf_tagger.run(HfTaggerConfig(model=str(model_dir), device=device), gold) == hf_tagger.run(
        HfTaggerConfig(model=str(model_dir)), gold
    )


def test_evaluate_all_scores_every_dataset_with_an_interval(model_dir, sample_dir):
    folders = {name: sample_dir for name in hf_tagger.EVAL_DATASETS}  # the sample reads as each config
    rows = hf_tagger.evaluate_all(HfTaggerConfig(model=str(model_dir)), folders, resamples=200)
    assert [r["dataset"] for r in rows] == ["twitter2015", "twitter2017", "gmner"]
    for r in rows:
        assert r["tweets"] == 12 and r["gold"] > 0 and r["f1_low"] <= r["f1"] <= r["f1_high"]
    table = hf_tagger.format_table(rows)
    assert table.splitlines()[0].split()[:5] == ["dataset", "tweets", "P", "R", "F1"] and "[" in table


def test_eval_all_command_prints_one_table_and_writes_json(tmp_path, model_dir, sample_dir, capsys):
    root = tmp_path / "data"
    for folder in hf_tagger.EVAL_DATASETS.values():
        (root / folder).mkdir(parents=True)
        for name in ("train.txt", "dev.txt", "test.txt"):
            shutil.copy(sample_dir / name, root / folder / name)
    shutil.copytree(sample_dir / "xml", root / "twitter-gmner" / "v2.0" / "xml")
    base = ["baseline", "hf-tagger", "--model", str(model_dir), "--eval-all", "--data-root", str(root)]
    assert main([*base, "--json", str(tmp_path / "all.json"), "--resamples", "100"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["twitter2015", "twitter2017", "gmner"]
    report = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    assert report["resamples"] == 100 and [r["dataset"] for r in report["results"]] == list(hf_tagger.EVAL_DATASETS)
    shutil.rmtree(root / "twitter2017")
    with pytest.raises(MissingDataError, match="no twitter2017 folder"):
        hf_tagger.dataset_folders(root)
    assert main(base) == 2 and "no twitter2017 folder" in capsys.readouterr().err
    assert main([*base, "--dataset", "gmner"]) == 2
    assert "--dataset is not used with --eval-all" in capsys.readouterr().err
    assert main([*base, "--split", "dev"]) == 2  # every dataset's test split: another split is not silently ignored
    assert "--split is not used with --eval-all" in capsys.readouterr().err


def test_broken_model_folders_are_named_not_internal_errors(tmp_path, model_dir, words, sample_dir, capsys):
    base = ["--dataset", "gmner", "--data-dir", str(sample_dir), "-o", str(tmp_path / "out.jsonl")]
    no_tokenizer = tmp_path / "no-tokenizer"  # transformers would build an empty tokenizer: every word [UNK]
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(model_dir / name, no_tokenizer / name)
    assert main(["baseline", "hf-tagger", "--model", str(no_tokenizer), *base]) == 2
    assert "no-tokenizer: no tokenizer here" in capsys.readouterr().err
    resized = tmp_path / "resized"  # id2label of 2 labels over a classifier of 9 (was: exit 3, internal error)
    shutil.copytree(model_dir, resized)
    config = json.loads((resized / "config.json").read_text(encoding="utf-8"))
    config["id2label"], config["label2id"] = {"0": "O", "1": "B-PER"}, {"O": 0, "B-PER": 1}
    (resized / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert main(["baseline", "hf-tagger", "--model", str(resized), *base]) == 1
    assert "resized/config.json: the weights do not fit this config" in capsys.readouterr().err
    small = save_tagger(tmp_path / "small-vocab", words, SPELLED, vocab_size=500)  # token ids past the embeddings
    assert main(["baseline", "hf-tagger", "--model", str(small), *base]) == 1
    assert "the tokenizer has 1100 tokens, the model's embeddings 500" in capsys.readouterr().err
    assert main(["baseline", "hf-tagger", "--model", str(model_dir), *base, "--max-length", "100000"]) == 2
    assert "--max-length 100000: this model reads at most 512 sub-words" in capsys.readouterr().err
    assert main(["baseline", "hf-tagger", "--model", str(model_dir), "--eval-all", "--data-root",
                 str(sample_dir / "test.txt")]) == 2  # fmt: skip
    assert "test.txt: a file, not a data root" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_word_with_no_sub_word_is_o_and_the_next_word_keeps_its_own(model_dir):
    tagger = HfTagger(HfTaggerConfig(model=str(model_dir)))
    tagger.model = _fake_logits(len(SPELLED))
    vocab = tagger.tokenizer.get_vocab()
    assert tagger.tokenizer.tokenize("\u200b") == []
    [tags, empty] = tagger.tag([["Mara", "\u200b", "Quill"], []])
    assert tags == ["O" if w is None else tagger.tags[vocab[w] % len(SPELLED)] for w in ("mara", None, "quill")]
    assert empty == []


def test_the_real_data_root_has_every_eval_all_release(data_root):
    folders = hf_tagger.dataset_folders(data_root)
    assert list(folders) == ["twitter2015", "twitter2017", "gmner"]
    assert all((folder / "test.txt").is_file() for folder in folders.values())
