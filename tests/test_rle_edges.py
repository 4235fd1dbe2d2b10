"""The validator reads a compressed RLE mask the way pycocotools does, or refuses it.

pycocotools' C reader (maskApi.c ``rleFrString``) keeps runs in 32-bit ``uint`` counts and builds each value
with ``int`` shifts of 5 bits per character, so a wide value is read as another number. The old validator
read values of up to 12 characters (60 bits) into int64 and summed them with wrap-around: a string whose runs
"added up" to h * w after wrapping was valid for us while pycocotools read other runs (``smner-bench show``
then died in pycocotools' decoder, exit 3, and the scorer computed IoUs on runs nobody meant).

Here the decision of :func:`rle_problem` is compared with "pycocotools reads exactly these runs and they add
up to h * w", where "these runs" come from an exact reader written out below in plain Python integers (no
wrap-around anywhere), and "pycocotools reads them" is asked of pycocotools itself: decode (small masks) and
its re-encoding of what it read (merge of one mask), or its area and bounding box (masks too large to decode).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as coco

from smner_bench.benchmark.regions import MAX_VALUE_CHARS, rle_problem, rle_runs, rles_valid
from smner_bench.benchmark.submission import gold_as_submission, write_submission
from smner_bench.cli import main

from .fuzzing import fuzz_settings

U32 = 2**32
SMALL = 4096  # masks up to this many pixels are decoded by pycocotools in the oracle


# --- an exact reader and writer of compressed counts, in Python integers ------------------------------------


def values_of(counts: str) -> list[tuple[int, int]]:
    """(value, characters) of each value of a counts string (sign-extended, no width limit)."""
    out, value, k = [], 0, 0
    for ch in counts:
        c = ord(ch) - 48
        value |= (c & 0x1F) << (5 * k)
        k += 1
        if not c & 0x20:
            if c & 0x10:
                value -= 1 << (5 * k)
            out.append((value, k))
            value, k = 0, 0
    assert k == 0, "unfinished value"
    return out


def exact_runs(counts: str) -> list[int]:
    """The runs a counts string means: values after the third are differences with the run two before."""
    runs: list[int] = []
    for i, (value, _) in enumerate(values_of(counts)):
        runs.append(value + (runs[i - 2] if i > 2 else 0))
    return runs


def write_value(value: int, width: int = 0) -> str:
    """``value`` in at least ``width`` characters (pycocotools' writer uses the fewest; more is padding)."""
    chars = []
    while True:
        c = value & 0x1F
        value >>= 5
        done = (value == -1) if c & 0x10 else (value == 0)
        if done and len(chars) + 1 >= width:
            chars.append(chr(c + 48))
            return "".join(chars)
        chars.append(chr((c | 0x20) + 48))


def deltas(runs: list[int]) -> list[int]:
    return [r - (runs[i - 2] if i > 2 else 0) for i, r in enumerate(runs)]


def write_runs(runs: list[int]) -> str:
    """What pycocotools' writer (rleToString) writes for these runs."""
    return "".join(write_value(v) for v in deltas(runs))


# --- what pycocotools reads ------------------------------------------------------------------------------------


def mask_of(runs: list[int], h: int, w: int) -> np.ndarray:
    flat = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
    return flat.reshape(w, h).T


def pycocotools_reads(counts: str, h: int, w: int, runs: list[int]) -> bool:
    """pycocotools reads ``runs`` (in 0..2**32-1, adding up to h * w) from ``counts``."""
    rle = {"size": [h, w], "counts": counts.encode("ascii")}
    if h * w <= SMALL:
        try:
            decoded = coco.decode(rle)
        except ValueError:  # its runs overflow the mask
            return False
        if not (decoded == mask_of(runs, h, w)).all():
            return False
        # what it read, written back by its own writer (safe here: the runs are small)
        return coco.merge([rle])["counts"].decode() == write_runs(runs)
    area = sum(runs[1::2])  # pycocotools sums it in 32 bits
    starts = np.cumsum([0, *runs])
    ones = [(s, s + r - 1) for s, r in zip(starts[1::2], runs[1::2], strict=False) if r]
    xs = [int(p) // h for span in ones for p in span]
    box = [min(xs), 0, max(xs) - min(xs) + 1, h] if ones else [0, 0, 0, 0]  # the edge cases span columns
    return int(coco.area(rle)) == area and coco.toBbox(rle).tolist() == [float(v) for v in box]


def oracle(counts: str, h: int, w: int) -> bool:
    """pycocotools reads exactly the runs the string means, and they add up to h * w (below 2**32: pycocotools
    counts pixel positions, areas and IoUs in 32 bits too)."""
    runs = exact_runs(counts)
    if not all(0 <= r < U32 for r in runs) or sum(runs) != h * w:
        return False  # no 32-bit reading is these runs, or they are not a mask of this size
    if h * w >= U32:
        assert not pycocotools_reads(counts, h, w, runs)  # its area of the edge case wraps
        return False
    return pycocotools_reads(counts, h, w, runs)


def accepted(counts: str, h: int, w: int) -> bool:
    return rle_problem({"size": [h, w], "counts": counts}) is None


# --- hand-made edge values -----------------------------------------------------------------------------------

WRAP = write_runs([20, 2**58, 2**58]) + "0" * 62  # 64 runs of 2**58 wrap int64 back to 20 pixels
EDGES = [
    # (name, counts, [h, w])
    ("a 2x2 square", "62304", [5, 4]),
    ("12-character runs whose sum wraps int64 to h*w", WRAP, [5, 4]),
    ("a 12-character run that is 2**32 + 6", write_runs([2**32 + 6, 2, 3, 2, 7]), [5, 4]),
    ("a run of 2**31 - 1", write_runs([0, 2**31 - 1]), [1, 2**31 - 1]),
    ("a run of 2**32 - 1", write_runs([0, 2**32 - 1]), [65535, 65537]),
    ("a run of 2**32 in a mask of 2**32 + 65536", write_runs([2**32, 65536]), [65536, 65537]),
    ("2**32 pixels: pycocotools' 32-bit area wraps to 0", write_runs([0, 2**31, 0, 2**31]), [65536, 65536]),
    ("a run of 2**32 that pycocotools reads as 0", write_runs([1, 2**32]), [1, 1]),
    ("a 6-character negative difference", write_runs([0, 2**28, 0, 1]), [17, 15790321]),
    ("a 7-character negative difference (pycocotools misreads its own writing)", write_runs([0, 2**31, 0, 1]),
     [3, 715827883]),
    ("a difference that makes a run negative", write_runs([2, 3, 15]) + write_value(-4), [4, 5]),
    ("a negative difference to a zero run", write_runs([2, 3, 15]) + write_value(-3), [4, 5]),
    ("a negative first run", write_value(-1) + write_value(21), [4, 5]),
    ("runs of 2**32 + 20 pixels: a 32-bit sum would be h*w", write_runs([2**32 - 1, 1, 20]), [5, 4]),
    ("a 35-bit difference that wraps uint32 back", write_runs([6, 2, 3]) + write_value(2**32) + write_value(7),
     [5, 4]),
]  # fmt: skip


@pytest.mark.parametrize(("counts", "size"), [case[1:] for case in EDGES], ids=[case[0] for case in EDGES])
def test_edge_values_are_accepted_exactly_when_pycocotools_reads_the_same_runs(counts, size):
    ours = accepted(counts, *size)
    assert ours == oracle(counts, *size)
    if not ours:
        assert rle_problem({"size": size, "counts": counts}).startswith(("counts ", "the runs cover", "size "))


def test_the_edge_table_has_both_answers():
    decisions = [accepted(counts, *size) for _, counts, size in EDGES]
    assert decisions.count(True) == 5 and decisions.count(False) == len(EDGES) - 5


def test_the_messages_say_what_pycocotools_would_do():
    assert "more than 7 characters" in rle_problem({"size": [5, 4], "counts": WRAP})
    problem = rle_problem({"size": [3, 715827883], "counts": write_runs([0, 2**31, 0, 1])})
    assert "negative 7-character value" in problem
    problem = rle_problem({"size": [5, 4], "counts": write_runs([6, 2, 3]) + write_value(2**32) + write_value(7)})
    assert "32-bit counts" in problem
    assert "2**32 pixels or more" in rle_problem({"size": [65536, 65537], "counts": write_runs([2**32, 65536])})


@pytest.mark.parametrize(("index", "value"), [(0, 3), (1, 4), (2, 5), (3, -2), (4, 1)])
def test_padded_values_past_what_pycocotools_writes_are_refused(index, value):
    """A value padded to 8+ characters (or a negative one to 7) reads the same in Python, but pycocotools shifts
    an ``int`` by 35 bits and more there: what it reads depends on the build. Its writer never writes them."""
    runs = [3, 4, 5, 2, 6]
    values = deltas(runs)
    assert values[index] == value

    def padded(width: int) -> str:
        return "".join(write_value(v, width if i == index else 0) for i, v in enumerate(values))

    widest = MAX_VALUE_CHARS if value >= 0 else MAX_VALUE_CHARS - 1  # the widest value pycocotools reads right
    assert exact_runs(padded(widest)) == exact_runs(padded(widest + 1)) == runs
    assert accepted(padded(widest), 4, 5) and oracle(padded(widest), 4, 5)
    problem = rle_problem({"size": [4, 5], "counts": padded(widest + 1)})
    assert f"value {index} " in problem
    assert ("more than 7 characters" if value >= 0 else "negative 7-character value") in problem


# --- the property: random masks, written with wide, padded and wrapped values ---------------------------------


def in_domain(counts: str) -> bool:
    """Every value within what pycocotools reads as written: 7 characters at most, 6 for a negative one."""
    return all(k < MAX_VALUE_CHARS or (k == MAX_VALUE_CHARS and v >= 0) for v, k in values_of(counts))


SHIFTS = [0, 0, 0, 1, -1, U32, -U32, 2**31, -(2**31), 2**33, 2**34 - 1, -(2**34), 2**58, 3 * U32, -(2**29) - 1]


@st.composite
def written_masks(draw) -> tuple[str, int, int]:
    runs = draw(st.lists(st.integers(0, 6), min_size=1, max_size=9))
    total = sum(runs) or 1
    runs[0] += total - sum(runs)
    values = deltas(runs)
    for _ in range(draw(st.integers(0, 2))):  # shift values: wraps by 2**32, sign flips, 60-bit values
        i = draw(st.integers(0, len(values) - 1))
        values[i] += draw(st.sampled_from(SHIFTS))
        if draw(st.booleans()) and len(values) > 1:  # and compensate in a later run, keeping the sum
            j = draw(st.integers(0, len(values) - 1))
            values[j] -= values[i] - deltas(runs)[i]
    widths = [draw(st.integers(1, MAX_VALUE_CHARS + 1)) if draw(st.booleans()) else 0 for _ in values]
    counts = "".join(write_value(v, k) for v, k in zip(values, widths, strict=True))
    h = draw(st.sampled_from([d for d in range(1, total + 1) if total % d == 0]))
    w = total // h + draw(st.sampled_from([0, 0, 0, 1]))
    return counts, h, w


@fuzz_settings(600)
@given(written_masks())
def test_the_validator_and_pycocotools_read_the_same_runs(case):
    counts, h, w = case
    ours = accepted(counts, h, w)
    if in_domain(counts):
        assert ours == oracle(counts, h, w)
    else:
        assert not ours  # refused whatever a build of pycocotools reads (see the padded test)
    if ours:  # our runs are pycocotools' runs: same mask, same re-encoding
        runs = rle_runs(counts).tolist()
        assert runs == exact_runs(counts) and sum(runs) == h * w
        assert pycocotools_reads(counts, h, w, runs)


# --- the commands: exit 1 with the line and the field, never an internal error --------------------------------


@pytest.fixture
def wrapped_submission(tmp_path, smner_gold):
    lines = gold_as_submission(smner_gold, box=True, mask=True)
    line = next(i for i, x in enumerate(lines) if any(e["mask"] for e in x["entities"]))
    entity = next(e for e in lines[line]["entities"] if e["mask"])
    h, w = entity["mask"]["size"]
    entity["mask"]["counts"] = write_runs([h * w, 2**58, 2**58]) + "0" * 62  # sums to h * w in int64
    path = tmp_path / "wrapped.jsonl"
    write_submission(path, lines)
    return path, line + 1, lines[line]["id"]


@pytest.mark.parametrize("command", ["validate", "score", "show"])
def test_commands_refuse_a_wrapped_mask_with_exit_1(capsys, tmp_path, sample_dir, wrapped_submission, command):
    path, lineno, tweet = wrapped_submission
    args = ["--dataset", "smner", "--split", "test", "--data-dir", str(sample_dir)]
    if command == "show":
        args += ["--id", tweet, "--predictions", str(path), "-o", str(tmp_path / "out.png")]
    else:
        args = [str(path), *args]
    assert main([command, *args]) == 1
    err = capsys.readouterr().err
    assert f"wrapped.jsonl:{lineno}: entities[" in err and "].mask: counts is not" in err, err
    assert "more than 7 characters" in err
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def test_the_wrapped_mask_json_is_what_the_old_validator_accepted():
    """Guard of the fixture: int64 sums of its runs wrap back to h * w (what the old validator summed)."""
    runs = exact_runs(WRAP)
    assert sum(runs) != 20 and int(np.array(runs, dtype=object).sum()) % 2**64 == 20
    assert json.loads(json.dumps(WRAP)) == WRAP


def test_a_gold_mask_of_another_size_is_iou_0_and_never_reaches_pycocotools():
    """pycocotools computes every mask's box first, dividing by its height: a gold mask of height 0 (an exported
    gold is read as it is) killed the scorer with SIGFPE. Run in a child process: the old code kills it."""
    code = (
        "from smner_bench.benchmark.regions import mask_ious\n"
        "square = {'size': [5, 4], 'counts': '62304'}\n"
        "golds = [square, {'size': [0, 5], 'counts': '02'}, {'size': [4, 5], 'counts': '62304'}]\n"
        "print(mask_ious(square, golds).tolist())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[1.0, 0.0, 0.0]", (done.returncode, done.stderr[-500:])


# --- the batched check: rles_valid says yes exactly where rle_problem does --------------------------------------

HOSTILE_VALUES = [0, 1, -1, 15, 16, -16, -17, 2**31 - 1, 2**31, U32 - 1, U32, -U32, 2**34 - 1, -(2**30), 2**58]
NOT_COUNTS = ["/", "p", "~", " ", "\x00", "é", "\udc80", "P" * 3]  # outside '0'..'o' (or unfinished: "PPP")


@st.composite
def hostile_counts(draw) -> str:
    """Counts strings: the runs of a mask (small or up to 2**32 - 1) as pycocotools writes them or padded up to
    what it reads, then maybe broken (a piece added, a character changed, the last one cut); or made of pieces:
    values written or padded past 7 characters, raw characters of '0'..'o', characters outside it, unfinished
    values; sometimes empty."""
    if draw(st.booleans()):
        big = st.sampled_from([2**31, U32 - 1, 2**20])  # one in four runs
        runs = draw(st.lists(st.integers(0, 9) | st.integers(0, 999) | st.integers(0, 9) | big, min_size=1, max_size=9))
        values = deltas(runs)
        counts = "".join(write_value(v, draw(st.integers(0, 7 if v >= 0 else 6))) for v in values)
        broken = draw(st.integers(0, 7))
        if broken == 1:
            counts += draw(st.sampled_from([*NOT_COUNTS, write_value(1, 8), write_value(-1, 7), "0"]))
        elif broken == 2:
            at = draw(st.integers(0, len(counts) - 1))
            counts = counts[:at] + chr(draw(st.integers(40, 120))) + counts[at + 1 :]
        elif broken == 3:
            counts = counts[:-1]
        return counts
    pieces = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind < 5:
            value = draw(st.sampled_from(HOSTILE_VALUES) | st.integers(-(2**36), 2**36) | st.integers(0, 40))
            pieces.append(write_value(value, draw(st.sampled_from([0, 0, 0, 6, 7, 8, 12]))))
        elif kind < 7:
            pieces.append(draw(st.text(st.characters(min_codepoint=48, max_codepoint=111), max_size=9)))
        elif kind < 8:
            pieces.append(draw(st.sampled_from(NOT_COUNTS)))
        else:
            pieces.append(chr(draw(st.integers(80, 111))))  # a value that goes on (unfinished at the end)
    return "".join(pieces)


def size_for(counts: str, draw) -> list:
    """A size the runs fill exactly, when they are runs of a mask (so that both answers come up), else any."""
    try:
        total = int(rle_runs(counts).sum())
    except ValueError:
        total = draw(st.integers(1, 50))
    if total <= 0 or total >= U32:
        return [1, max(total, 1)] if draw(st.booleans()) else [65536, 65536]
    h = draw(st.sampled_from([d for d in (1, 2, 3, 4, 5, 7, 16, 65536) if total % d == 0]))
    return [h, total // h + draw(st.sampled_from([0, 0, 0, 1, -1]))]


@st.composite
def hostile_rles(draw) -> object:
    counts = draw(hostile_counts())
    size = size_for(counts, draw)
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.sampled_from([None, [], "62304", {"size": [5, 4]}, {"size": [5, 4], "counts": "62304", "x": 1}]))
    if kind == 1:  # a size of the wrong shape or type, or of 2**32 pixels or more
        return {"size": draw(st.sampled_from([[5], [5, 4, 1], [0, 5], [True, 20], [5.0, 4], (5, 4), [U32, 1]])),
                "counts": counts}  # fmt: skip
    if kind == 2:
        return {"size": size, "counts": draw(st.sampled_from([[20], b"62304", None, 62304]))}
    if kind == 3:
        return {"counts": counts, "size": size}  # the keys in the other order
    return {"size": size, "counts": counts}


def one_by_one(rles: list) -> list[bool]:
    return [rle_problem(rle) is None for rle in rles]


@fuzz_settings(500)
@given(st.lists(hostile_rles(), max_size=12))
def test_the_batched_check_accepts_exactly_what_rle_problem_accepts(rles):
    assert rles_valid(rles).tolist() == one_by_one(rles)


@fuzz_settings(200)
@given(st.lists(hostile_rles(), min_size=2, max_size=12), st.integers(1, 40))
def test_the_batched_check_is_the_same_in_batches_of_any_size(monkeypatch_batch, rles, chars):
    """Strings read in several passes (a long string alone) give the same answers as in one."""
    with monkeypatch_batch(chars):
        assert rles_valid(rles).tolist() == one_by_one(rles)


@pytest.fixture
def monkeypatch_batch():
    import contextlib

    from smner_bench.benchmark import regions

    @contextlib.contextmanager
    def batch_chars(chars: int):
        saved = regions._BATCH_CHARS
        regions._BATCH_CHARS = chars
        try:
            yield
        finally:
            regions._BATCH_CHARS = saved

    return batch_chars


def test_the_batched_check_on_the_edge_table_and_hand_made_neighbours():
    """Each edge case beside strings that would change its answer if a value, a sum or a parity ran on from one
    string into the next: an unfinished string before a finished one, a string of one value after one of an odd
    or even number of values, a negative difference right after a string that ends with a large run."""
    rles = [{"size": size, "counts": counts} for _, counts, size in EDGES]
    rles += [
        {"size": [5, 4], "counts": "6230"},  # 4 values: runs cover 13 pixels
        {"size": [1, 7], "counts": "7"},  # a lone value: 7 pixels
        {"size": [5, 4], "counts": "6230P"},  # unfinished ("P" goes on)...
        {"size": [5, 4], "counts": "4"},  # ...into a string that would finish it
        {"size": [1, 20], "counts": "62304"[:3]},  # runs 6, 2, 3 = 11: not 20
        {"size": [1, 11], "counts": "623"},
        {"size": [4, 5], "counts": write_runs([2, 3, 15]) + write_value(-3)},  # run 3 is 0
        {"size": [4, 5], "counts": write_runs([2, 3, 15])},  # without it: 20 pixels
        {"size": [1, 2], "counts": write_value(-1) + write_value(3)},  # run 0 negative, total 2
        {"size": [1, 1], "counts": ""},
        {"size": [1, 1], "counts": "1"},
        {"size": [1, 2], "counts": "1" + write_value(1, 8)},  # a run of 1 written in 8 characters
        {"size": [1, 2], "counts": "1" + write_value(1, 7)},  # and in 7: pycocotools reads it
        {"size": [1, 1], "counts": "0" * 10 + "1"},  # 11 values: runs of 0 but one
    ]
    expected = one_by_one(rles)
    assert rles_valid(rles).tolist() == expected
    assert rles_valid(rles[::-1]).tolist() == expected[::-1]
    assert 8 <= expected.count(True) <= len(rles) - 10  # both answers, many of each
    assert rles_valid([]).shape == (0,)
