"""The registry (benchmark/registry.py) is consistent, and the parts that restated its facts now derive from it."""

from __future__ import annotations

import pickle
from typing import get_args

import pytest

from smner_bench.benchmark import registry
from smner_bench.benchmark.errors import MissingDataError, UsageError
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.registry import DATASETS, RANKED_TASK_NAMES, TASK_NAMES, TASKS


def test_tasks_are_consistent():
    assert tuple(name for name in TASK_NAMES if TASKS[name].ranked) == RANKED_TASK_NAMES
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
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert [split for split, _ in spec.split_files] == list(registry.SPLITS)
        assert spec.split_file_names("validation") == ("dev.txt", "valid.txt")
        assert spec.masks <= spec.boxes  # a masked dataset is grounded too
        assert spec.release_of in (None, *DATASETS) and spec.release_of != name
        for task in spec.boards:  # a board's task is ranked and the dataset holds its regions
            assert TASKS[task].ranked
            region = TASKS[task].region
            assert region is None or {"box": spec.boxes, "mask": spec.masks}[region]
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


def test_scorer_derives_tasks_and_subtasks():
    from smner_bench.benchmark import matching, scoring, submission

    assert submission.BOX_TASKS == registry.tasks_with_region("box") == ("eeg", "gmner")
    assert submission.MASK_TASKS == registry.tasks_with_region("mask") == ("ees", "smner")
    assert matching.TYPED == {"mner": True, "eeg": False, "gmner": True, "ees": False, "smner": True}
    assert matching.REGION == {"mner": None, "eeg": "box", "gmner": "box", "ees": "mask", "smner": "mask"}
    assert matching.MODES == registry.MATCH_MODES == get_args(scoring.Match)
    assert get_args(scoring.Task) == TASK_NAMES and scoring.PRIMARY == ("smner", "gmner", "mner")
    # a file with boxes and masks: every task; scoring smner reports its subtasks and the box tasks, in order
    gold = gold_from_rows(
        [{"id": "1", "tokens": ["Ann"], "width": 10, "height": 10, "entities": []}],
        dataset="t",
        split="test",
        has_boxes=True,
        has_masks=True,
    )
    sub = submission.parse_submission(['{"id": "1", "entities": []}'], gold, name="mem")
    assert sub.tasks() == ("mner", *registry.tasks_with_region("box"), *registry.tasks_with_region("mask"))
    scorer = scoring.Scorer.build(sub, gold)
    assert scorer.tasks("smner") == list(TASK_NAMES) and scorer.tasks("gmner") == ["mner", "eeg", "gmner"]
    assert scorer.tasks("ees") == list(TASK_NAMES[:4]) and scorer.default_task() == "smner"


def test_leaderboard_derives_choices_titles_and_rules(capsys):
    from smner_bench.cli import main
    from smner_bench.leaderboard import entry, render

    assert all(registry.dataset_version(name) == spec.version for name, spec in DATASETS.items())
    assert registry.dataset_version("smner") == "v2.0 (Twitter-SMNER)"
    assert registry.dataset_version("twitter2015") == "UMT release"
    with pytest.raises(UsageError, match="unknown dataset config 'gmner3'"):
        registry.dataset_version("gmner3")
    assert render.DATASET_TITLES["gmner"] == "Twitter-GMNER" and render.DATASET_TITLES["gmner-v1"] == "Twitter-GMNER v1"
    assert entry.SUBTASKS == {"mner": ("mner",), "gmner": ("gmner", "mner", "eeg"), "smner": ("smner", "mner", "ees")}
    fields = entry.Entry.model_fields
    assert get_args(fields["task"].annotation) == RANKED_TASK_NAMES
    assert get_args(fields["dataset"].annotation) == tuple(DATASETS)
    assert get_args(fields["split"].annotation) == registry.SPLITS
    with pytest.raises(SystemExit):
        main(["leaderboard", "show", "--help"])
    out = capsys.readouterr().out
    assert "{mner,gmner,smner}" in out and "{twitter2015,twitter2017,gmner,gmner-v1,smner}" in out
    with pytest.raises(SystemExit) as exc:
        main(["leaderboard", "show", "--task", "eeg"])
    assert exc.value.code == 2 and "invalid choice: 'eeg'" in capsys.readouterr().err
    # the task/dataset rule reads the datasets' boards; its messages are the ones written before the registry
    smner = {
        "id": "paper/t1/x/smner",
        "system": "X",
        "task": "smner",
        "dataset": "gmner",
        "dataset_version": "v2.0",
        "results": {"smner": {"f1": 50.0}},
        "provenance": {
            "kind": "publication",
            "citation": "A paper",
            "table": "Table 1",
            "row": "X",
            "evaluator": "smner-span",  # a grounded published entry names its ruler and gold
            "gold": {"kind": "derived", "description": "a test file"},
        },
    }
    with pytest.raises(ValueError, match="SMNER figures are on the smner dataset"):
        entry.Entry.model_validate(smner)
    gmner = {**smner, "task": "gmner", "dataset": "smner", "dataset_version": "v2.0 (Twitter-SMNER)"}
    gmner["results"] = {"gmner": {"f1": 50.0}}
    with pytest.raises(ValueError, match="GMNER figures are on the gmner or gmner-v1 dataset"):
        entry.Entry.model_validate(gmner)
    v1 = {**gmner, "dataset": "gmner", "dataset_version": "v1"}
    with pytest.raises(
        ValueError, match=r"gmner is version 'v2\.0' here, not 'v1' \(the v1 release is the dataset gmner-v1\)"
    ):
        entry.Entry.model_validate(v1)
    with pytest.raises(ValueError, match=r"not 'v2\.0' \[type"):  # no hint where no other release is registered
        entry.Entry.model_validate({**gmner, "dataset": "gmner-v1", "dataset_version": "v2.0"})
    for name in ("gmner", "gmner-v1"):  # and the rule admits what it should
        ok = {**gmner, "dataset": name, "dataset_version": DATASETS[name].version}
        assert entry.Entry.model_validate(ok).dataset == name


def test_loaders_and_plim_derive_configs(tmp_path):
    from smner_bench import loaders
    from smner_bench.baselines.plim.config import PlimConfig
    from smner_bench.loaders import knowledge
    from smner_bench.loaders.configs import config_info, split_file

    assert not hasattr(loaders, "DATASETS") and config_info("gmner") is DATASETS["gmner"]  # one import path
    assert config_info("gmner").title == "Twitter-GMNER v2.0"
    assert (config_info("smner").boxes, config_info("smner").masks) == (True, True)
    assert get_args(PlimConfig.model_fields["dataset"].annotation) == tuple(DATASETS)
    with pytest.raises(ValueError, match="gmner2"):
        PlimConfig(encoder="e", dataset="gmner2", data_dir="d", out="o")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown dataset config"):
        config_info("gmner2")
    with pytest.raises(MissingDataError, match=r"no dev\.txt or valid\.txt"):
        split_file(tmp_path, "dev")
    # a knowledge release: the same split files, valid.txt (PGIM's and RiVEG's name) preferred
    assert {split: set(names) for split, names in knowledge.SPLIT_FILES.items()} == {
        split: set(names) for split, names in registry.SPLIT_FILES.items()
    }
    assert knowledge.SPLIT_FILES["validation"] == ("valid.txt", "dev.txt")
    for name in ("dev.txt", "valid.txt"):
        (tmp_path / name).write_text(knowledge.knowledge_text([(["a"], ["O"], name)]), encoding="utf-8")
    _, (record,) = knowledge.read_knowledge(tmp_path, "validation")
    assert record.knowledge == "valid.txt"
