"""The dataset configs (the registry's :class:`~smner_bench.benchmark.registry.DatasetSpec`), where each split
lives in a raw release folder, and the source options of a build (:class:`Sources`, with its command-line flags):
light, so that commands register without ``datasets``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from smner_bench.benchmark.errors import MissingDataError, UsageError
from smner_bench.benchmark.registry import DATASETS, SPLIT_FILES, DatasetSpec, canonical_split, check_config

__all__ = ["SOURCE_OPTIONS", "Sources", "add_source_options", "config_info", "split_file"]


def config_info(name: str) -> DatasetSpec:
    """The registry's facts of a dataset config (``benchmark/registry.py``), an unknown name refused."""
    return DATASETS[check_config(name)]


def split_file(data_dir: str | Path, split: str) -> Path:
    """The CoNLL file of ``split`` in a release folder; :class:`MissingDataError` when there is none."""
    data_dir = Path(data_dir)
    for name in SPLIT_FILES[canonical_split(split)]:
        if os.path.lexists(data_dir / name):  # a folder, FIFO or link loop there: the reader names the problem
            return data_dir / name
    names = " or ".join(SPLIT_FILES[canonical_split(split)])
    raise MissingDataError(f"split {split!r}: no {names} in this folder", file=data_dir)


PathLike = str | os.PathLike


@dataclass
class Sources:
    """Where one build reads from: the one definition of the source options, used by :func:`load`, the
    builder's config, the command line (:func:`add_source_options`) and the cache key. Paths are absolute."""

    info: DatasetSpec
    data_dir: Path
    image_dir: Path | None = None  # <image_dir>/<id>.jpg fills the image feature (and width/height)
    knowledge: Path | None = None  # an LLM-knowledge release (zip or folder) adds "knowledge"
    captions: tuple[Path, ...] = ()  # BLIP-2 / mPLUG-Owl files or folders add "caption" and "description"
    mask_dir: Path | None = None  # labelme JSON; default <data_dir>/masks for configs with masks

    def __post_init__(self) -> None:
        if self.info.masks and self.mask_dir is None:
            self.mask_dir = self.data_dir / "masks"
        self.check()

    @classmethod
    def of(
        cls,
        name: str,
        data_dir: PathLike | None,
        *,
        image_dir: PathLike | None = None,
        knowledge: PathLike | None = None,
        captions: PathLike | Sequence[PathLike] | None = None,
        mask_dir: PathLike | None = None,
    ) -> Sources:
        """The checked sources of config ``name`` from user paths (``captions``: one path or several)."""
        info = config_info(name)
        if not data_dir:
            raise UsageError(f"config {name!r} needs data_dir, the folder of the raw release")
        if isinstance(captions, (str, os.PathLike)):
            captions = [captions]

        def absolute(p: PathLike | None) -> Path | None:
            return Path(p).expanduser().resolve() if p else None

        return cls(
            info,
            absolute(data_dir),  # type: ignore[arg-type]
            image_dir=absolute(image_dir),
            knowledge=absolute(knowledge),
            captions=tuple(absolute(c) for c in captions or ()),  # type: ignore[misc]
            mask_dir=absolute(mask_dir),
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Sources:
        """The sources named by the flags of :func:`add_source_options`."""
        return cls.of(args.config, **{name: getattr(args, name, None) for name in ("data_dir", *SOURCE_OPTIONS)})

    def check(self) -> None:
        """Fail at once, with the path, when a folder or file that was named does not exist."""
        if not self.data_dir.is_dir():
            raise MissingDataError("data folder not found", file=self.data_dir)
        if self.image_dir is not None and not self.image_dir.is_dir():
            raise MissingDataError("image folder not found", file=self.image_dir)
        if self.knowledge is not None and not self.knowledge.exists():
            raise MissingDataError("knowledge release not found", file=self.knowledge)
        for p in self.captions:
            if not p.exists():
                raise MissingDataError("caption file or folder not found", file=p)
        if self.mask_dir is not None and not self.mask_dir.is_dir():
            raise MissingDataError(
                f"mask folder not found ({self.info.name} reads labelme JSON from <data dir>/masks)",
                file=self.mask_dir,
            )

    @property
    def optional_fields(self) -> tuple[str, ...]:
        """The optional features these sources fill."""
        fields: tuple[str, ...] = ("knowledge",) if self.knowledge else ()
        return fields + (("caption", "description") if self.captions else ())

    def read_paths(self) -> list[Path]:
        """Every file or folder a build reads: the split files, xml/, the masks and the optional sources."""
        paths = [p for p in self.data_dir.iterdir() if p.suffix == ".txt"]
        if self.info.boxes and (self.data_dir / "xml").is_dir():
            paths.append(self.data_dir / "xml")
        paths += [p for p in (self.mask_dir, self.image_dir, self.knowledge, *self.captions) if p is not None]
        return sorted(paths)


SOURCE_OPTIONS = tuple(f.name for f in fields(Sources) if f.name not in ("info", "data_dir"))
SOURCE_FLAGS: dict[str, dict] = {  # flag keyword arguments of each source (and of the cache folder)
    "data_dir": {"help": "folder of the raw release (CoNLL files, xml/, masks/)"},
    "image_dir": {"help": "folder of the tweet images (<id>.jpg); fills the image feature"},
    "knowledge": {"help": "LLM-knowledge release (zip or folder) to add as 'knowledge'"},
    "captions": {
        "nargs": "+",
        "metavar": "FILE_OR_DIR",
        "help": "BLIP-2 caption and/or mPLUG-Owl description files or folders",
    },
    "mask_dir": {"help": "labelme JSON folder for smner (default: <data-dir>/masks)"},
    "cache_dir": {"help": "datasets cache folder (default: the Hugging Face cache)"},
}


def add_source_options(
    p: argparse.ArgumentParser,
    names: Sequence[str] = ("config", *SOURCE_FLAGS),
    *,
    required: Sequence[str] = ("data_dir",),
    help: dict[str, str] | None = None,
) -> None:
    """Add the flags of the sources ``names`` (``config`` is the positional dataset config; the others are
    ``--data-dir`` ... ``--cache-dir``), their help text overridable by ``help``; read them back with
    :meth:`Sources.from_args`."""
    for name in names:
        if name == "config":
            p.add_argument("config", choices=list(DATASETS), help="dataset config")
            continue
        kwargs = {**SOURCE_FLAGS[name], **({"help": help[name]} if help and name in help else {})}
        p.add_argument("--" + name.replace("_", "-"), required=name in required, **kwargs)


def source_paths(args: argparse.Namespace) -> list:
    """Every path the source flags name (and the cache folder), as given: an output may be none of them."""
    values = [getattr(args, name, None) for name in SOURCE_FLAGS]
    return [p for v in values for p in (v if isinstance(v, list) else [v])]
