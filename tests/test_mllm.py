"""``baseline mllm``: a multimodal LLM as a GMNER baseline, against a fake OpenAI-compatible endpoint on 127.0.0.1
(the synthetic sample's test split and images): box conventions mapped back to pixels, answer shapes, refused
answers, the report, the cache, token usage, text-only runs, demonstrations and the command's error paths."""

from __future__ import annotations

import base64
import io
import json
import math
from http.server import BaseHTTPRequestHandler

import pydantic
import pytest
from PIL import Image

from smner_bench.baselines import mllm
from smner_bench.baselines.providers.llm import ImagePart, OpenAICompatibleLLM, Request
from smner_bench.benchmark.scoring import score_lines
from smner_bench.benchmark.submission import read_submission
from smner_bench.cli import main
from smner_bench.loaders import load_gold

from .servers import local_endpoint

USAGE = {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}


class Fake(BaseHTTPRequestHandler):
    """Answers with ``Fake.respond(body)`` (the answer's text); records every request body."""

    calls: list = []  # noqa: RUF012 (shared by the server's threads on purpose)
    keys: list = []  # noqa: RUF012 (the Authorization header of each request)
    respond = None

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Fake.calls.append(body)
        Fake.keys.append(self.headers.get("Authorization"))
        content = Fake.respond(body)
        reply = {"choices": [{"message": {"role": "assistant", "content": content}}], "usage": USAGE}
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(reply).encode())


@pytest.fixture(scope="module")
def endpoint():
    with local_endpoint(Fake) as url:
        yield url


@pytest.fixture(scope="module")
def gold(sample_dir):
    return load_gold("gmner", "test", data_dir=sample_dir)


def message(body) -> tuple[str, list[Image.Image]]:
    """The text of a request's message and its images (decoded from the data URLs)."""
    (msg,) = body["messages"]
    content = msg["content"]
    if isinstance(content, str):
        return content, []
    text, images = "", []
    for part in content:
        if part["type"] == "text":
            text += part["text"]
        else:
            url = part["image_url"]["url"]
            assert url.startswith("data:image/jpeg;base64,")
            images.append(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
            text += "<image>"
    return text, images


def asked(body, gold):
    """The gold tweet a request asks about (its last 'Tweet:' line) and the request's images."""
    text, images = message(body)
    line = [x for x in text.splitlines() if x.startswith("Tweet: ")][-1]
    (tweet,) = [t for t in gold.tweets if " ".join(t.tokens) == line[len("Tweet: ") :]]
    return tweet, images


def in_format(box, fmt, width, height):
    """A gold box in a model's convention (floats: the mapping back is then exact)."""
    if fmt == "pixels":
        sx = sy = 1.0
    elif fmt == "resized-pixels":
        h, w = mllm.smart_resize(height, width)
        sx, sy = w / width, h / height
    elif fmt == "norm1000":
        sx, sy = 1000 / width, 1000 / height
    else:
        sx, sy = 1 / width, 1 / height
    return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]


def perfect(gold, fmt, sizes):
    """A respond function answering every tweet with its gold entities and first boxes in ``fmt``."""

    def respond(body):
        tweet, images = asked(body, gold)
        sizes.append((tweet.id, images[-1].size if images else None))
        items = []
        for e in tweet.entities:
            item = {"entity": e.text, "type": e.type}
            if images:
                item["box"] = in_format(list(e.boxes[0]), fmt, tweet.width, tweet.height) if len(e.boxes) else None
            items.append(item)
        return json.dumps(items)

    return respond


def run(args, endpoint, sample_dir, out, *, images=True, split="test"):
    data = ["--dataset", "gmner", "--split", split, "--data-dir", str(sample_dir)]
    pics = ["--images", str(sample_dir / "images")] if images else []
    return main(["baseline", "mllm", *data, *pics, "--endpoint", endpoint, "--model", "fake-vl", *args, "-o", str(out)])


# --- pure parts ------------------------------------------------------------------------------------------------


def test_smart_resize_follows_the_qwen2_vl_rule():
    assert mllm.smart_resize(1080, 1920) == (1092, 1932)  # 38.6 -> 39 * 28, 68.6 -> 69 * 28: within the bounds
    assert mllm.smart_resize(20, 30) == (56, 84)  # 28 x 28 < 3136: scaled up by sqrt(3136 / 600), rounded up
    assert mllm.smart_resize(14, 14) == (56, 56)
    h, w = mllm.smart_resize(5000, 8000)  # 40e6 > 12845056: scaled down by sqrt(40e6 / 12845056), rounded down
    assert (h, w) == (2828, 4508) and h % 28 == w % 28 == 0 and h * w <= mllm.QWEN_MAX_PIXELS
    assert mllm.smart_resize(500, 400, max_pixels=100_000) == (336, 280)  # 504 x 392 over 1e5: sqrt(2) down
    assert mllm.smart_resize(500, 400, min_pixels=1_000_000) == (1120, 896)  # 504 x 392 under 1e6: sqrt(5) up


@pytest.mark.parametrize(
    ("fmt", "box", "expected"),
    [
        ("pixels", [10, 20, 110, 220], [10, 20, 110, 220]),
        ("norm1000", [100, 250, 500, 1000], [64, 100, 320, 400]),
        ("norm1", [0.1, 0.25, 0.5, 1.0], [64, 100, 320, 400]),
        ("resized-pixels", [64, 100, 320, 400], [64 * 640 / 644, 100 * 400 / 392, 320 * 640 / 644, 400 * 400 / 392]),
    ],
)
def test_frames_map_boxes_back_to_original_pixels(fmt, box, expected):
    frame = mllm.make_frame(fmt, 640, 400)
    assert frame.to_original(box) == pytest.approx(expected)
    assert frame.from_original(frame.to_original(box)) == pytest.approx(box, abs=1e-3)
    scaled = mllm.make_frame(fmt, 640, 400, (1280, 800))  # the gold's size differs from the image's
    assert scaled.to_original(box) == pytest.approx([2 * v for v in expected])


@pytest.mark.parametrize(
    ("answer", "items"),
    [
        ('[{"entity": "Paris", "type": "LOC", "box": null}]', 1),
        ('```json\n[{"entity": "Paris", "type": "LOC", "box": null}]\n```', 1),
        ('Here you go:\n```\n{"entities": [{"text": "Paris", "label": "LOC"}]}\n```\nThanks.', 1),
        ('The entities are [{"entity": "Paris", "type": "LOC"}] (one location).', 1),
        ("There is [no entity] here: []", 0),
        ('{"entity": "Paris", "type": "LOC"}', 1),
        ('Two entities [1] are named:\n[{"entity": "Paris", "type": "LOC"}, {"entity": "Rome", "type": "LOC"}]', 2),
    ],
)
def test_answers_in_many_shapes(answer, items):
    assert len(mllm.extract_entities(answer)) == items


@pytest.mark.parametrize("answer", ["", "no JSON here", "{'entity': 'Paris'}", '{"result": 3}', "[1, 2"])
def test_answers_without_a_list_are_invalid(answer):
    with pytest.raises(mllm.InvalidAnswer):
        mllm.extract_entities(answer)


def test_demonstrations_follow_msea_and_never_the_tweet_itself():
    pool = [("a", ["Rome", "in", "the", "sun"]), ("b", ["rain", "over", "Paris"]), ("c", ["Paris", "rain", "!"])]
    # c is the first query's own text (same normalised text, another id): never chosen; "a" is the second query
    # itself (same id): never chosen, and b and c tie at 0: the lower index first
    assert mllm.choose_demos([("q", ["Paris", "rain", "!"]), ("a", ["Rome", "sun"])], pool, 2) == [[1, 0], [1, 2]]
    assert mllm.choose_demos([("q", ["x"])], pool, 0) == [[]]


def test_request_carries_the_image_and_usage_is_summed(endpoint, sample_dir):
    path = sorted((sample_dir / "images").glob("*.jpg"))[0]
    Fake.respond = staticmethod(lambda body: json.dumps([len(message(body)[1])]))
    llm = OpenAICompatibleLLM(endpoint, "fake-vl", timeout=5, sleep=lambda s: None)
    image = ImagePart.from_file(path)
    with_image = Request("look <image>", parts=("look", image))
    assert llm.generate([with_image, Request("text only")]) == ["[1]", "[0]"]
    assert (llm.usage.requests, llm.usage.prompt_tokens, llm.usage.completion_tokens) == (2, 200, 14)
    assert with_image.cache_text != Request("look <image>").cache_text == "look <image>"  # the image keys the cache


# --- the command -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", mllm.BOX_FORMATS)
def test_every_box_convention_maps_back_to_the_gold_pixels(fmt, endpoint, sample_dir, gold, tmp_path, capsys):
    sizes: list = []
    Fake.respond = staticmethod(perfect(gold, fmt, sizes))
    out = tmp_path / "out.jsonl"
    assert run(["--box-format", fmt, "--concurrency", "3"], endpoint, sample_dir, out) == 0
    assert sorted(sizes) == sorted((t.id, (t.width, t.height)) for t in gold.tweets)  # each tweet's own image sent
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    for line, tweet in zip(lines, gold.tweets, strict=True):
        assert line["id"] == tweet.id
        assert [(e["start"], e["end"], e["type"]) for e in line["entities"]] == [
            (g.start, g.end, g.type) for g in tweet.entities
        ]
        for e, g in zip(line["entities"], tweet.entities, strict=True):
            if len(g.boxes):
                assert e["box"] == pytest.approx(list(g.boxes[0]), abs=1e-6)
            else:
                assert e["box"] is None
    report = score_lines(out.read_text().splitlines(), gold, task="gmner")
    assert report.main.f1 == 1.0 and report.main.gold > 0
    meta = json.loads((tmp_path / "out.meta.json").read_text())
    assert meta["task"] == "gmner" and meta["box_format"] == fmt
    assert meta["report"]["invalid_answers"] == 0 and meta["report"]["entities"] == report.main.gold
    assert meta["usage"]["prompt_tokens"] == 100 * len(gold.tweets)
    assert meta["usage"]["completion_tokens"] == 7 * len(gold.tweets)
    assert ("min_pixels" in meta) == (fmt == "resized-pixels")


def odd_answers(gold):
    """Per tweet (in split order), an answer in another shape, a malformed one, or one with entities to refuse;
    returns the respond function and what the report must count."""
    with_entities = [t for t in gold.tweets if t.entities]
    assert len(with_entities) >= 12
    plan: dict[str, str] = {}
    spellings = {"person": "PER", "Location": "LOC", "organisation": "ORG", "misc": "OTHER"}

    def items(tweet, box_key="box", types=None):
        out = []
        for e in tweet.entities:
            box = [float(v) for v in e.boxes[0]] if len(e.boxes) else None
            kind = types.get(e.type, e.type) if types else e.type
            out.append({"entity": e.text, "type": kind, box_key: box})
        return out

    def shaped(tweet, how):
        if how == "fenced":
            return "```json\n" + json.dumps(items(tweet)) + "\n```"
        if how == "prose":
            return "Here are the entities I found:\n" + json.dumps(items(tweet)) + "\nHope this helps."
        if how in ("bbox", "bbox_2d"):
            return json.dumps(items(tweet, box_key=how))
        if how == "spellings":
            reverse = {v: k for k, v in spellings.items()}
            return json.dumps(items(tweet, types=reverse))
        if how == "not json":
            return "I cannot see any entity, sorry."
        if how == "wrong type":
            return json.dumps([{**items(tweet)[0], "type": "DATE"}])
        if how == "wrong box":
            return json.dumps([{**items(tweet)[0], "box": "top left"}])
        if how == "unplaceable":
            return json.dumps([*items(tweet), {"entity": "Atlantis Quux", "type": "LOC", "box": None}])
        if how == "out of range":
            first = {**items(tweet)[0], "box": [-5.0, -5.0, tweet.width + 50.0, tweet.height + 50.0]}
            return json.dumps([first, *items(tweet)[1:]])
        if how == "degenerate":
            first = {**items(tweet)[0], "box": [30.0, 10.0, 30.0, 40.0]}
            return json.dumps([first, *items(tweet)[1:]])
        return json.dumps(items(tweet))

    hows = ["fenced", "prose", "bbox", "bbox_2d", "spellings", "not json", "wrong type", "wrong box", "unplaceable"]
    for tweet, how in zip(with_entities, hows, strict=False):
        plan[tweet.id] = how
    for how in ("out of range", "degenerate"):
        plan[next(t.id for t in with_entities if t.id not in plan)] = how

    def respond(body):
        tweet, _ = asked(body, gold)
        return shaped(tweet, plan.get(tweet.id, "plain"))

    return respond, plan


def test_answer_shapes_malformed_answers_and_the_report(endpoint, sample_dir, gold, tmp_path, capsys):
    respond, plan = odd_answers(gold)
    Fake.respond = staticmethod(respond)
    out = tmp_path / "odd.jsonl"
    assert run(["--box-format", "pixels"], endpoint, sample_dir, out) == 0
    err = capsys.readouterr().err
    meta = json.loads((tmp_path / "odd.meta.json").read_text())["report"]
    invalid = {i["id"] for i in meta["invalid"]}
    assert invalid == {i for i, how in plan.items() if how in ("not json", "wrong type", "wrong box")}
    assert meta["invalid_answers"] == 3
    reasons = {i["id"]: i["reason"] for i in meta["invalid"]}
    assert "unknown type 'DATE'" in reasons[next(i for i, h in plan.items() if h == "wrong type")]
    assert "expected [x1, y1, x2, y2]" in reasons[next(i for i, h in plan.items() if h == "wrong box")]
    for i in invalid:
        assert f"invalid answer for tweet {i}" in err
    spelled = next(t for t in gold.tweets if plan.get(t.id) == "spellings")
    reverse = {"PER": "person", "LOC": "Location", "ORG": "organisation", "OTHER": "misc"}
    expected_spellings: dict[str, int] = {}
    for e in spelled.entities:
        expected_spellings[reverse[e.type]] = expected_spellings.get(reverse[e.type], 0) + 1
    assert meta["type_spellings"] == expected_spellings
    assert meta["unplaceable"] == [
        {"id": next(i for i, h in plan.items() if h == "unplaceable"), "text": "Atlantis Quux"}
    ]
    assert meta["clipped_count"] == 1 and meta["degenerate_count"] == 1
    assert meta["clipped"][0]["id"] == next(i for i, h in plan.items() if h == "out of range")
    lines = {x["id"]: x for x in map(json.loads, out.read_text().splitlines())}
    assert len(lines) == len(gold.tweets)  # every tweet written, the invalid ones with no entities
    for i in invalid:
        assert lines[i]["entities"] == []
    clipped = gold.by_id[meta["clipped"][0]["id"]]
    assert lines[clipped.id]["entities"][0]["box"] == [0.0, 0.0, float(clipped.width), float(clipped.height)]
    assert lines[meta["degenerate"][0]["id"]]["entities"][0]["box"] is None
    # the forgiving shapes are read exactly: every other tweet is the gold itself
    for tweet in gold.tweets:
        if plan.get(tweet.id, "plain") in ("fenced", "prose", "bbox", "bbox_2d", "spellings", "plain"):
            assert [(e["start"], e["end"], e["type"], e["box"]) for e in lines[tweet.id]["entities"]] == [
                (g.start, g.end, g.type, [float(v) for v in g.boxes[0]] if len(g.boxes) else None)
                for g in tweet.entities
            ]
    sub = read_submission(out, gold, task="gmner")  # the file validates, and scores below 1 (refused answers)
    assert len(sub.predictions) == meta["entities"]
    report = score_lines(out.read_text().splitlines(), gold, task="gmner")
    assert 0 < report.main.f1 < 1


def test_cache_makes_a_rerun_send_nothing(endpoint, sample_dir, gold, tmp_path, capsys):
    Fake.respond = staticmethod(perfect(gold, "norm1000", []))
    cache, out = tmp_path / "cache.jsonl", tmp_path / "a.jsonl"
    args = ["--box-format", "norm1000", "--cache", str(cache)]
    before = len(Fake.calls)
    assert run(args, endpoint, sample_dir, out) == 0
    assert len(Fake.calls) - before == len(gold.tweets)
    first = json.loads((tmp_path / "a.meta.json").read_text())
    assert first["answers"] == {"from_cache": 0, "requested": len(gold.tweets), "skipped_context": 0}
    Fake.respond = staticmethod(lambda body: "[]")  # never asked (counted below)
    before = len(Fake.calls)
    assert run(args, endpoint, sample_dir, tmp_path / "b.jsonl") == 0
    assert len(Fake.calls) == before
    assert (tmp_path / "b.jsonl").read_text() == out.read_text()
    second = json.loads((tmp_path / "b.meta.json").read_text())
    assert second["answers"]["from_cache"] == len(gold.tweets) and second["usage"]["requests"] == 0
    # another convention is another prompt: asked again
    Fake.respond = staticmethod(perfect(gold, "norm1", []))
    assert run(["--box-format", "norm1", "--cache", str(cache)], endpoint, sample_dir, tmp_path / "c.jsonl") == 0
    assert len(Fake.calls) - before == len(gold.tweets)


def test_text_only_run_writes_an_mner_submission(endpoint, sample_dir, gold, tmp_path, capsys, monkeypatch):
    Fake.respond = staticmethod(perfect(gold, None, []))
    monkeypatch.setenv("MLLM_TEST_KEY", "sekret")
    before = len(Fake.calls)
    out = tmp_path / "text.jsonl"
    assert run(["--api-key-env", "MLLM_TEST_KEY"], endpoint, sample_dir, out, images=False) == 0
    assert all(isinstance(b["messages"][0]["content"], str) for b in Fake.calls[before:])  # no image sent
    assert Fake.keys[before:] == ["Bearer sekret"] * len(gold.tweets)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert all("box" not in e for line in lines for e in line["entities"])
    report = score_lines(out.read_text().splitlines(), gold)
    assert report.task == "mner" and report.main.f1 == 1.0
    assert json.loads((tmp_path / "text.meta.json").read_text())["task"] == "mner"
    assert "MNER" in capsys.readouterr().out


def test_shots_show_train_demonstrations_with_their_boxes(endpoint, sample_dir, gold, tmp_path, capsys):
    train = load_gold("gmner", "train", data_dir=sample_dir)
    seen = []

    def respond(body):
        seen.append(message(body))
        return perfect(gold, "norm1000", [])(body)

    Fake.respond = staticmethod(respond)
    out = tmp_path / "shots.jsonl"
    assert run(["--box-format", "norm1000", "--shots", "2"], endpoint, sample_dir, out) == 0
    assert len(seen) == len(gold.tweets)
    meta = json.loads((tmp_path / "shots.meta.json").read_text())
    for text, images in seen:
        assert len(images) == 3 and text.count("<image>") == 3  # two demonstrations, then the tweet
        assert "Example 2." in text and "Example 3." not in text
    for tweet_id, demo_ids in meta["demos"].items():
        assert len(demo_ids) == 2 and tweet_id not in demo_ids and all(d in train.by_id for d in demo_ids)
    # a demonstration's answer is its gold, boxes in the convention asked for
    shown = 0
    for text, _ in seen:
        line = [x for x in text.splitlines() if x.startswith("Tweet: ")][-1]
        (tweet,) = [t for t in gold.tweets if " ".join(t.tokens) == line[len("Tweet: ") :]]
        for demo in (train.by_id[d] for d in meta["demos"][tweet.id]):
            frame = mllm.make_frame("norm1000", demo.width, demo.height)
            for e in demo.entities:
                box = frame.from_original([float(v) for v in e.boxes[0]]) if len(e.boxes) else None
                assert json.dumps({"entity": e.text, "type": e.type, "box": box}) in text
                shown += box is not None
    assert shown > 0
    assert score_lines(out.read_text().splitlines(), gold, task="gmner").main.f1 == 1.0


def test_cli_errors_are_messages_not_tracebacks(endpoint, sample_dir, tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    for bad in ("ftp://example.org/v1", "localhost:8000/v1", "http:///v1", "http://host:port/v1"):
        assert run(["--box-format", "pixels"], bad, sample_dir, out) == 2
        err = capsys.readouterr().err
        assert "--endpoint" in err and "expected the base URL" in err and "Traceback" not in err
    assert run([], endpoint, sample_dir, out) == 2  # images without a box format
    assert "--box-format is needed" in capsys.readouterr().err
    unreachable = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
    assert run(["--box-format", "pixels", "--retries", "0"], unreachable, sample_dir, out) == 1
    err = capsys.readouterr().err
    assert "the endpoint cannot be reached" in err and "Traceback" not in err and not out.exists()  # checked first
    cache = tmp_path / "cache.jsonl"
    assert run(["--box-format", "pixels", "--retries", "0", "--cache", str(cache)], unreachable, sample_dir, out) == 1
    assert "rerun to resume" in capsys.readouterr().err
    assert run(["--box-format", "pixels"], endpoint, sample_dir, tmp_path / "none" / "x.jsonl") == 2  # no folder
    assert run(["--box-format", "pixels", "--cache", str(out)], endpoint, sample_dir, out) == 2  # cache = output


def test_missing_image_is_a_usage_error(endpoint, sample_dir, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    data = ["--dataset", "gmner", "--split", "test", "--data-dir", str(sample_dir), "--images", str(images)]
    command = ["baseline", "mllm", *data, "--endpoint", endpoint, "--model", "m", "--box-format", "pixels"]
    assert main([*command, "-o", str(tmp_path / "x.jsonl")]) == 2
    assert "have no image <id>.jpg here" in capsys.readouterr().err


def test_degenerate_and_clipping_rules():
    report = mllm.MllmReport()
    frame = mllm.make_frame("norm1", 100, 50)
    answer = json.dumps(
        [
            {"entity": "paris", "type": "LOC", "bbox_2d": [0.5, 0.5, 1.2, 0.9]},
            {"entity": "Paris", "type": "LOC", "box": [0.9, 0.1, 0.2, 0.3]},
            {"entity": "Paris", "type": "LOC", "box": [0.1, 0.1, 0.2, 0.3]},
        ]
    )
    out = mllm.parse_answer("t1", ["Paris", "and", "Paris"], answer, frame, report)
    assert [(e["start"], e["box"]) for e in out] == [(0, [50.0, 25.0, 100.0, 45.0]), (2, None)]
    assert report.case_placed == [("t1", "paris")] and report.clipped == [("t1", "paris")]
    assert report.degenerate == [("t1", "Paris")] and report.repeated == [("t1", "Paris")]
    assert (report.entities, report.boxes, report.null_boxes) == (2, 1, 1)
    assert math.isclose(frame.to_original([1, 1, 1, 1])[3], 50.0)


def test_gold_answers_land_on_the_gold_spans_of_the_real_test_split(data_root):
    """Entity texts listed in the tweet's order find their own occurrence, not an earlier one nor one inside an
    entity already placed (``@ KTLA ... KTLA``, ``Klay Thompson . Thompson``): a perfect answer scores 100."""
    gold = load_gold("gmner", "test", data_dir=data_root / "twitter-gmner" / "v2.0")
    report = mllm.MllmReport()
    lines = []
    for t in gold.tweets:
        answer = json.dumps([{"entity": e.text, "type": e.type} for e in t.entities])
        lines.append(json.dumps({"id": t.id, "entities": mllm.parse_answer(t.id, t.tokens, answer, None, report)}))
    assert report.ambiguous and not (report.invalid or report.unplaceable or report.repeated or report.case_placed)
    result = score_lines(lines, gold)
    assert result.main.f1 == 1.0 and result.main.gold == 2543


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("[1, 2]", "item 1: expected an object"),
        ('[{"type": "PER", "box": null}]', "item 1: no entity text"),
        ('[{"entity": "Paris", "type": "LOC"}]', "item 1: no box"),
        ('[{"entity": "Paris", "type": "LOC", "bbox": [1, 2, 3]}]', "item 1: bbox: expected [x1, y1, x2, y2]"),
        ('[{"entity": "Paris", "type": "LOC", "box": [1, 2, 3, true]}]', "item 1: box: expected [x1, y1, x2, y2]"),
        (None, "no answer: the prompt does not fit"),
    ],
)
def test_invalid_answers_give_no_entities_and_a_reason(answer, reason):
    report = mllm.MllmReport()
    assert mllm.parse_answer("t9", ["Paris"], answer, mllm.make_frame("pixels", 10, 10), report) == []
    assert len(report.invalid) == 1 and report.invalid[0][0] == "t9" and report.invalid[0][1].startswith(reason)
    assert report.tweets == 1 and report.entities == 0


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('[{"entity": "Paris", "type": "LOC", "box": [' + "9" * 300 + ", 1, 2, 3]}]", "item 1: box: expected"),
        ('[{"entity": "Paris", "type": "LOC", "box": [1e300, 1, 2, 3]}]', "item 1: box: expected"),
        ('[{"entity": "Paris", "type": "LOC", "box": [-2000000, 1, 2, 3]}]', "item 1: box: expected"),
        ('[{"entity": "Paris", "type": "LOC", "box": [' + "9" * 5000 + ", 1, 2, 3]}]", "no JSON list of entities"),
        ("[" * 100_001, "an answer of 100001 characters (at most 100000"),
    ],
    ids=["300-digit-int", "1e300", "far-negative", "5000-digit-int", "too-long"],
)
def test_hostile_numbers_and_sizes_are_invalid_answers_not_crashes(answer, reason):
    test_invalid_answers_give_no_entities_and_a_reason(answer, reason)


@pytest.mark.parametrize("unit", ['["a', "[", '{"entity": [', "[1,", '{"a": "'])
def test_parsing_an_adversarial_answer_makes_a_bounded_number_of_attempts(unit, monkeypatch):
    """A decode attempt from every bracket made a 300 KB answer take 30 s: now the whole answer, its fenced
    blocks and at most MAX_DECODE_ATTEMPTS brackets are tried, in an answer of at most MAX_ANSWER_CHARS."""
    answer = (unit * (mllm.MAX_ANSWER_CHARS // len(unit) + 1))[: mllm.MAX_ANSWER_CHARS]
    attempts = []
    decode = mllm._decode
    monkeypatch.setattr(mllm, "_decode", lambda text, start=None: attempts.append(start) or decode(text, start))
    with pytest.raises(mllm.InvalidAnswer, match="no JSON list of entities"):
        mllm.extract_entities(answer)
    assert attempts[0] is None and len(attempts) == 1 + mllm.MAX_DECODE_ATTEMPTS


def test_run_from_python_with_a_config_equals_the_command(endpoint, sample_dir, gold, tmp_path, capsys):
    """The library call the command adapts: MllmConfig + a Gold in, submission lines and metadata out."""
    sizes: list = []
    Fake.respond = perfect(gold, "norm1000", sizes)
    config = mllm.MllmConfig(
        endpoint=endpoint, model="fake-vl", images=str(sample_dir / "images"), box_format="norm1000"
    )
    result = mllm.run(config, gold)
    assert [line["id"] for line in result.lines] == [t.id for t in gold.tweets]
    assert score_lines(result.lines, gold, task="gmner").main.f1 == 1.0
    assert result.metadata["task"] == "gmner" and result.metadata["usage"]["requests"] == len(gold.tweets)
    out = tmp_path / "out.jsonl"
    assert run(["--box-format", "norm1000"], endpoint, sample_dir, out) == 0
    assert [json.loads(x) for x in out.read_text().splitlines()] == result.lines
    meta = json.loads(mllm.metadata_path(out).read_text())
    assert {k: v for k, v in meta.items() if k not in ("command", "usage")} == {
        k: v for k, v in result.metadata.items() if k != "usage"
    }
    with pytest.raises(mllm.UsageError, match="--box-format is needed"):
        mllm.run(config.model_copy(update={"box_format": None}), gold)
    with pytest.raises(pydantic.ValidationError):
        mllm.MllmConfig(endpoint=endpoint, model="m", timeout=float("nan"))


class Listing(Fake):
    """The fake endpoint, listing the models it serves at GET /v1/models."""

    def do_GET(self):
        Fake.calls.append({"GET": self.path})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"data": [{"id": "fake-vl"}, {"id": "other"}]}).encode())


def test_the_endpoint_is_checked_once_before_the_first_request(sample_dir, gold, tmp_path, capsys):
    with local_endpoint(Listing) as url:
        Fake.calls.clear()
        out = tmp_path / "x.jsonl"
        command = ["--dataset", "gmner", "--split", "test", "--data-dir", str(sample_dir), "--endpoint", url]
        assert main(["baseline", "mllm", *command, "--model", "qwen-typo", "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert "--model 'qwen-typo': " in err and "serves 'fake-vl', 'other'" in err and not out.exists()
        assert Fake.calls == [{"GET": "/v1/models"}]  # nothing was asked of a model the endpoint does not serve
        Fake.respond = lambda body: "[]"
        cache = tmp_path / "answers.jsonl"
        assert main(["baseline", "mllm", *command, "--model", "fake-vl", "--cache", str(cache), "-o", str(out)]) == 0
        assert Fake.calls[1] == {"GET": "/v1/models"} and len(Fake.calls) == 2 + len(gold.tweets)  # checked once
    Fake.calls.clear()  # the endpoint is gone: a rerun from the cache asks (and checks) nothing
    assert main(["baseline", "mllm", *command, "--model", "fake-vl", "--cache", str(cache), "-o", str(out)]) == 0
    assert Fake.calls == []
