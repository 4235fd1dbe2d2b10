"""The registry (benchmark/registry.py) is consistent, and the parts that restated its facts now derive from it."""

from __future__ import annotations

import pickle

import pytest

from smner_bench.benchmark import registry
from smner_bench.benchmark.configs import ANNOTATIONS
from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.registry import DATASETS, RANKED_TASK_NAMES, TASK_NAMES, TASKS


def test_tasks_are_consistent():
    assert TASK_NAMES == ("mner", "eeg", "gmner", "ees", "smner")
    assert RANKED_TASK_NAMES == ("mner", "gmner", "smner")
    for name, spec in TASKS.items():
        assert spec.name == name
        # a subtask is a known, less specific task listed before it (the report's order)
        for sub in spec.subtasks:
            assert TASK_NAMES.index(sub) < TASK_NAMES.index(name)
            assert TASKS[sub].region in (None, spec.region)
        assert spec.ranked == spec.typed  # the type-blind tasks (eeg, ees) are shown as subtasks only
    assert registry.tasks_with_region("box") == ("eeg", "gmner")
    assert registry.tasks_with_region(None) == ("mner",)


def test_datasets_are_consistent():
    assert tuple(DATASETS) == ("twitter2015", "twitter2017", "gmner", "gmner-v1", "smner")
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert [split for split, _ in spec.split_files] == list(registry.SPLITS)
        assert spec.split_file_names("validation") == ("dev.txt", "valid.txt")
        assert spec.masks <= spec.boxes  # a masked dataset is grounded too
        for task in spec.boards:  # a board's task is ranked and the dataset holds its regions
            assert TASKS[task].ranked
            region = TASKS[task].region
            assert region is None or {"box": spec.boxes, "mask": spec.masks}[region]
    assert ANNOTATIONS == {
        "twitter2015": (False, False),
        "twitter2017": (False, False),
        "gmner": (True, False),
        "gmner-v1": (True, False),
        "smner": (True, True),
    }
    with pytest.raises(AttributeError):
        DATASETS["gmner"].version = "v3"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(DATASETS["smner"])) == DATASETS["smner"]  # a builder config holds it
    assert len({hash(d) for d in DATASETS.values()}) == len(DATASETS)


def test_split_and_config_names():
    assert registry.canonical_split("dev") == "validation" and registry.canonical_split("test") == "test"
    with pytest.raises(UsageError, match="unknown split 'trian'"):
        registry.canonical_split("trian")
    assert registry.check_config("gmner-v1") == "gmner-v1"
    with pytest.raises(UsageError, match=r"unknown dataset config 'gmner2' \(expected one of twitter2015, "):
        registry.check_config("gmner2")
