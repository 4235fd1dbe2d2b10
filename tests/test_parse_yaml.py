"""benchmark.io.parse_yaml, the one YAML reader: safe, and a mapping that names a key twice is refused with the
file and the line (PyYAML alone keeps the last value without a word)."""

from __future__ import annotations

import pytest

from smner_bench.benchmark.errors import DataFormatError
from smner_bench.benchmark.io import parse_yaml


def refused(text: str | bytes) -> str:
    with pytest.raises(DataFormatError) as caught:
        parse_yaml(text, file="f.yaml")
    assert caught.value.exit_code == 1
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "f.yaml:3: duplicate key 'a' (first on line 1)"),
        ("{a: 1, a: 2}\n", "f.yaml:1: duplicate key 'a' (first on line 1)"),
        ("top:\n  x: 1\n  y: 2\n  x: 3\n", "f.yaml:4: duplicate key 'x' (first on line 2)"),
        ("- a: 1\n- b: 1\n  b: 2\n", "f.yaml:3: duplicate key 'b' (first on line 2)"),
        ("1: a\n1: b\n", "f.yaml:2: duplicate key 1 (first on line 1)"),
        ("'a': 1\n\"a\": 2\n", "f.yaml:2: duplicate key 'a'"),  # quoting makes no other key
        ("? [1, 2]\n: a\n? [1, 2]\n: b\n", "f.yaml:1: not YAML (found unhashable key)"),  # refused all the same
        ("base: &b {a: 1}\nother:\n  <<: *b\n  c: 2\n  c: 3\n", "f.yaml:5: duplicate key 'c' (first on line 4)"),
    ],
    ids=["top level", "flow", "nested", "in a list", "integer key", "quoted", "unhashable", "beside a merge"],
)
def test_a_key_written_twice_is_refused_with_file_and_line(text, message):
    assert message in refused(text)


def test_merge_keys_may_be_overridden_once():
    text = "base: &base\n  lr: 0.1\n  epochs: 3\nrun:\n  <<: *base\n  lr: 0.5\n"
    assert parse_yaml(text) == {"base": {"lr": 0.1, "epochs": 3}, "run": {"lr": 0.5, "epochs": 3}}
    two = "a: &a {x: 1}\nb: &b {x: 2}\nc:\n  <<: [*a, *b]\n"  # two merged maps naming one key: the first wins
    assert parse_yaml(two)["c"] == {"x": 1}


def test_the_same_key_in_two_mappings_is_no_duplicate():
    assert parse_yaml("a: {x: 1}\nb: {x: 2}\nlist: [{x: 1}, {x: 2}]\n") == {
        "a": {"x": 1},
        "b": {"x": 2},
        "list": [{"x": 1}, {"x": 2}],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [unclosed\n", "f.yaml:2: not YAML"),
        (b"a: \xff\n", "f.yaml: not YAML (not UTF-8 text: byte 3)"),
        ("!!python/object/apply:os.system ['true']\n", "f.yaml:1: not YAML (could not determine a constructor"),
        ("[" * 5000 + "]" * 5000, "f.yaml: not YAML (nested too deeply)"),
    ],
    ids=["syntax", "not UTF-8", "a Python object", "deep"],
)
def test_other_problems_are_named_too(text, message):
    assert message in refused(text)
