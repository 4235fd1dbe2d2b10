"""Fuzzing the submission validator with hypothesis: mutated prediction files through the real command line.

Each example starts from valid submission bytes for the synthetic sample's smner/test split (the gold
itself as a perfect submission, or the sample predictions with four mistakes), applies a few mutations
(structural ones on the JSON: hostile values at any field, duplicate keys, deep nesting, huge or
non-finite numbers, long strings, wrong types, unknown keys, corrupted RLE masks, duplicated, dropped or
swapped lines and entities; then byte-level ones: flips, insertions, deletions, truncation, blank lines,
CRLF, a BOM, invalid UTF-8, NUL bytes, gzip, UTF-16) and runs ``smner-bench validate`` or ``score``
in-process (``smner_bench.cli.main``). The outcome must be exit 0, 1 or 2, no traceback and no
"internal error", a bounded output (< 20 kB), and a file that validates must also score. A second test
applies rewrites that keep a file valid (line order, key order, whitespace, CRLF, no final newline, an added
``score``) and checks that the scores do not change. ``parse_line`` is fuzzed alone with random bytes and
random JSON. One test runs hostile files (a 50 MB line, 10 MB of brackets, 100,000 values) in a
subprocess and bounds its peak memory.

To keep thousands of examples within about a minute, the tests reuse one argument parser and load the gold
once (``build_parser`` and ``load_gold`` memoized; everything else is the real command). Hypothesis runs
derandomized (fixed seed, no example database) so CI is deterministic; a failure prints the example and a
``@reproduce_failure`` blob. ``SMNER_FUZZ_SCALE`` scales the example counts (0.1 for a quick run).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from smner_bench import cli
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.submission import MAX_DEPTH, MAX_INT_DIGITS, gold_as_submission, parse_line
from smner_bench.loaders import gold as gold_module
from smner_bench.loaders import load_split
from smner_bench.loaders.sample_predictions import sample_predictions

from .fuzzing import fuzz_settings

# examples per test: a few thousand in all, about a minute on a 2-core machine
EXAMPLES = {"cli": 2500, "valid": 300, "parse": 3000}
MAX_OUTPUT = 20_000  # characters of stdout + stderr of one command


# ---------------------------------------------------------------------------------------------------------
# the starting files and the command line
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bases(sample_dir, tmp_path_factory) -> dict[str, list[dict]]:
    """Valid submissions for smner/test: the gold itself (boxes and masks) and the sample predictions."""
    rows = load_split("smner", sample_dir, "test", cache_dir=tmp_path_factory.mktemp("cache"))
    gold = gold_from_rows(rows, dataset="smner", split="test", has_boxes=True, has_masks=True)
    return {"perfect": gold_as_submission(gold, box=True, mask=True), "sample": sample_predictions(sample_dir)[0]}


@pytest.fixture(scope="module")
def fast_cli():
    """One parser and one gold load for the whole module: the rest of each command runs for real."""
    build = cli.build_parser
    parsers = {command: build(command) for command in ("validate", "score", "compare")}
    gold = functools.lru_cache(maxsize=None)(gold_module.load_gold)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "build_parser", lambda command=None: parsers.get(command) or build(command))
        mp.setattr(gold_module, "load_gold", lambda *args, **kwargs: gold(*args, **kwargs))  # the commands import it
        yield


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def gold_args(sample_dir: Path) -> list[str]:
    return ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir)]


def to_bytes(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


# ---------------------------------------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------------------------------------

RAW = "\x00raw:"  # a string value that stands for raw JSON text, spliced in after json.dumps


def raw(text: str) -> str:
    return RAW + text


def long_string(n: int, char: str) -> str:
    return char * n


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)

hostile_values = st.one_of(
    json_values,
    st.integers(1, 6000).map(lambda n: raw("9" * n)),  # integers up to 6000 digits
    st.integers(MAX_INT_DIGITS - 1, MAX_INT_DIGITS + 2).map(lambda n: raw("-" + "1" * n)),
    st.sampled_from([raw("NaN"), raw("Infinity"), raw("-Infinity"), raw("1e999"), raw("-1e400"), raw("1E-400")]),
    st.sampled_from([raw("-0"), raw("0.0"), raw("1.5"), raw("1e3"), raw("true"), raw("[]"), raw("{}"), raw('""')]),
    st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3).map(lambda d: raw("[" * d + "]" * d)),
    st.integers(1, 3000).map(lambda d: raw('{"a": ' * d + "1" + "}" * d)),
    st.integers(1, 5000).map(lambda d: raw("[" * d)),  # unbalanced
    st.builds(long_string, st.integers(41, 300_000), st.sampled_from(["x", "é", "\u2028", '"', "\\", "\n", "\x00"])),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=6),  # box-like
    st.fixed_dictionaries({"size": st.lists(st.integers(-2, 10**6), max_size=3), "counts": st.text(max_size=20)}),
)

ENTITY_KEYS = ("start", "end", "text", "type", "box", "mask", "score")


def _rle(e: dict) -> bool:
    """The entity still has a mask as the gold wrote it (an earlier mutation may have changed it)."""
    m = e.get("mask")
    return (
        isinstance(m, dict)
        and isinstance(m.get("counts"), str)
        and isinstance(m.get("size"), list)
        and len(m["size"]) == 2
        and all(type(v) is int for v in m["size"])
    )


@st.composite
def structural(draw, lines: list[dict]) -> list[dict]:
    """One structural change of the submission lines (a deep copy)."""
    lines = json.loads(json.dumps(lines))
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i] if isinstance(lines[i], dict) else {}  # an earlier mutation may have made it anything
    entities = line.get("entities") if isinstance(line.get("entities"), list) else []
    entities = [e for e in entities if isinstance(e, dict)]
    kind = draw(
        st.sampled_from(
            ["line_value", "entity_value", "entity_key_drop", "unknown_key", "rle", "mask_size", "box_value",
             "line_dup", "line_drop", "line_swap", "id_change", "entity_dup", "entity_drop", "not_object"]
        )
    )  # fmt: skip
    if kind == "line_value":
        line[draw(st.sampled_from(["id", "entities"]))] = draw(hostile_values)
    elif kind == "entity_value" and entities:
        e = draw(st.sampled_from(entities))
        e[draw(st.sampled_from(ENTITY_KEYS))] = draw(hostile_values)
    elif kind == "entity_key_drop" and entities:
        e = draw(st.sampled_from(entities))
        e.pop(draw(st.sampled_from(ENTITY_KEYS)), None)
    elif kind == "unknown_key":
        target = draw(st.sampled_from(entities)) if entities and draw(st.booleans()) else line
        key = draw(st.sampled_from(["boxes", "label", "", "x" * 100_000, "\u00e9", "Type"]))
        target[key] = draw(hostile_values)
    elif kind == "rle" and any(_rle(e) for e in entities):
        e = draw(st.sampled_from([e for e in entities if _rle(e)]))
        counts = e["mask"]["counts"]
        a = draw(st.integers(0, len(counts)))
        b = draw(st.integers(a, min(len(counts), a + 8)))
        junk = draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=130), max_size=6))
        e["mask"]["counts"] = counts[:a] + junk + counts[b:]
    elif kind == "mask_size" and any(_rle(e) for e in entities):
        e = draw(st.sampled_from([e for e in entities if _rle(e)]))
        h, w = e["mask"]["size"]
        e["mask"]["size"] = draw(st.sampled_from([[w, h], [h + 1, w], [h, w - 1], [0, w], [h * w, 1], [h]]))
    elif kind == "box_value" and any(isinstance(e.get("box"), list) and e["box"] for e in entities):
        e = draw(st.sampled_from([e for e in entities if isinstance(e.get("box"), list) and e["box"]]))
        e["box"][draw(st.integers(0, len(e["box"]) - 1))] = draw(st.floats() | st.integers())
    elif kind == "line_dup":
        lines.insert(draw(st.integers(0, len(lines))), json.loads(json.dumps(line)))
    elif kind == "line_drop" and len(lines) > 1:
        del lines[i]
    elif kind == "line_swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "id_change":
        ids = [x["id"] for x in lines if isinstance(x, dict) and isinstance(x.get("id"), str)]
        line["id"] = draw(st.sampled_from([*ids, "s0001", "", "S0049", " s0049"]))
    elif kind == "entity_dup" and entities:
        entities.append(json.loads(json.dumps(draw(st.sampled_from(entities)))))
    elif kind == "entity_drop" and entities:
        entities.pop(draw(st.integers(0, len(entities) - 1)))
    elif kind == "not_object":
        lines[i] = draw(json_values)
    return lines


def serialize(lines: list, draw) -> bytes:
    """JSON Lines text with the raw placeholders spliced in, and sometimes a duplicated key."""
    out = []
    for line in lines:
        text = json.dumps(line, ensure_ascii=draw(st.booleans()))
        text = re.sub(r'"\\u0000raw:((?:[^"\\]|\\.)*)"', lambda m: json.loads(f'"{m.group(1)}"'), text)
        out.append(text)
    if draw(st.sampled_from([False] * 7 + [True])):  # a duplicated key: "entities", "type", "id", "box"...
        i = draw(st.integers(0, len(out) - 1))
        keys = list(re.finditer(r'"(id|entities|start|end|text|type|box|mask|size|counts)": ', out[i]))
        if keys:
            m = draw(st.sampled_from(keys))
            out[i] = out[i][: m.start()] + f'"{m.group(1)}": null, ' + out[i][m.start() :]
    return "".join(t + "\n" for t in out).encode("utf-8", "surrogatepass")


@st.composite
def byte_level(draw, data: bytes) -> bytes:
    """One change of the file's bytes."""
    kind = draw(
        st.sampled_from(
            ["flip", "insert", "delete", "truncate", "blank", "crlf", "no_final_newline", "bom", "gzip", "utf16",
             "bad_utf8", "nul", "cr_only", "repeat_line"]
        )
    )  # fmt: skip
    n = len(data)
    pos = draw(st.integers(0, n))
    if kind == "flip" and n:
        p = min(pos, n - 1)
        return data[:p] + bytes([data[p] ^ draw(st.integers(1, 255))]) + data[p + 1 :]
    if kind == "insert":
        return data[:pos] + draw(st.binary(min_size=1, max_size=16)) + data[pos:]
    if kind == "delete":
        return data[:pos] + data[pos + draw(st.integers(1, 64)) :]
    if kind == "truncate":
        return data[:pos]
    if kind == "blank":
        starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]
        p = draw(st.sampled_from(starts))
        return data[:p] + draw(st.sampled_from([b"\n", b"  \n", b"\r\n", b"\t\n"])) + data[p:]
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "no_final_newline":
        return data.rstrip(b"\n")
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "utf16":
        return data.decode("utf-8", "replace").encode(draw(st.sampled_from(["utf-16", "utf-16-le"])))
    if kind == "bad_utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80"]))
        return data[:pos] + junk + data[pos:]
    if kind == "nul":
        return data[:pos] + b"\x00" + data[pos:]
    if kind == "cr_only":
        return data.replace(b"\n", b"\r")
    if kind == "repeat_line":
        lines = data.splitlines(keepends=True)
        return b"".join(lines + lines[: draw(st.integers(1, 3))])
    return data


@st.composite
def mutated_file(draw, bases: dict[str, list[dict]]) -> bytes:
    lines = bases[draw(st.sampled_from(sorted(bases)))]
    for _ in range(draw(st.integers(0, 3))):
        lines = draw(structural(lines))
    data = serialize(lines, draw)
    for _ in range(draw(st.integers(0, 2))):
        data = draw(byte_level(data))
    return data


# ---------------------------------------------------------------------------------------------------------
# the fuzz tests
# ---------------------------------------------------------------------------------------------------------


def check_output(code: int, out: str, err: str, path: Path) -> None:
    text = out + err
    assert code in (0, 1, 2), text[-3000:]
    assert "Traceback" not in text and "internal error" not in text, text[-3000:]
    assert len(text) < MAX_OUTPUT, (len(text), text[:3000])
    if code == 1:
        assert f"{path}:" in err and "nothing was scored" in err, err[-3000:]


@fuzz_settings(EXAMPLES["cli"])
@given(data=st.data())
def test_fuzz_submission_cli(bases, fast_cli, sample_dir, tmp_path, data):
    """Any mutation: exit 0, 1 or 2, no traceback, bounded output; a file that validates also scores."""
    content = data.draw(mutated_file(bases), label="file")
    path = tmp_path / "pred.jsonl"
    path.write_bytes(content)
    command = data.draw(st.sampled_from(["validate", "score"]), label="command")
    code, out, err = run_cli([command, path, *gold_args(sample_dir)])
    check_output(code, out, err, path)
    event(f"{command} exit {code}")
    if code == 1:  # which rule caught it, without the values: e.g. "not JSON", "entities[0].mask"
        event(re.sub(r"[\d']+.*", "", err.split("\n", 2)[1].split(": ", 1)[1])[:40])
    if command == "validate" and code == 0:  # it must score: every matching mode, every task it supports
        tasks = out.split("; tasks ", 1)[1].split(";", 1)[0].split(", ")
        task = data.draw(st.sampled_from(tasks), label="task")
        match = data.draw(st.sampled_from(["text", "riveg"] + ["span"] * ("spans given" in out)), label="match")
        code, out, err = run_cli(["score", path, *gold_args(sample_dir), "--task", task, "--match", match, "--ci"])
        check_output(code, out, err, path)
        assert code == 0 and "MNER" in out, err[-3000:]


@st.composite
def valid_rewrite(draw, lines: list[dict]) -> bytes:
    """The same predictions written differently: line order, key order, spacing, line endings, a score."""
    lines = json.loads(json.dumps(lines))
    if draw(st.booleans()):
        lines = draw(st.permutations(lines))
    texts = []
    for line in lines:
        if draw(st.booleans()):
            for e in line["entities"]:
                e["score"] = draw(st.floats(-1e6, 1e6, allow_nan=False))
        if draw(st.booleans()):
            line = dict(reversed(list(line.items())))
            line["entities"] = [dict(reversed(list(e.items()))) for e in line["entities"]]
        separators = draw(st.sampled_from([(", ", ": "), (",", ":"), (" , ", " : ")]))
        texts.append(draw(st.sampled_from(["", " ", "\t"])) + json.dumps(line, separators=separators))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    data = end.join(texts) + (end if draw(st.booleans()) else "")
    return data.encode()


@pytest.fixture(scope="module")
def base_reports(bases, fast_cli, sample_dir, tmp_path_factory) -> dict[str, str]:
    reports = {}
    for name, lines in bases.items():
        path = tmp_path_factory.mktemp("base") / "pred.jsonl"
        path.write_bytes(to_bytes(lines))
        code, out, err = run_cli(["score", path, *gold_args(sample_dir)])
        assert code == 0, err
        reports[name] = out
    return reports


@fuzz_settings(EXAMPLES["valid"])
@given(data=st.data())
def test_fuzz_valid_rewrites_score_the_same(bases, base_reports, fast_cli, sample_dir, tmp_path, data):
    name = data.draw(st.sampled_from(sorted(bases)), label="base")
    path = tmp_path / "pred.jsonl"
    path.write_bytes(data.draw(valid_rewrite(bases[name]), label="file"))
    code, out, err = run_cli(["score", path, *gold_args(sample_dir)])
    assert code == 0, err[-3000:]
    before_ranking = out.split("\nAP/AR")  # a score changes AP/AR (computed, or why not) and nothing above it
    assert before_ranking[0] == base_reports[name].split("\nAP/AR")[0] and len(before_ranking) == 2


@fuzz_settings(EXAMPLES["parse"])
@given(
    raw_line=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"a":', b",", b"1", b'"', b"\\", b" "]), max_size=300).map(
            b"".join
        ),
    )
)
def test_fuzz_parse_line(raw_line):
    """``parse_line`` returns a value or raises ValueError with a short reason; nothing else, whatever the bytes."""
    try:
        value = parse_line(raw_line)
    except ValueError as exc:
        assert 0 < len(str(exc)) < 200
    else:
        assert json.dumps(value) == json.dumps(json.loads(raw_line))  # the plain parser agrees (NaN included)


def test_examples_cover_every_outcome(bases, fast_cli, sample_dir, tmp_path):
    """The mutations reach valid files, invalid ones and usage errors: the fuzz tests are not vacuous."""
    path = tmp_path / "pred.jsonl"
    outcomes = set()
    for content in (
        to_bytes(bases["perfect"]),
        to_bytes(bases["perfect"]).replace(b"\n", b"\r\n"),
        gzip.compress(to_bytes(bases["sample"])),
        b"\xef\xbb\xbf" + to_bytes(bases["sample"]),
        to_bytes(bases["sample"]).replace(b'"entities": ', b'"entities": [], "entities": ', 1),
    ):
        path.write_bytes(content)
        code, out, err = run_cli(["validate", path, *gold_args(sample_dir)])
        check_output(code, out, err, path)
        outcomes.add(code)
    code, out, err = run_cli(["validate", tmp_path / "none.jsonl", *gold_args(sample_dir)])
    check_output(code, out, err, path)
    assert outcomes | {code} == {0, 1, 2}


# ---------------------------------------------------------------------------------------------------------
# memory: hostile files in a subprocess
# ---------------------------------------------------------------------------------------------------------

PEAK_SCRIPT = """\
import io, contextlib, json, resource, sys, tracemalloc
from smner_bench.cli import main
results = []
tracemalloc.start()
for path in sys.argv[1:]:
    err = io.StringIO()
    tracemalloc.reset_peak()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", path, *GOLD])
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.append({"path": path, "code": code, "peak_mb": peak, "rss_mb": rss, "err": err.getvalue()[-5000:]})
print(json.dumps(results))
"""


def test_hostile_files_stay_within_memory(bases, sample_dir, tmp_path):
    """A 50 MB line, 10 MB of brackets, lines of 3,000,000 values or strings each end in exit 1 with the line
    named; the peak of Python allocations while validating one (gold loading included) stays within 100 MB
    of the valid file's (measured: 20-50 MB more), and the process's peak RSS within 200 MB."""
    valid = tmp_path / "valid.jsonl"
    valid.write_bytes(to_bytes(bases["perfect"]))
    head = b'{"id": "s0049", "entities": [], "x": '
    hostile = {
        "long-line": (b'{"id": "' + b"x" * 50_000_000 + b'"}\n', "line longer than 10 MiB"),
        "brackets": (b"[" * 5_000_000 + b"]" * 5_000_000 + b"\n", "nested deeper than 32 levels"),
        "objects": (b'{"a":' * 90_000 + b"1" + b"}" * 90_000 + b"\n", "nested deeper than 32 levels"),
        "open-brackets": (head + b"[" * 10_000_000 + b"\n", "nested deeper than 32 levels"),
        "values": (head + b"[" + b"[]," * 3_000_000 + b"0]}\n", "JSON values on one line"),
        "strings": (head + b"[" + b'"",' * 3_000_000 + b"0]}\n", "JSON strings on one line"),
        "most-strings": (head + b"[" + b'"",' * 99_000 + b"0]}\n", "Extra inputs are not permitted"),
        "huge-int": (head + b"9" * 10_000_000 + b"}\n", "more than 18 digits"),
    }
    paths = [valid]
    for name, (content, _) in hostile.items():
        paths.append(tmp_path / f"{name}.jsonl")
        paths[-1].write_bytes(content)
    script = PEAK_SCRIPT.replace("GOLD", repr(gold_args(sample_dir)))
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, paths)], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.splitlines()[-1])
    baseline = results[0]["peak_mb"]
    assert results[0]["code"] == 0, results[0]
    for (name, (_, needle)), r in zip(hostile.items(), results[1:], strict=True):
        assert r["code"] == 1 and f"{r['path']}:1: " in r["err"] and needle in r["err"], (name, r)
        assert "Traceback" not in r["err"] and len(r["err"]) < 5000, (name, r)
        assert r["peak_mb"] - baseline < 100, (name, r["peak_mb"], baseline)  # Python allocations (tracemalloc)
        assert r["rss_mb"] - results[0]["rss_mb"] < 200, (name, r["rss_mb"], results[0]["rss_mb"])
