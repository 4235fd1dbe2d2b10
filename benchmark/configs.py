"""Dataset configs, their annotations and split names: shared by the scorer and the loaders."""

from __future__ import annotations

from .errors import UsageError

ANNOTATIONS: dict[str, tuple[bool, bool]] = {  # config -> (has boxes, has masks)
    "twitter2015": (False, False),
    "twitter2017": (False, False),
    "gmner": (True, False),
    "gmner-v1": (True, False),
    "smner": (True, True),
}
SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"dev": "validation", "valid": "validation", "val": "validation"}


def check_config(name: str) -> str:
    if name not in ANNOTATIONS:
        raise UsageError(f"unknown dataset config {name!r} (expected one of {', '.join(ANNOTATIONS)})")
    return name


def canonical_split(name: str) -> str:
    """``dev``/``valid`` -> ``validation``; raises :class:`UsageError` on anything else unknown.

    >>> canonical_split("dev")
    'validation'
    """
    split = SPLIT_ALIASES.get(name, name)
    if split not in SPLITS:
        raise UsageError(f"unknown split {name!r} (expected train, validation (alias dev) or test)")
    return split
