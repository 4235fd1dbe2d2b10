"""Fuzzing the raw-file readers with hypothesis: mutated CoNLL, VOC XML, labelme JSON and knowledge files.

Each example mutates ONE file of a small release cut from the synthetic sample (4 tweets: boxes, two
boxes of one entity, a grouped mask, a tweet without entity; images, knowledge and captions too) and reads
the whole release through :func:`smner_bench.loaders.assemble.iter_examples`, the function the
``datasets`` builder streams (every reader: CoNLL, VOC, labelme, images, knowledge, captions), without
the Arrow cache. The outcome must be either examples whose gold the submission validator would accept
(finite, ordered boxes inside the image, masks of the image's size) or one ``SmnerError`` with exit 1 or 2
that names a file, in a bounded message. A smaller test runs the real command line (``smner-bench
stats``, a fresh cache per example) and checks exit codes and output; one test checks memory under
``RLIMIT_AS``.

Hypothesis runs derandomized (fixed seed, no example database) so CI is deterministic; a failure prints
the example and ``@reproduce_failure`` blob. Figures (measured on the 2-core dev machine): see the
``EXAMPLES`` table and the closing note of issue 10.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smner_bench.benchmark.errors import SmnerError
from smner_bench.benchmark.regions import rle_problem
from smner_bench.benchmark.submission import BOX_TOLERANCE
from smner_bench.loaders.assemble import Sources, iter_examples
from smner_bench.loaders.configs import config_info
from smner_bench.loaders.quirks import QuirkReport
from smner_bench.loaders.rawfile import MAX_SIDE

from .fuzzing import fuzz_settings

TWEETS = ("s0001", "s0002", "s0003", "s0004")  # s0002: two boxes and masks; s0003: no entity; s0004: group mask
# examples per test: a few thousand in all, about a minute on a 2-core machine
EXAMPLES = {"conll": 700, "voc": 900, "labelme": 700, "knowledge": 500, "cli": 80}
MAX_MESSAGE = 1000  # characters of one error message or quirk


# ---------------------------------------------------------------------------------------------------------
# the small release and the checks of an outcome
# ---------------------------------------------------------------------------------------------------------


def _blocks(text: str) -> list[str]:
    return [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]


@pytest.fixture(scope="module")
def release(sample_dir, tmp_path_factory) -> Path:
    """``train.txt`` with four sample tweets, their XML, labelme files and images, the first four knowledge
    records (a folder) and the caption files."""
    root = tmp_path_factory.mktemp("fuzz") / "release"
    for sub in ("xml", "masks", "images", "knowledge", "captions"):
        (root / sub).mkdir(parents=True)
    blocks = [
        b for b in _blocks((sample_dir / "train.txt").read_text(encoding="utf-8")) if b.split("\n")[0][6:] in TWEETS
    ]
    assert len(blocks) == len(TWEETS)
    (root / "train.txt").write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    for tid in TWEETS:
        for sub, ext in (("xml", "xml"), ("masks", "json"), ("images", "jpg")):
            if (sample_dir / sub / f"{tid}.{ext}").is_file():
                shutil.copy(sample_dir / sub / f"{tid}.{ext}", root / sub / f"{tid}.{ext}")
    with zipfile.ZipFile(sample_dir / "knowledge.zip") as zf:
        records = _blocks(zf.read("train.txt").decode("utf-8"))[: len(TWEETS)]
    (root / "knowledge" / "train.txt").write_text("\n\n".join(records) + "\n\n", encoding="utf-8")
    for name in ("BLIP2_sample.txt", "mplug-owl_train.txt"):
        shutil.copy(sample_dir / "captions" / name, root / "captions" / name)
    return root


def read_release(root: Path) -> list[dict] | SmnerError:
    """Every reader over the release (config smner, images, knowledge, captions): examples, or the error."""
    report = QuirkReport()
    try:
        sources = Sources(
            config_info("smner"),
            root,
            image_dir=root / "images",
            knowledge=root / "knowledge",
            captions=(root / "captions",),
        )
        examples = list(iter_examples(sources, "train", report))
    except SmnerError as exc:
        return exc
    for quirk in report.quirks:
        assert len(str(quirk)) < MAX_MESSAGE + len(quirk.file), str(quirk)[:2000]
    return examples


OUTCOMES: Counter[str] = Counter()  # "read" / "error": printed at the end of the module (pytest -s)


@pytest.fixture(scope="module", autouse=True)
def _print_outcomes():
    yield
    print(f"\nraw fuzz outcomes: {dict(OUTCOMES)}")


def check_outcome(outcome: list[dict] | SmnerError) -> None:
    OUTCOMES["error" if isinstance(outcome, SmnerError) else "read"] += 1
    if isinstance(outcome, SmnerError):
        message = str(outcome)
        assert outcome.exit_code in (1, 2), message
        assert outcome.file, f"no file named: {message[:500]}"
        assert len(message) < MAX_MESSAGE + len(outcome.file), message[:2000]
        return
    for ex in outcome:
        width, height = ex["width"], ex["height"]
        assert (width is None) == (height is None)
        if width is not None:
            assert 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE
        for e in ex["entities"]:
            assert e["groundable"] == bool(e["boxes"] or e["masks"])
            for box in e["boxes"]:
                check_gold_box(box, width, height)
            for mask in e["masks"]:
                assert rle_problem(mask) is None, mask
                assert width is not None and mask["size"] == [height, width]


def check_gold_box(box: list[float], width: int | None, height: int | None) -> None:
    """The submission validator's rule (benchmark/submission.py), on the box as stored (float32)."""
    assert len(box) == 4 and all(math.isfinite(v) for v in box), box
    x1, y1, x2, y2 = (float(np.float32(v)) for v in box)
    assert x1 < x2 and y1 < y2, box
    assert min(x1, y1) >= 0, box
    if width is not None:
        assert x2 <= width + BOX_TOLERANCE and y2 <= height + BOX_TOLERANCE, (box, width, height)


def run_mutated(root: Path, rel: str, data: bytes) -> list[dict] | SmnerError:
    path = root / rel
    original = path.read_bytes()
    try:
        path.write_bytes(data)
        return read_release(root)
    finally:
        path.write_bytes(original)


def test_release_reads_cleanly(release):
    examples = read_release(release)
    assert not isinstance(examples, SmnerError), examples
    assert [ex["id"] for ex in examples] == list(TWEETS)
    assert sum(len(e["boxes"]) for ex in examples for e in ex["entities"]) >= 4
    assert sum(len(e["masks"]) for ex in examples for e in ex["entities"]) >= 4
    assert all(ex["knowledge"] and ex["caption"] for ex in examples)
    check_outcome(examples)


# ---------------------------------------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------------------------------------

CHUNKS = [
    b"\xef\xbb\xbf", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\r", b"\n", b"\r\n", b"\t", b" ", b"\xc2\xa0",
    b"\xc2\x92", b"\xe2\x80\xa8", b"nan", b"inf", b"-inf", b"1e999", b"-1", b"0", b"99999999", b"-0.5", b"1e-320",
    b"<", b">", b"&", b"&amp;", b"<!DOCTYPE a>", b"<object>", b"</object>", b"\"", b"[", b"]", b"{", b"}", b",",
    b"IMGID:", b"IMGID:../x\n", b"B-PER", b"I-MISC", b"<EOS>\tX", b"null", b"true", b"1e400", b"9" * 30,
]  # fmt: skip


@st.composite
def byte_mutations(draw, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(("insert", "replace", "delete")))
        chunk = draw(st.one_of(st.sampled_from(CHUNKS), st.binary(min_size=1, max_size=6)))
        if kind == "insert":
            data[at:at] = chunk
        elif kind == "replace":
            data[at : at + len(chunk)] = chunk
        else:
            del data[at : at + draw(st.integers(1, 12))]
    return bytes(data)


@st.composite
def line_mutations(draw, original: bytes, pool: list[str]) -> bytes:
    lines = original.decode("utf-8").split("\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines)))
        kind = draw(st.sampled_from(("insert", "replace", "delete", "duplicate")))
        new = draw(st.one_of(st.sampled_from(pool), st.text(max_size=12).map(lambda t: t + "\tO")))
        if kind == "insert":
            lines.insert(at, new)
        elif kind == "replace" and at < len(lines):
            lines[at] = new
        elif kind == "delete" and at < len(lines):
            del lines[at]
        elif at < len(lines):
            lines.insert(at, lines[at])
    return "\n".join(lines).encode("utf-8", "surrogatepass")


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
    st.integers(-(10**7), 10**7).map(str),
    st.floats(min_value=-5, max_value=1300).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "", "abc", "0x10", " 1 ", "1e-320", "0", "-0", "20001", "600"]),
)
VOC_FIELDS = ("width", "height", "xmin", "ymin", "xmax", "ymax")


@st.composite
def voc_mutations(draw, original: bytes) -> bytes:
    text = original.decode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        tag = draw(st.sampled_from(VOC_FIELDS))
        found = list(re.finditer(rf"<{tag}>[^<]*</{tag}>", text))
        if not found:
            continue
        m = draw(st.sampled_from(found))
        text = text[: m.start()] + f"<{tag}>{draw(NUMBERS)}</{tag}>" + text[m.end() :]
    return text.encode("utf-8", "surrogatepass")


JSON_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.integers(-(10**6), 10**6),
    st.sampled_from([0, -1, 1, 60, 100000, 1e400, 20001, 7999.5, True, None, "12", [], {}]),
)


@st.composite
def labelme_mutations(draw, original: bytes) -> bytes:
    doc = json.loads(original)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("size", "point", "points", "type", "group", "label", "drop", "mask")))
        shapes = doc.get("shapes") or [{}]
        shape = draw(st.sampled_from(shapes)) if isinstance(shapes, list) and shapes else {}
        if kind == "size":
            doc[draw(st.sampled_from(("imageWidth", "imageHeight")))] = draw(JSON_NUMBERS)
        elif kind == "point" and isinstance(shape.get("points"), list) and shape["points"]:
            i = draw(st.integers(0, len(shape["points"]) - 1))
            shape["points"][i] = [draw(JSON_NUMBERS), draw(JSON_NUMBERS)]
        elif kind == "points":
            shape["points"] = draw(st.lists(st.lists(JSON_NUMBERS, min_size=0, max_size=3), max_size=6))
        elif kind == "type":
            shape["shape_type"] = draw(
                st.sampled_from(["polygon", "rectangle", "circle", "mask", "line", "x", None, 3])
            )
        elif kind == "group":
            shape["group_id"] = draw(st.sampled_from([None, 1, 2, "a", 1.5, [1], True]))
        elif kind == "label":
            shape["label"] = draw(st.one_of(st.text(max_size=20), st.sampled_from([None, 1, ["a"]])))
        elif kind == "drop":
            key = draw(st.sampled_from(("points", "label", "shape_type", "mask", "imageWidth", "shapes")))
            (doc if key in ("imageWidth", "shapes") else shape).pop(key, None)
        else:
            shape["mask"] = draw(st.one_of(st.text(max_size=30), st.sampled_from(["", "iVBORw0KGgo=", None])))
    text = json.dumps(doc)
    if draw(st.booleans()):
        return draw(byte_mutations(text.encode()))
    return text.encode()


CONLL_POOL = [
    "", "IMGID:", "IMGID:s0001", "IMGID:../../etc/passwd", "IMGID:.x", "IMGID:a b", "\ufeffIMGID:s0009",
    "New York\tB-LOC", "\tO", "a\x00b\tO", "\xa0\tO", "\x92\tO", "x\tB-FOO", "x\tI-MISC", "x\tB-PER\tO",
    "x B-PER", "x\t", "\u2028\tO", "x" * 600 + "\tO", "a\rb\tO",
]  # fmt: skip
KNOWLEDGE_POOL = ["", "<EOS>\tX", "<EOS>", "a\tO", "\tX", "x\ty\tz", "\ufeffa\tO", "k" * 2000 + "\tX"]


def _file(release: Path, rel: str) -> bytes:
    return (release / rel).read_bytes()


# ---------------------------------------------------------------------------------------------------------
# the fuzz tests: reader level
# ---------------------------------------------------------------------------------------------------------


@fuzz_settings(EXAMPLES["conll"])
@given(data=st.data())
def test_fuzz_conll(release, data):
    original = _file(release, "train.txt")
    mutated = data.draw(st.one_of(byte_mutations(original), line_mutations(original, CONLL_POOL)))
    check_outcome(run_mutated(release, "train.txt", mutated))


@fuzz_settings(EXAMPLES["voc"])
@given(data=st.data())
def test_fuzz_voc(release, data):
    tid = data.draw(st.sampled_from(["s0001", "s0002", "s0004"]))
    original = _file(release, f"xml/{tid}.xml")
    mutated = data.draw(st.one_of(voc_mutations(original), voc_mutations(original), byte_mutations(original)))
    check_outcome(run_mutated(release, f"xml/{tid}.xml", mutated))


@fuzz_settings(EXAMPLES["labelme"])
@given(data=st.data())
def test_fuzz_labelme(release, data):
    tid = data.draw(st.sampled_from(["s0001", "s0002", "s0004"]))
    original = _file(release, f"masks/{tid}.json")
    mutated = data.draw(st.one_of(labelme_mutations(original), labelme_mutations(original), byte_mutations(original)))
    check_outcome(run_mutated(release, f"masks/{tid}.json", mutated))


@fuzz_settings(EXAMPLES["knowledge"])
@given(data=st.data())
def test_fuzz_knowledge(release, data):
    original = _file(release, "knowledge/train.txt")
    mutated = data.draw(st.one_of(byte_mutations(original), line_mutations(original, KNOWLEDGE_POOL)))
    check_outcome(run_mutated(release, "knowledge/train.txt", mutated))


# ---------------------------------------------------------------------------------------------------------
# the real command line, and memory
# ---------------------------------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> tuple[int, str]:
    from smner_bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue() + err.getvalue()


@fuzz_settings(EXAMPLES["cli"])
@given(data=st.data())
def test_fuzz_cli_stats(release, tmp_path, data):
    target = data.draw(st.sampled_from(["train.txt", "xml/s0002.xml", "masks/s0002.json", "knowledge/train.txt"]))
    original = _file(release, target)
    if target.endswith(".xml"):
        mutated = data.draw(voc_mutations(original))
    elif target.endswith(".json"):
        mutated = data.draw(labelme_mutations(original))
    else:
        mutated = data.draw(byte_mutations(original))
    cache = tmp_path / f"cache-{len(list(tmp_path.iterdir()))}"
    path = release / target
    try:
        path.write_bytes(mutated)
        for name in ("dev.txt", "test.txt"):  # the command prepares every split: the same tweets again
            shutil.copy(release / "train.txt", release / name)
        code, output = run_cli(
            ["stats", "smner", "--data-dir", str(release), "--image-dir", str(release / "images"),
             "--knowledge", str(release / "knowledge"), "--cache-dir", str(cache), "--json"]
        )  # fmt: skip
    finally:
        path.write_bytes(original)
        shutil.rmtree(cache, ignore_errors=True)
    assert code in (0, 1, 2), output[-3000:]
    assert "Traceback" not in output and "internal error" not in output, output[-3000:]
    assert len(output) < 100_000
    if code == 0:
        assert json.loads(output[output.index("{") :])["train"]["tweets"] >= 1


def test_cli_stats_hostile_labelme_under_memory_limit(release, tmp_path):
    """A labelme file declaring 100000 x 100000 pixels (10 GB as a boolean mask) under RLIMIT_AS = 3 GiB
    (the interpreter with datasets loaded takes about 1): exit 1 naming the file, quickly."""
    root = tmp_path / "release"
    shutil.copytree(release, root)
    for name in ("dev.txt", "test.txt"):
        shutil.copy(root / "train.txt", root / name)
    doc = json.loads((root / "masks" / "s0002.json").read_text(encoding="utf-8"))
    doc["imageWidth"] = doc["imageHeight"] = 100000
    (root / "masks" / "s0002.json").write_text(json.dumps(doc), encoding="utf-8")
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from smner_bench.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["stats", "smner", "--data-dir", str(root), "--cache-dir", str(tmp_path / "cache")]
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "s0002.json" in done.stderr and "exceeds the limits" in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
