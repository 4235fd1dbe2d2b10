"""Dataset configs, their annotations and split names, as the older modules name them: all from the registry."""

from __future__ import annotations

from .registry import DATASETS, SPLIT_ALIASES, SPLITS, canonical_split, check_config

__all__ = ["ANNOTATIONS", "SPLITS", "SPLIT_ALIASES", "canonical_split", "check_config"]

ANNOTATIONS: dict[str, tuple[bool, bool]] = {d.name: (d.boxes, d.masks) for d in DATASETS.values()}
"""config -> (has boxes, has masks)"""
