"""The ``datasets`` builder of the five configs: twitter2015, twitter2017, gmner, gmner-v1, smner.

Use it directly (datasets >= 4 runs no loading scripts)::

    builder = SmnerBench(config_name="gmner", data_dir="/abs/path/twitter-gmner/v2.0")
    builder.download_and_prepare()
    ds = builder.as_dataset()

or through :func:`smner_bench.loaders.load`. Options beyond ``data_dir`` are config keyword arguments:
``image_dir``, ``knowledge`` (zip or folder), ``captions`` (files or folders) and ``mask_dir``.
The cache is keyed by the builder's source code and by the size and modification time of every raw
file it reads, so editing either rebuilds it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import datasets

from smner_bench.benchmark.errors import UsageError

from .assemble import Sources, iter_examples
from .configs import CONFIGS, SPLITS, config_info, split_file
from .features import build_features
from .report import Report

log = logging.getLogger(__name__)

REPORT_FILE = "smner-quirks-{split}.json"


@dataclass
class SmnerConfig(datasets.BuilderConfig):
    image_dir: str | None = None
    knowledge: str | None = None
    captions: tuple[str, ...] | None = None
    mask_dir: str | None = None

    def sources(self) -> Sources:
        if not self.data_dir:
            raise UsageError(f"config {self.name!r} needs data_dir, the folder of the raw release")

        def absolute(p: str | None) -> Path | None:
            return Path(p).expanduser().resolve() if p else None

        captions = (self.captions,) if isinstance(self.captions, str) else (self.captions or ())
        return Sources(
            info=config_info(self.name),
            data_dir=absolute(self.data_dir),  # type: ignore[arg-type]
            image_dir=absolute(self.image_dir),
            knowledge=absolute(self.knowledge),
            captions=tuple(absolute(c) for c in captions),  # type: ignore[misc]
            mask_dir=absolute(self.mask_dir),
        )


def _code_hash() -> str:
    digest = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")) + sorted(Path(__file__).parents[1].glob("benchmark/*.py")):
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def _stamp(paths: list[Path]) -> str:
    """A digest of the names, sizes and modification times of every file under ``paths``."""
    digest = hashlib.sha256()
    for root in paths:
        if root.is_file():
            st = root.stat()
            digest.update(f"{root}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:  # a broken link or a link loop: its own entry (the reader names the problem)
                    st = os.lstat(os.path.join(dirpath, name))
                digest.update(f"{dirpath}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


class SmnerBench(datasets.GeneratorBasedBuilder):
    """Twitter-2015, Twitter-2017, Twitter-GMNER (v2.0 and v1) and Twitter-SMNER from their raw releases."""

    BUILDER_CONFIG_CLASS = SmnerConfig
    BUILDER_CONFIGS = [  # noqa: RUF012 (datasets' class attribute)
        SmnerConfig(name=info.name, version=datasets.Version("1.0.0"), description=info.description)
        for info in CONFIGS.values()
    ]
    DEFAULT_CONFIG_NAME = "gmner"

    def __init__(self, *args, hash: str | None = None, **kwargs):
        super().__init__(*args, hash=hash or "pending", **kwargs)
        if hash is None:
            # the cache key: this code, and the raw files this config reads
            self.hash = _code_hash() + "-" + _stamp(self._read_paths())
            self._cache_dir = self._output_dir = self._build_cache_dir()
            if os.path.exists(os.path.join(self._cache_dir, datasets.config.DATASET_INFO_FILENAME)):
                self.info = datasets.DatasetInfo.from_directory(self._cache_dir)

    def _read_paths(self) -> list[Path]:
        src = self.config.sources()
        paths = [p for p in src.data_dir.iterdir() if p.suffix == ".txt"]
        if src.info.boxes and (src.data_dir / "xml").is_dir():
            paths.append(src.data_dir / "xml")
        for extra in (src.mask_dir, src.image_dir, src.knowledge, *src.captions):
            if extra is not None:
                paths.append(extra)
        return sorted(paths)

    def _info(self) -> datasets.DatasetInfo:
        info = config_info(self.config.name)
        optional: tuple[str, ...] = ()
        if self.config.knowledge:
            optional += ("knowledge",)
        if self.config.captions:
            optional += ("caption", "description")
        return datasets.DatasetInfo(
            description=f"{info.title}: {info.description}",
            features=build_features(optional),
            homepage=info.homepage,
            citation=info.citation,
        )

    def _split_generators(self, dl_manager):
        self._sources = self.config.sources()
        for split in SPLITS:  # fail before writing anything when a split file is missing
            split_file(self._sources.data_dir, split)
        return [datasets.SplitGenerator(name=split, gen_kwargs={"split": split}) for split in SPLITS]

    def _generate_examples(self, split: str):
        report = Report()
        yield from enumerate(iter_examples(self._sources, split, report))
        if report.quirks:
            kinds = ", ".join(f"{kind} {n}" for kind, n in report.counts().items())
            log.warning(
                "%s %s: %d quirks (%s); see quirk_report() or `smner-bench prepare`",
                self.config.name,
                split,
                len(report.quirks),
                kinds,
            )
        Path(self._output_dir, REPORT_FILE.format(split=split)).write_text(report.to_json(), encoding="utf-8")

    def quirk_report(self, split: str) -> Report:
        """The report stored with the prepared cache for ``split``."""
        return Report.from_json(Path(self.cache_dir, REPORT_FILE.format(split=split)).read_text(encoding="utf-8"))
