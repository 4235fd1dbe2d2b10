"""Providers (LLM backends, cache, replay, encoder), MSEA, expansion and knowledge releases; tiny local models."""

from __future__ import annotations

import contextlib
import json
import time
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest

from smner_bench.loaders import QuirkReport, align_knowledge, read_knowledge

from .conftest import IN_CI
from .servers import local_endpoint

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import tiny  # noqa: E402
from smner_bench.baselines.expansion import expand, expansion_prompt, referring_expression  # noqa: E402
from smner_bench.baselines.knowledge import msea_prompts, write_release  # noqa: E402
from smner_bench.baselines.msea import QUESTION, Example, heuristic_prompt, top_n  # noqa: E402
from smner_bench.baselines.providers.cache import AnswerCache  # noqa: E402
from smner_bench.baselines.providers.encoder import Encoder  # noqa: E402
from smner_bench.baselines.providers.llm import (  # noqa: E402
    CachedLLM,
    OpenAICompatibleLLM,
    ProviderError,
    ReplayLLM,
    Request,
    TransformersLLM,
)

# --- a real HTTP server on 127.0.0.1 ------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    calls: list = []  # noqa: RUF012 (shared by the server's threads on purpose)

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"]
        Handler.calls.append((self.path, prompt, self.headers.get("Authorization")))
        if prompt.startswith("busy") and sum(c[1] == prompt for c in Handler.calls) == 1:
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        if prompt.startswith("slow"):
            time.sleep(0.6)
        if prompt.startswith("bad request"):
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b"no")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if prompt.startswith("garbled"):
            self.wfile.write(b'{"choices": []}')
        else:
            reply = {"choices": [{"message": {"role": "assistant", "content": f" answer to {prompt} "}}]}
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that timed out has gone
                self.wfile.write(json.dumps(reply).encode())


@pytest.fixture(scope="module")
def server():
    with local_endpoint(Handler) as url:
        yield url


def http_llm(server, **kwargs):
    return OpenAICompatibleLLM(server, "tiny", timeout=kwargs.pop("timeout", 5), sleep=lambda s: None, **kwargs)


def test_http_success_and_key(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sekret")
    llm = http_llm(server, api_key_env="MY_KEY", concurrency=2)
    assert llm.generate([Request("a"), Request("b")]) == ["answer to a", "answer to b"]
    assert Handler.calls[-1][0] == "/v1/chat/completions" and Handler.calls[-1][2] == "Bearer sekret"


def test_http_429_then_success(server):
    before = len(Handler.calls)
    assert http_llm(server).generate([Request("busy one")]) == ["answer to busy one"]
    assert len(Handler.calls) - before == 2  # refused once, then answered


def test_http_timeout_malformed_and_client_errors(server):
    with pytest.raises(ProviderError, match=r"no answer after 2 attempts .*TimeoutError"):
        http_llm(server, timeout=0.2, retries=1).generate([Request("slow")])
    with pytest.raises(ProviderError, match="malformed reply"):
        http_llm(server).generate([Request("garbled")])
    before = len(Handler.calls)
    with pytest.raises(ProviderError, match="HTTP 400"):
        http_llm(server).generate([Request("bad request")])
    assert len(Handler.calls) - before == 1  # a 4xx other than 429 is not retried


# --- cache ----------------------------------------------------------------------------------------------


class Counting:
    backend, model = "fake", "m1"

    def __init__(self, fail_after=None):
        self.seen, self.fail_after = [], fail_after

    def generate(self, requests):
        out = []
        for r in requests:
            if self.fail_after is not None and len(self.seen) >= self.fail_after:
                raise KeyboardInterrupt
            self.seen.append(r.prompt)
            out.append(r.prompt.upper())
        return out


def test_cache_hits_and_resume_after_interruption(tmp_path):
    path = tmp_path / "cache.jsonl"
    requests = [Request(f"p{i}") for i in range(7)]
    first = CachedLLM(Counting(fail_after=4), AnswerCache(path), batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        first.generate(requests)
    first.cache.close()
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"key": "cut')  # a line cut by the interruption
    backend = Counting()
    resumed = CachedLLM(backend, AnswerCache(path), batch_size=2)
    assert resumed.cache.broken_lines == 1
    assert resumed.generate(requests) == [f"P{i}" for i in range(7)]
    assert backend.seen == ["p4", "p5", "p6"]  # only what the interrupted run had not got
    again = Counting()
    assert CachedLLM(again, AnswerCache(path)).generate(requests) == [f"P{i}" for i in range(7)]
    assert again.seen == []  # a rerun costs nothing
    other_model = Counting()
    other_model.model = "m2"
    CachedLLM(other_model, AnswerCache(path)).generate(requests[:1])
    assert other_model.seen == ["p0"]  # keyed by backend and model too


# --- tiny local models ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_causal(tmp_path_factory):
    words = ["Text", ":", "Answer", "Kobe", "PER", "is", "a", "the"]
    return tiny.save_causal_lm(tmp_path_factory.mktemp("tiny-gpt2") / "llm", words, positions=1024)


def test_transformers_llm_skips_prompts_longer_than_the_model(tiny_causal, caplog):
    llm = TransformersLLM(str(tiny_causal), max_new_tokens=5)
    answers = llm.generate([Request("Kobe " * 1030, key="t1"), Request("Kobe")])
    assert answers[0] is None and isinstance(answers[1], str)  # skipped, not fatal; the other one answered
    assert "tweet t1" in caplog.text and "does not fit the 1024 positions" in caplog.text


def test_transformers_llm_batched_greedy(tiny_causal):
    llm = TransformersLLM(str(tiny_causal), max_new_tokens=5, batch_size=2)
    requests = [Request("Text : Kobe is a"), Request("Kobe"), Request("the the the")]
    answers = llm.generate(requests)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    assert llm.generate(requests) == answers  # greedy: deterministic
    assert llm.generate(requests[1:2]) == answers[1:2]  # batching (left padding) does not change an answer
    assert llm._text("Kobe").startswith("user : Kobe")  # the chat template is applied


def test_encoder_mean_pools_over_real_tokens(tmp_path):
    folder = tiny.save_encoder(tmp_path / "encoder", ["kobe", "bryant", "paris", "nba", "city", "a", "dog"])
    enc = Encoder(str(folder), batch_size=2)
    vectors = enc.encode(["kobe bryant", "paris", "nba city a dog"])
    assert vectors.shape == (3, 32)
    alone = enc.encode(["paris"])[0]
    np.testing.assert_allclose(vectors[1], alone, atol=1e-5)  # padding in a batch does not change a vector


# --- MSEA, prompts, expansion, releases ---------------------------------------------------------------


def test_top_n_on_hand_made_vectors():
    annotated = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    tweets = np.array([[2.0, 0.1, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    # the third tweet is as close to 0, 1 and 3 (cosine 0.577) after 2 (0.816): ties go to the lower index
    assert top_n(tweets, annotated, n=2).tolist() == [[0, 2], [3, 0], [2, 0]]
    assert top_n(tweets, annotated, n=9).shape == (3, 4)


def test_heuristic_prompt_exact_text():
    prompt = heuristic_prompt(
        [Example("Kobe wins", "a man", "Named entities: 1. Kobe (person)")], "Paris now", "a city"
    )
    head, example, tweet = prompt.split("\n\n")
    assert head.startswith("You are an expert in named entity recognition")
    assert example == f"Text: Kobe wins\nImage: a man\nQuestion: {QUESTION}\nAnswer: Named entities: 1. Kobe (person)"
    assert tweet == f"Text: Paris now\nImage: a city\nQuestion: {QUESTION}\nAnswer:"
    assert QUESTION == (
        "Comprehensively analyze the Text and the Image, which named entities and their corresponding "
        "types are included in the Text? Explain the reason for your judgment."
    )


def test_expansion_prompt_and_expressions():
    prompt = expansion_prompt("Garfield Park", "The geometry of plants . Garfield Park Conservatory", "plants")
    blocks = prompt.split("\n\n")  # the instruction, three demonstrations, the question
    assert len(blocks) == 5 and blocks[-1] == (
        "Background: plants\nText: The geometry of plants . Garfield Park Conservatory\n"
        "Question: In the context of the provided information, tell me briefly what is the Garfield Park in the "
        "Text?\nAnswer:"
    )
    assert (
        referring_expression("Garfield Park", "LOC", " A conservatory.\nMore")
        == "Garfield Park (LOC) - A conservatory."
    )

    class Fixed:
        backend, model = "fixed", "x"

        def __init__(self, answer):
            self.answer = answer

        def generate(self, requests):
            return [self.answer] * len(requests)

    lines = [
        {"id": "1", "entities": [{"start": 0, "end": 1, "text": "Kobe", "type": "PER"}]},
        {"id": "2", "entities": []},
    ]
    out = expand(
        lines, {"1": "Kobe wins", "2": "nothing"}, {"1": "a man"}, {"a": Fixed("A player."), "b": Fixed("Man.")}
    )
    assert out[0]["entities"][0]["expressions"] == {"a": "Kobe (PER) - A player.", "b": "Kobe (PER) - Man."}
    assert lines[0]["entities"][0].get("expressions") is None  # the input is not changed


def test_knowledge_prompts_and_release_round_trip(tmp_path, sample_dir, hf_cache, sample_encoder):
    from smner_bench.loaders import load

    ds = load("gmner", sample_dir, cache_dir=hf_cache)
    images = {r["id"]: f"picture of {r['id']}" for s in ds for r in ds[s]}
    examples = [
        Example("Kobe Bryant wins", "a man", "Named entities: Kobe Bryant (person)"),
        Example("Paris in spring", "a city", "Named entities: Paris (location)"),
    ]
    requests = [p.request for p in msea_prompts(list(ds["test"]), images, examples, Encoder(str(sample_encoder)), n=1)]
    assert len(requests) == 12 and all(r.prompt.count("\nAnswer:") == 2 for r in requests)
    assert requests[0].key == ds["test"][0]["id"]
    knowledge = {r["id"]: f"Named entities : {len(r['tokens'])} words" for s in ds for r in ds[s]}
    release = write_release(tmp_path / "release", {s: list(ds[s]) for s in ds}, knowledge)
    back = load("gmner", sample_dir, knowledge=release, cache_dir=hf_cache)
    assert [r["knowledge"] for r in back["test"]] == [knowledge[r["id"]] for r in ds["test"]]
    _, records = read_knowledge(release, "validation")
    report = QuirkReport()
    align_knowledge(
        [
            (r["id"], r["tokens"], [ds["validation"].features["ner_tags"].feature.names[t] for t in r["ner_tags"]])
            for r in ds["validation"]
        ],
        records,
        file="release",
        report=report,
    )
    assert report.quirks == []


def test_replay_through_the_cache_answers_each_tweet(tmp_path):
    replay = ReplayLLM({"a": "knowledge of a", "b": "knowledge of b"})
    cached = CachedLLM(replay, AnswerCache(tmp_path / "c.jsonl"))
    requests = [Request("", key="a"), Request("", key="b")]  # replay ignores prompts: the tweet id keys the cache
    assert cached.generate(requests) == ["knowledge of a", "knowledge of b"]
    assert CachedLLM(replay, AnswerCache(tmp_path / "c.jsonl")).generate(requests[::-1]) == [
        "knowledge of b",
        "knowledge of a",
    ]


@pytest.mark.realdata
def test_replay_answers_with_the_released_knowledge(data_root, hf_cache):
    def released(zip_name, dataset, folder, split):
        zip_path, data_dir = data_root / "llm-knowledge" / zip_name, data_root / folder
        return ReplayLLM.from_release(str(zip_path), dataset, str(data_dir), split, cache_dir=hf_cache)

    replay = released("twitter-gmner_gpt-3.5-turbo.zip", "gmner", "twitter-gmner/v2.0", "test")
    answers = replay.generate([Request("ignored", key="71044")])
    assert answers[0].startswith("Named entities") or len(answers[0]) > 20
    assert sum(a is not None for a in replay.answers.values()) == 1500
    replay15 = released("twitter2015_gpt-3.5-turbo.zip", "twitter2015", "twitter2015", "train")
    with pytest.raises(ProviderError, match="no answer for tweet '33008'"):
        replay15.generate([Request("x", key="33008")])  # the one tweet the release lacks


def test_cli_knowledge_and_expand(capsys, tmp_path, sample_dir, sample_encoder, tiny_causal, monkeypatch):
    from smner_bench.cli import main

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "2099train.txt").write_text("s0001\r\nNamed entities: 1. Moonlit Saga (other)\r\n", encoding="utf-8")
    (manual / "2099train_GPT.txt").write_text("s0001\r\n['Moonlit Saga', 'OTHER']\r\n", encoding="utf-8")
    cache = tmp_path / "answers.jsonl"
    args = [
        "baseline",
        "knowledge",
        "--dataset",
        "gmner",
        "--data-dir",
        str(sample_dir),
        "--splits",
        "test",
        "--captions",
        str(sample_dir / "captions"),
        "--manual",
        str(manual),
        "--manual-data",
        f"gmner:{sample_dir}",
        "--encoder",
        str(sample_encoder),
        "--llm",
        f"transformers:{tiny_causal}",
        "--cache",
        str(cache),
        "--out",
        str(tmp_path / "release"),
        "--features",
        str(tmp_path / "msea.npz"),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "MSEA example pool: 1 of 1 manual annotations" in out and "12 new" in out
    assert main(args) == 0
    assert "12 cached answers, 0 new" in capsys.readouterr().out  # a rerun costs nothing
    assert (tmp_path / "msea.npz").is_file()  # the examples' features, kept for the next run
    assert (tmp_path / "release" / "test.txt").read_text(encoding="utf-8").count("<EOS>\tX") == 12
    preds = tmp_path / "preds.jsonl"
    from smner_bench.benchmark.gold import gold_from_rows
    from smner_bench.benchmark.submission import gold_as_submission, write_submission
    from smner_bench.loaders import load_split

    gold = gold_from_rows(
        load_split("gmner", sample_dir, "test"), dataset="gmner", split="test", has_boxes=True, has_masks=False
    )
    write_submission(preds, gold_as_submission(gold))
    out_file = tmp_path / "expressions.jsonl"
    common = ["--dataset", "gmner", "--split", "test", "--data-dir", str(sample_dir), "--captions",
              str(sample_dir / "captions"), "--llm", f"transformers:{tiny_causal}", "--cache", str(cache)]  # fmt: skip
    assert main(["baseline", "expand", str(preds), *common, "-o", str(out_file)]) == 0
    expressed = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    entities = [e for line in expressed for e in line["entities"]]
    assert len(entities) == len(gold.entities)
    assert all(next(iter(e["expressions"].values())).startswith(f"{e['text']} ({e['type']})") for e in entities)
    from_gold = tmp_path / "gold-expressions.jsonl"
    assert main(["baseline", "expand", "--gold-entities", *common, "-o", str(from_gold)]) == 0
    assert from_gold.read_text(encoding="utf-8") == out_file.read_text(encoding="utf-8")  # the same entities
    assert main(["baseline", "expand", str(preds), "--gold-entities", *common, "-o", str(from_gold)]) == 2
    from smner_bench.baselines.ve import read_expressions, ve_items

    expressions = read_expressions([from_gold])
    items = ve_items(load_split("gmner", sample_dir, "test"), sample_dir / "images", expressions)
    assert [i.expression for i in items] == [next(iter(e["expressions"].values())) for e in entities]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "s0049", "entities": [{"start": 0}]}\n')
    from smner_bench.benchmark.errors import DataFormatError

    with pytest.raises(DataFormatError, match="expected"):
        read_expressions([bad])
    replay = [*common[: common.index("--llm") + 1], "replay:x.zip", "--cache", str(cache)]
    assert main(["baseline", "expand", str(preds), *replay, "-o", str(out_file)]) == 2
    assert "no expansion expressions" in capsys.readouterr().err


def test_captioners(tmp_path, sample_dir):
    from PIL import Image

    from smner_bench.baselines.providers.captioner import ReplayCaptioner, TransformersCaptioner
    from smner_bench.baselines.tiny import save_captioner
    from smner_bench.benchmark.errors import MissingDataError

    replay = ReplayCaptioner([sample_dir / "captions"])
    assert replay.caption(["s0001"])[0] == replay.captions["s0001"]
    with pytest.raises(MissingDataError, match="no caption for images nope"):
        replay.caption(["nope"])

    save_captioner(tmp_path / "blip2", ["a", "dog", "on", "the", "grass", "cat"])
    captioner = TransformersCaptioner(str(tmp_path / "blip2"), max_new_tokens=4, batch_size=2)
    images = [Image.open(sample_dir / "images" / f"s000{i}.jpg").convert("RGB") for i in (1, 2, 3)]
    captions = captioner.caption_images(images)
    assert len(captions) == 3 and all(isinstance(c, str) for c in captions)
    assert captioner.caption_images(images[2:]) == captions[2:]  # greedy and batch-independent
