"""Hugging Face ``datasets`` loaders of Twitter-2015, Twitter-2017, Twitter-GMNER and Twitter-SMNER.

Example::

    from smner_bench.loaders import load
    ds = load("gmner", data_dir="../shared/data/twitter-gmner/v2.0")
    ds["test"][0]["entities"][0]["text"]     # 'Garfield Park'

The raw-format readers are usable alone: :func:`read_conll`, :func:`read_voc`, :func:`read_labelme`,
:func:`read_knowledge` / :func:`align_knowledge`, :func:`read_blip2_captions`,
:func:`read_mplug_descriptions`, :func:`read_manual_annotations`.
"""

from __future__ import annotations

from .api import load, load_split, quirk_report
from .captions import read_blip2_captions, read_captions, read_mplug_descriptions
from .configs import CONFIGS, SPLITS, canonical_split
from .conll import read_conll
from .knowledge import align_knowledge, read_knowledge
from .labelme import decode_rle, encode_rle, read_labelme
from .manual import read_manual_annotations
from .report import Report
from .voc import read_voc

__all__ = [
    "CONFIGS",
    "SPLITS",
    "Report",
    "align_knowledge",
    "canonical_split",
    "decode_rle",
    "encode_rle",
    "load",
    "load_split",
    "quirk_report",
    "read_blip2_captions",
    "read_captions",
    "read_conll",
    "read_knowledge",
    "read_labelme",
    "read_manual_annotations",
    "read_mplug_descriptions",
    "read_voc",
]
