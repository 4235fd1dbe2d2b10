"""The five dataset configs and where each split lives in a raw release folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark.configs import ANNOTATIONS, SPLIT_ALIASES, SPLITS, canonical_split, check_config
from smner_bench.benchmark.errors import MissingDataError

__all__ = ["CONFIGS", "SPLITS", "SPLIT_ALIASES", "DatasetInfo", "canonical_split", "config_info", "split_file"]

# file names of each split in a release folder, first found wins
SPLIT_FILES = {"train": ("train.txt",), "validation": ("dev.txt", "valid.txt"), "test": ("test.txt",)}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    description: str
    citation: str
    homepage: str

    @property
    def boxes(self) -> bool:  # read VOC boxes from <data_dir>/xml
        return ANNOTATIONS[self.name][0]

    @property
    def masks(self) -> bool:  # read labelme masks from <data_dir>/masks
        return ANNOTATIONS[self.name][1]


CONFIGS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "twitter2015",
            "Twitter-2015",
            "MNER on tweets with images (train 4000 / valid 1000 / test 3257 tweets).",
            "Zhang et al., Adaptive Co-attention Network for Named Entity Recognition in Tweets, AAAI 2018.",
            "https://github.com/jefferyYu/UMT",
        ),
        DatasetInfo(
            "twitter2017",
            "Twitter-2017",
            "MNER on tweets with images (train 3373 / valid 723 / test 723 tweets).",
            "Lu et al., Visual Attention Model for Name Tagging in Multimodal Social Media, ACL 2018.",
            "https://github.com/jefferyYu/UMT",
        ),
        DatasetInfo(
            "gmner",
            "Twitter-GMNER v2.0",
            "Grounded MNER: entities, types and their boxes in the tweet's image (v2.0, 2023-07-28).",
            "Yu et al., Grounded Multimodal Named Entity Recognition on Social Media, ACL 2023.",
            "https://github.com/NUSTM/GMNER",
        ),
        DatasetInfo(
            "gmner-v1",
            "Twitter-GMNER v1",
            "Grounded MNER, the first release (before the v2.0 fixes of tags and boxes).",
            "Yu et al., Grounded Multimodal Named Entity Recognition on Social Media, ACL 2023.",
            "https://github.com/NUSTM/GMNER",
        ),
        DatasetInfo(
            "smner",
            "Twitter-SMNER",
            "Segmented MNER: entities, types and their segmentation masks (COCO RLE), on Twitter-GMNER v2.0.",
            "Li et al., RiVEG / Twitter-SMNER, IEEE Transactions on Multimedia 2025.",
            "https://github.com/JinYuanLi0012/RiVEG",
        ),
    )
}


def config_info(name: str) -> DatasetInfo:
    return CONFIGS[check_config(name)]


def split_file(data_dir: str | Path, split: str) -> Path:
    """The CoNLL file of ``split`` in a release folder; :class:`MissingDataError` when there is none."""
    data_dir = Path(data_dir)
    for name in SPLIT_FILES[canonical_split(split)]:
        if os.path.lexists(data_dir / name):  # a folder, FIFO or link loop there: the reader names the problem
            return data_dir / name
    names = " or ".join(SPLIT_FILES[canonical_split(split)])
    raise MissingDataError(f"split {split!r}: no {names} in this folder", file=data_dir)
