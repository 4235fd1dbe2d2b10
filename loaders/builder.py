"""The ``datasets`` builder of the five configs: twitter2015, twitter2017, gmner, gmner-v1, smner.

Use it directly (datasets >= 4 runs no loading scripts)::

    builder = SmnerBench(config_name="gmner", data_dir="/abs/path/twitter-gmner/v2.0")
    builder.download_and_prepare()
    ds = builder.as_dataset()

or through :func:`smner_bench.loaders.load`. The other source options (``image_dir``, ``knowledge``,
``captions``, ``mask_dir``) are those of :meth:`Sources.of`, or pass ``sources=`` a :class:`Sources`.
The cache key (datasets' ``hash`` argument) is :func:`smner_bench.loaders.stamps.cache_key`: the source of the
modules the builder runs and the content (SHA-256) of every raw file it reads, so editing either rebuilds the cache.
The cache folder is checked first; a cache that cannot be read is built again (:mod:`.cache_folder`, here and in
:func:`smner_bench.loaders.api.dataset`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import datasets

from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.registry import DATASETS, SPLITS
from smner_bench.benchmark.safe_output import write_text

from .assemble import SplitFiles, generate_examples, split_files
from .cache_folder import check_cache_folder, drop_damaged_cache
from .configs import SOURCE_OPTIONS, Sources, config_info
from .features import build_features
from .quirks import QuirkReport
from .stamps import cache_key

log = logging.getLogger(__name__)

REPORT_FILE = "smner-quirks-{split}.json"


@dataclass
class SmnerConfig(datasets.BuilderConfig):
    sources: Sources | None = None


class SmnerBench(datasets.GeneratorBasedBuilder):
    """Twitter-2015, Twitter-2017, Twitter-GMNER (v2.0 and v1) and Twitter-SMNER from their raw releases."""

    BUILDER_CONFIG_CLASS = SmnerConfig
    BUILDER_CONFIGS = [  # noqa: RUF012 (datasets' class attribute)
        SmnerConfig(name=info.name, version=datasets.Version("1.0.0"), description=info.description)
        for info in DATASETS.values()
    ]
    DEFAULT_CONFIG_NAME = "gmner"

    def __init__(
        self,
        config_name: str | None = None,
        *,
        data_dir: str | os.PathLike | None = None,
        sources: Sources | None = None,
        hash: str | None = None,
        **kwargs,
    ):
        options = {name: kwargs.pop(name) for name in SOURCE_OPTIONS if name in kwargs}
        if sources is None:
            config_name = config_name or self.DEFAULT_CONFIG_NAME
            sources = Sources.of(config_name, data_dir, **options)
        elif data_dir or options or config_name not in (None, sources.info.name):
            raise UsageError("give sources= alone, or config_name and data_dir (and source options)")
        config_name = sources.info.name
        self._reports: dict[str, QuirkReport] = {}
        check_cache_folder(kwargs.get("cache_dir"))
        super().__init__(config_name=config_name, sources=sources, hash=hash or cache_key(sources), **kwargs)

    def _build_cache_dir(self) -> str:
        """datasets' cache folder of this build; one whose ``dataset_info.json`` cannot be read (a damaged cache,
        which datasets would read in its constructor and fail on) is removed here, to be built again."""
        path = super()._build_cache_dir()
        info = Path(path, datasets.config.DATASET_INFO_FILENAME)
        if info.is_file():
            try:
                datasets.DatasetInfo.from_directory(path)
            except (ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
                drop_damaged_cache(path, exc)
        return path

    @property
    def sources(self) -> Sources:
        return self.config.sources

    def _info(self) -> datasets.DatasetInfo:
        info = config_info(self.config.name)
        return datasets.DatasetInfo(
            description=f"{info.title}: {info.description}",
            features=build_features(self.config.sources.optional_fields),
            homepage=info.homepage,
            citation=info.citation,
        )

    def _split_generators(self, dl_manager):
        # every split's files first: a missing split file or folder fails before anything is written
        files = [split_files(self.sources, split) for split in SPLITS]
        return [datasets.SplitGenerator(name=f.split, gen_kwargs={"files": f}) for f in files]

    def _generate_examples(self, files: SplitFiles):
        report = self._reports[files.split] = QuirkReport()
        yield from enumerate(generate_examples(files, report))
        if report.quirks:
            kinds = ", ".join(f"{kind} {n}" for kind, n in report.counts().items())
            log.warning(
                "%s %s: %d quirks (%s); see quirk_report() or `smner-bench prepare`",
                self.config.name,
                files.split,
                len(report.quirks),
                kinds,
            )

    def download_and_prepare(self, *args, **kwargs) -> None:
        """datasets' ``download_and_prepare``; a fresh build stores each split's quirk report with the cache."""
        super().download_and_prepare(*args, **kwargs)
        reports, self._reports = self._reports, {}
        for split, report in reports.items():
            write_text(Path(self.cache_dir, REPORT_FILE.format(split=split)), report.to_json())

    def quirk_report(self, split: str) -> QuirkReport:
        """The report stored with the prepared cache for ``split`` (read again from the raw files when the
        cache lacks it, e.g. after a build that stopped between the cache and its reports, or holds a damaged one)."""
        path = Path(self.cache_dir, REPORT_FILE.format(split=split))
        if path.is_file():  # a FIFO there is never opened (the write below refuses it, naming it)
            try:
                return QuirkReport.from_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("%s: a damaged quirk report (%s): read again from the raw files", path, exc)
        report = QuirkReport()
        for _ in generate_examples(split_files(self.sources, split), report):
            pass
        write_text(path, report.to_json())
        return QuirkReport.from_json(report.to_json())

