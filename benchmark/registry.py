"""The registry: which tasks, datasets, splits and matching modes exist, the one place that says so.

Everything else derives from these frozen specs: command-line choices, the pydantic literals of entries and
configs, the gold's annotation flags, the scorer's subtasks and default task, the leaderboard's titles and
versions, the loaders' dataset cards. Light on purpose (standard library only): commands register from it.

>>> TASKS["gmner"].region, TASKS["gmner"].subtasks, DATASETS["smner"].masks, DATASETS["gmner"].version
('box', ('mner', 'eeg'), True, 'v2.0')
>>> [t.name for t in RANKED_TASKS], tasks_with_region("mask")
(['mner', 'gmner', 'smner'], ('ees', 'smner'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import UsageError

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "EVALUATORS",
    "EVALUATOR_IDS",
    "MATCH_MODES",
    "RANKED_TASKS",
    "RANKED_TASK_NAMES",
    "SPLITS",
    "SPLIT_ALIASES",
    "SPLIT_FILES",
    "TASKS",
    "TASK_NAMES",
    "DatasetSpec",
    "TaskSpec",
    "canonical_split",
    "check_config",
    "dataset_version",
    "tasks_with_region",
]

Region = Literal["box", "mask"]
SplitFiles = tuple[tuple[str, tuple[str, ...]], ...]  # (split, its file names in a release folder, first found wins)
_SPLIT_FILES: SplitFiles = (
    ("train", ("train.txt",)),
    ("validation", ("dev.txt", "valid.txt")),
    ("test", ("test.txt",)),
)


@dataclass(frozen=True)
class TaskSpec:
    """A task: ``typed`` (the type must match), ``region`` (None, ``box`` or ``mask``: what else must be
    correct), ``subtasks`` (the other tasks its report always carries, in report order) and ``ranked`` (a
    leaderboard board ranks it; the others are shown as subtasks)."""

    name: str
    typed: bool
    region: Region | None
    subtasks: tuple[str, ...]
    ranked: bool


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset config: ``title`` (the dataset card's, with its release), ``board_title`` (as leaderboard
    boards show it, before the version), ``version`` (the release scored here: a leaderboard entry names it),
    its annotations (``boxes``: VOC XML in ``xml/``; ``masks``: labelme JSON in ``masks/``), the ranked tasks it
    holds figures of (``boards``), where it comes from, the files of each split in a release folder, and
    ``release_of``: the dataset this is another release of (a new release is a new dataset name), the paper
    as BibTeX and the release's terms of use as it states them (never a license it does not state). Frozen and
    hashable (tuples only), so that a builder config holding it pickles."""

    name: str
    title: str
    board_title: str
    version: str
    boxes: bool
    masks: bool
    boards: tuple[str, ...]
    description: str
    citation: str
    homepage: str
    split_files: SplitFiles = _SPLIT_FILES
    release_of: str | None = None
    bibtex: str = ""  # the source dataset's paper as BibTeX (dataset cards, ``info.citation``)
    terms: str = ""  # what the original release says of its use (no license is stated by any of them)

    def split_file_names(self, split: str) -> tuple[str, ...]:
        """The file names of ``split`` (canonical) in a release folder, first found wins."""
        return dict(self.split_files)[split]


TASKS: dict[str, TaskSpec] = {  # report order
    t.name: t
    for t in (
        TaskSpec("mner", typed=True, region=None, subtasks=(), ranked=True),
        TaskSpec("eeg", typed=False, region="box", subtasks=("mner",), ranked=False),
        TaskSpec("gmner", typed=True, region="box", subtasks=("mner", "eeg"), ranked=True),
        TaskSpec("ees", typed=False, region="mask", subtasks=("mner",), ranked=False),
        TaskSpec("smner", typed=True, region="mask", subtasks=("mner", "ees"), ranked=True),
    )
}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
RANKED_TASKS: tuple[TaskSpec, ...] = tuple(t for t in TASKS.values() if t.ranked)
RANKED_TASK_NAMES: tuple[str, ...] = tuple(t.name for t in RANKED_TASKS)


def tasks_with_region(region: Region | None) -> tuple[str, ...]:
    """The tasks whose entities carry ``region`` (None: the region-free tasks), in report order."""
    return tuple(t.name for t in TASKS.values() if t.region == region)


_GMNER_CITATION = "Yu et al., Grounded Multimodal Named Entity Recognition on Social Media, ACL 2023."
_GMNER_BIBTEX = """@inproceedings{yu2023grounded,
  title = {Grounded Multimodal Named Entity Recognition on Social Media},
  author = {Yu, Jianfei and Li, Ziyan and Wang, Jieming and Xia, Rui},
  booktitle = {Proceedings of the 61st Annual Meeting of the Association for Computational Linguistics},
  year = {2023},
  url = {https://aclanthology.org/2023.acl-long.508}
}"""
_TWITTER_TERMS = "No license is stated by the release; tweets are Twitter content under Twitter's terms."
_GMNER_TERMS = (
    "No license is stated by the release, which says: using the dataset means you have read and accepted the "
    "copyrights set by Twitter and the original dataset providers."
)

DATASETS: dict[str, DatasetSpec] = {
    d.name: d
    for d in (
        DatasetSpec(
            "twitter2015",
            "Twitter-2015",
            "Twitter-2015",
            "UMT release",
            boxes=False,
            masks=False,
            boards=("mner",),
            description="MNER on tweets with images (train 4000 / valid 1000 / test 3257 tweets).",
            citation="Zhang et al., Adaptive Co-attention Network for Named Entity Recognition in Tweets, AAAI 2018.",
            homepage="https://github.com/jefferyYu/UMT",
            bibtex="""@inproceedings{zhang2018adaptive,
  title = {Adaptive Co-attention Network for Named Entity Recognition in Tweets},
  author = {Zhang, Qi and Fu, Jinlan and Liu, Xiaoyu and Huang, Xuanjing},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  year = {2018}
}""",
            terms=_TWITTER_TERMS,
        ),
        DatasetSpec(
            "twitter2017",
            "Twitter-2017",
            "Twitter-2017",
            "UMT release",
            boxes=False,
            masks=False,
            boards=("mner",),
            description="MNER on tweets with images (train 3373 / valid 723 / test 723 tweets).",
            citation="Lu et al., Visual Attention Model for Name Tagging in Multimodal Social Media, ACL 2018.",
            homepage="https://github.com/jefferyYu/UMT",
            bibtex="""@inproceedings{lu2018visual,
  title = {Visual Attention Model for Name Tagging in Multimodal Social Media},
  author = {Lu, Di and Neves, Leonardo and Carvalho, Vitor and Zhang, Ning and Ji, Heng},
  booktitle = {Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics},
  year = {2018}
}""",
            terms=_TWITTER_TERMS,
        ),
        DatasetSpec(
            "gmner",
            "Twitter-GMNER v2.0",
            "Twitter-GMNER",
            "v2.0",
            boxes=True,
            masks=False,
            boards=("mner", "gmner"),
            description="Grounded MNER: entities, types and their boxes in the tweet's image (v2.0, 2023-07-28).",
            citation=_GMNER_CITATION,
            homepage="https://github.com/NUSTM/GMNER",
            bibtex=_GMNER_BIBTEX,
            terms=_GMNER_TERMS,
        ),
        DatasetSpec(
            "gmner-v1",
            "Twitter-GMNER v1",
            "Twitter-GMNER v1",
            "v1",
            boxes=True,
            masks=False,
            boards=("mner", "gmner"),
            description="Grounded MNER, the first release (before the v2.0 fixes of tags and boxes).",
            citation=_GMNER_CITATION,
            homepage="https://github.com/NUSTM/GMNER",
            release_of="gmner",
            bibtex=_GMNER_BIBTEX,
            terms=_GMNER_TERMS,
        ),
        DatasetSpec(
            "smner",
            "Twitter-SMNER",
            "Twitter-SMNER",
            "v2.0 (Twitter-SMNER)",
            boxes=True,
            masks=True,
            boards=("mner", "smner"),
            description=(
                "Segmented MNER: entities, types and their segmentation masks (COCO RLE), on Twitter-GMNER v2.0."
            ),
            citation="Li et al., RiVEG / Twitter-SMNER, IEEE Transactions on Multimedia 2025.",
            homepage="https://github.com/JinYuanLi0012/RiVEG",
            bibtex="""@article{li2025advancing,
  title = {Advancing Grounded Multimodal Named Entity Recognition via {LLM}-Based Reformulation and Box-Based
           Segmentation},
  author = {Li, Jinyuan and Li, Ziyan and Li, Han and Yu, Jianfei and Xia, Rui and Sun, Di and Pan, Gang},
  journal = {IEEE Transactions on Multimedia},
  year = {2025},
  note = {arXiv:2406.07268},
  url = {https://arxiv.org/abs/2406.07268}
}""",
            terms=_TWITTER_TERMS + " Built on Twitter-GMNER v2.0: " + _GMNER_TERMS[0].lower() + _GMNER_TERMS[1:],
        ),
    )
}
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SPLIT_ALIASES: dict[str, str] = {"dev": "validation", "valid": "validation", "val": "validation"}
SPLIT_FILES: dict[str, tuple[str, ...]] = dict(_SPLIT_FILES)  # every release names its splits alike
MATCH_MODES: tuple[str, ...] = ("span", "text", "riveg", "entity-box")  # see benchmark/matching.py


@dataclass(frozen=True)
class EvaluatorSpec:
    """An evaluator convention of the field: the ruler a published number was measured with. Numbers under
    different conventions (or on different golds) are not comparable; every grounded leaderboard row names one.
    ``match`` is the ``--match`` mode of this package that reproduces it, None when it cannot be reproduced from a
    submission (it needs what a submission does not hold)."""

    id: str
    name: str
    definition: str  # one line: what it counts right
    unit: Literal["entity", "entity-box pair"]  # what one gold row is
    identity: Literal["span", "text"]  # how a predicted entity is matched to a gold one
    region: str  # when a region is right
    source: str  # repository and file of the evaluator
    match: str | None


EVALUATORS: dict[str, EvaluatorSpec] = {
    e.id: e
    for e in (
        EvaluatorSpec(
            "smner-span",
            "smner-bench, span identity",
            "each gold entity once; a prediction is right when its span, type and region are",
            "entity",
            "span",
            "box IoU >= 0.5 with any gold box of the entity, or both 'not in the image' (masks: pixel IoU)",
            "this package: benchmark/matching.py",
            "span",
        ),
        EvaluatorSpec(
            "smner-text",
            "smner-bench, text identity",
            "as smner-span, but an entity is known by its text; each gold entity used once, by a maximum matching",
            "entity",
            "text",
            "as smner-span",
            "this package: benchmark/matching.py",
            "text",
        ),
        EvaluatorSpec(
            "riveg-statistic",
            "RiVEG statistics script",
            "entities keyed by text and type, first fit in file order, each gold used once",
            "entity",
            "text",
            "box IoU >= 0.5 with a gold box of the entity, or both 'not in the image'",
            "github.com/JinYuanLi0012/RiVEG: statistic.py",
            "riveg",
        ),
        EvaluatorSpec(
            "hindex-candidates",
            "H-Index candidate metric",
            "a region is right when the predicted detector candidate is among those overlapping a gold box",
            "entity",
            "span",
            "the chosen VinVL candidate overlaps a gold box (IoU >= 0.5): an upper bound set by the detector",
            "github.com/NUSTM/GMNER: model/metrics.py",
            None,
        ),
        EvaluatorSpec(
            "unco-pairs",
            "UnCo/MQSPN pair counting",
            "gold counted once per entity-box pair: an entity with three boxes is three gold rows; a wrong box on a "
            "right span counts two predicted rows; tweets without gold or without predictions left out",
            "entity-box pair",
            "span",
            "box IoU >= 0.5 with a box of the span's entity (the first such pair), or both 'not in the image'; a box "
            "on an entity not in the image is one right and one wrong row",
            "github.com/tangjielong928/UnCo: evaluator.py, utils.py (MQSPN: src/evaluator.py, over candidate regions)",
            "entity-box",
        ),
    )
}
"""The evaluator conventions of the field (docs/scoring.md, "Rulers"); ids are what entries name."""
EVALUATOR_IDS: tuple[str, ...] = tuple(EVALUATORS)


def check_config(name: str) -> str:
    if name not in DATASETS:
        raise UsageError(f"unknown dataset config {name!r} (expected one of {', '.join(DATASETS)})")
    return name


def dataset_version(name: str) -> str:
    """The release of dataset config ``name`` that this smner-bench scores: every leaderboard entry's (dataset,
    dataset_version) must be such a pair (a new release of a dataset is a new dataset name, as gmner-v1 / gmner).

    >>> dataset_version("smner")
    'v2.0 (Twitter-SMNER)'
    """
    return DATASETS[check_config(name)].version


def canonical_split(name: str) -> str:
    """``dev``/``valid`` -> ``validation``; raises :class:`UsageError` on anything else unknown.

    >>> canonical_split("dev")
    'validation'
    """
    split = SPLIT_ALIASES.get(name, name)
    if split not in SPLITS:
        raise UsageError(f"unknown split {name!r} (expected train, validation (alias dev) or test)")
    return split
