"""The ``datasets`` builder of the five configs: twitter2015, twitter2017, gmner, gmner-v1, smner.

Use it directly (datasets >= 4 runs no loading scripts)::

    builder = SmnerBench(config_name="gmner", data_dir="/abs/path/twitter-gmner/v2.0")
    builder.download_and_prepare()
    ds = builder.as_dataset()

or through :func:`smner_bench.loaders.load`. The other source options (``image_dir``, ``knowledge``,
``captions``, ``mask_dir``) are those of :meth:`Sources.of`, or pass ``sources=`` a :class:`Sources`.
The cache key (datasets' ``hash`` argument) is :func:`cache_key`: the source of the modules the builder runs
and the size and modification time of every raw file it reads, so editing either rebuilds the cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import datasets

from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.safe_output import write_text

from .assemble import SplitFiles, generate_examples, split_files
from .configs import CONFIGS, SOURCE_OPTIONS, SPLITS, Sources, config_info
from .features import build_features
from .report import Report

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
        for info in CONFIGS.values()
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
        self._reports: dict[str, Report] = {}
        super().__init__(config_name=config_name, sources=sources, hash=hash or cache_key(sources), **kwargs)

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
        report = self._reports[files.split] = Report()
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

    def quirk_report(self, split: str) -> Report:
        """The report stored with the prepared cache for ``split`` (read again from the raw files when the
        cache lacks it, e.g. after a build that stopped between the cache and its reports)."""
        path = Path(self.cache_dir, REPORT_FILE.format(split=split))
        if not path.is_file():
            report = Report()
            for _ in generate_examples(split_files(self.sources, split), report):
                pass
            write_text(path, report.to_json())
        return Report.from_json(path.read_text(encoding="utf-8"))


def cache_key(sources: Sources) -> str:
    """The builder's cache key: the source of the modules it runs, and the raw files ``sources`` reads."""
    return code_hash() + "-" + file_stamp(sources.read_paths())


BUILDER_MODULES = (__name__, "smner_bench.loaders.assemble", "smner_bench.loaders.features")


@functools.cache
def code_hash() -> str:
    """A digest of the modules the builder runs: :data:`BUILDER_MODULES` and every ``smner_bench`` module
    they import, directly or not (imports inside functions included)."""
    digest = hashlib.sha256()
    for name, path in sorted(builder_modules().items()):
        digest.update(f"{name}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def builder_modules(roots: tuple[str, ...] = BUILDER_MODULES, package: str = "smner_bench") -> dict[str, Path]:
    """Module name -> file of ``roots`` and the modules of ``package`` they import (read from their source)."""
    found: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # `from module import function`: not a module
            spec = None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        found[name] = path = Path(spec.origin)
        parent = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    stem = parent.rsplit(".", node.level - 1)[0] if node.level > 1 else parent
                    base = f"{stem}.{base}" if base else stem
                todo += [base] + [f"{base}.{alias.name}" for alias in node.names]
        todo = [m for m in todo if m == package or m.startswith(package + ".")]
    return found


def file_stamp(paths: list[Path]) -> str:
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
