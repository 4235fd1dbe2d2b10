"""Hugging Face ``datasets`` loaders of Twitter-2015, Twitter-2017, Twitter-GMNER and Twitter-SMNER.

Example::

    from smner_bench.loaders import load
    ds = load("gmner", data_dir="../shared/data/twitter-gmner/v2.0")
    ds["test"][0]["entities"][0]["text"]     # 'Garfield Park'

Map of the package: ``configs`` (the five configs, split files, the source options :class:`Sources` and their
flags), one reader per raw format (``conll``, ``voc``, ``labelme``, ``knowledge``, ``captions``, ``manual``,
with ``rawfile``'s file checks and ``quirks``' quirk report), ``assemble`` (joins the readers into examples),
``builder`` (the ``datasets`` builder) and ``api`` (``load``, ``load_split``, ``quirk_report``), ``export``,
``stats``, ``sample`` (the synthetic release) and ``cli`` (``prepare``, ``stats``, ``sample``).

The raw-format readers are usable alone: :func:`read_conll`, :func:`read_voc`, :func:`read_labelme`,
:func:`read_knowledge` / :func:`align_knowledge`, :func:`read_blip2_captions`,
:func:`read_mplug_descriptions`, :func:`read_manual_annotations`. Names are imported on first use, so that
importing a submodule (the command line's) does not import ``datasets``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {  # name -> submodule (or module) that defines it
    "load": "api",
    "load_gold": "gold",
    "load_split": "api",
    "quirk_report": "api",
    "read_blip2_captions": "captions",
    "read_captions": "captions",
    "read_mplug_descriptions": "captions",
    "Sources": "configs",
    "read_conll": "conll",
    "align_knowledge": "knowledge",
    "read_knowledge": "knowledge",
    "read_labelme": "labelme",
    "read_manual_annotations": "manual",
    "QuirkReport": "quirks",
    "read_voc": "voc",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
