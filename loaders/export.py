"""Export a loaded config to Parquet shards plus a dataset card, so that plain
``datasets.load_dataset(folder, "<config>")`` reads it offline with the same rows and features.

Layout of an export folder (several configs can share one folder)::

    README.md                       dataset card: YAML ``configs:`` + ``dataset_info:`` (features), then
                                    every config's section
    <config>/train-00000-of-00001.parquet, validation-..., test-...
    <config>/CARD.md                this config's section: sources with SHA-256, statistics, quirk report
    <config>/quirks.json            the full quirk report

Writing is atomic: everything goes to a temporary sibling folder first, which then replaces ``--out``. An existing
export is data (``benchmark/exported.py``): its card's config names must be the registry's and are never used as
paths, and a link (or anything but a plain file or folder) in it is refused, never followed nor copied. The
folder is an smner-bench ``export`` folder (``benchmark/safe_output.py``): it is created when its parent exists,
updated when it is an export (marked, or made before the marker existed: its README.md carries :data:`MARKER`)
or empty, and anything else is refused. The card names the source files relative to the data folder (or by
their name alone when they lie elsewhere), never by an absolute path.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import datasets
import yaml
from datasets.table import embed_table_storage

from smner_bench.benchmark import __version__
from smner_bench.benchmark.exported import read_card
from smner_bench.benchmark.progress import library_bars_off
from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.benchmark.safe_output import OutputError, atomic_folder

from .configs import config_info
from .quirks import QuirkReport
from .stats import dataset_stats, format_table

MARKER = "<!-- smner-bench export -->"
SHAPE = ("features", "splits")  # what a config's dataset_info entry keeps from its build
LICENSE_NAME = "original-release-terms"  # the Hub's ``license: other``: no release states a license


def config_facts(name: str) -> dict[str, str]:
    """What a config's ``dataset_info`` entry of the card says besides its features and splits: the fields
    ``datasets`` reads into ``DatasetInfo`` (``load_dataset(folder, name)["test"].info.citation`` ...), from the
    registry. The license is the release's terms as it states them and where to read them, never invented."""
    info = config_info(name)
    return {
        "description": f"{info.title} - {info.description}",
        "citation": info.bibtex,
        "homepage": info.homepage,
        "license": f"{info.terms} See the original release: {info.homepage}",
    }


def hub_metadata(configs: Iterable[str]) -> dict:
    """The Hub's card metadata of an export holding ``configs`` (registry names), before ``configs:``."""
    infos = [config_info(n) for n in DATASET_NAMES if n in set(configs)]
    tasks = ["token-classification"]
    tasks += ["object-detection"] if any(i.boxes for i in infos) else []
    tasks += ["image-segmentation"] if any(i.masks for i in infos) else []
    return {
        "pretty_name": "smner-bench export: " + ", ".join(i.title for i in infos),
        "license": "other",
        "license_name": LICENSE_NAME,
        "language": ["en"],
        "task_categories": tasks,
        "task_ids": ["named-entity-recognition"],
        "tags": ["multimodal", "twitter", "grounded-ner"],
    }


def _terms_section(configs: Iterable[str]) -> str:
    """The card's statement of the release terms, one line per config."""
    lines = ["## Release terms", "", "This export is a derivative of the original releases and carries no license of "
             "its own: each config is used under its release's terms, as stated below; see the original release.", ""]
    for n in (n for n in DATASET_NAMES if n in set(configs)):
        lines.append(f"- {n} ({config_info(n).title}): {config_info(n).terms} See {config_info(n).homepage}")
    return "\n".join([*lines, ""])


def legacy_export(folder: Path) -> bool:
    """An export written before folders carried the marker file: its README.md holds :data:`MARKER`."""
    readme = folder / "README.md"
    try:
        return readme.is_file() and not readme.is_symlink() and MARKER in readme.read_text("utf-8", errors="replace")
    except OSError:
        return False


_COUNTED = re.compile(r"^(.*?)( \(\d+ files of [^()]*\))?$", re.DOTALL)


def shown_source(path: str, data_dir: str | os.PathLike | None) -> str:
    """How a card names a source file: relative to the data folder when it lies in it, else its name alone
    (an absolute path would publish the builder's home and folder layout). A trailing ``" (N files of split)"``
    is kept.

    >>> shown_source("/home/me/data/xml (12 files of test)", "/home/me/data")
    'xml (12 files of test)'
    >>> shown_source("/home/me/knowledge/k.zip", "/home/me/data")
    'k.zip'
    """
    match = _COUNTED.match(path)
    name, tail = match.group(1), match.group(2) or ""
    if name and data_dir is not None:
        real, base = Path(os.path.abspath(name)), Path(os.path.abspath(data_dir))
        if real == base or base in real.parents:
            return (str(real.relative_to(base)) if real != base else ".") + tail
    return Path(name).name + tail


def _public(report: QuirkReport, data_dir: str | os.PathLike | None) -> QuirkReport:
    """The report with every file named as :func:`shown_source` says."""
    return QuirkReport(
        [replace(q, file=shown_source(q.file, data_dir)) for q in report.quirks],
        {shown_source(k, data_dir): v for k, v in report.checksums.items()},
    )


def _config_section(name: str, dataset: datasets.DatasetDict, reports: Mapping[str, QuirkReport], command: str) -> str:
    info = config_info(name)
    lines = [
        f"## {name}: {info.title}",
        "",
        info.description,
        "",
        f"Citation: {info.citation}",
        f"Homepage: {info.homepage}",
        f"Terms: {info.terms} See the original release: {info.homepage}",
        "",
        "```bibtex",
        info.bibtex,
        "```",
        "",
        f"Built by smner-bench {__version__}: `{command}`",
        "",
        "### Statistics",
        "",
        "```",
        format_table(dataset_stats(dataset)),
        "```",
        "",
        "### Source files (SHA-256)",
        "",
    ]
    checksums: dict[str, str] = {}
    for report in reports.values():
        checksums.update(report.checksums)
    lines += [f"- `{path}`: `{digest}`" for path, digest in sorted(checksums.items())]
    lines += ["", "### Quirk report", ""]
    for split, report in reports.items():
        lines += [f"**{split}**", "", "```", report.summary(examples=5), "```", ""]
    return "\n".join(lines)


def export(
    name: str,
    dataset: datasets.DatasetDict,
    reports: Mapping[str, QuirkReport],
    out: str | Path,
    *,
    command: str = "",
    data_dir: str | os.PathLike | None = None,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Write config ``name`` of ``dataset`` into the export folder ``out`` (created or updated).

    ``data_dir``: the raw release folder, the base of the source names in the card; ``inputs``: every path the
    build read (the export folder may not hold one)."""
    reports = {split: _public(report, data_dir) for split, report in reports.items()}
    with atomic_folder(out, "export", inputs=[data_dir, *inputs], legacy=legacy_export) as tmp:
        try:
            with library_bars_off():  # datasets' map / to_parquet bars of each split: noise
                _fill(tmp, Path(out).resolve(), name, dataset, reports, command)
        except OSError as exc:  # a full disk, a refused write: named, and the old folder left as it was
            raise OutputError(f"{out}: cannot write the export: {exc.strerror or exc}") from None
    return Path(out).resolve()


def _fill(
    tmp: Path, out: Path, name: str, dataset: datasets.DatasetDict, reports: Mapping[str, QuirkReport], command: str
) -> None:
    """Write the export into the empty folder ``tmp``, keeping the other configs of ``out`` when it exists."""
    meta: dict = {"configs": [], "dataset_info": []}
    if out.exists():  # keep the other configs of an existing export: data, its names checked (never paths)
        old = read_card(out)  # no link anywhere in it: what is copied is what the folder holds
        for child in out.iterdir():
            if child.is_dir() and child.name != name and not child.name.startswith("."):
                shutil.copytree(child, tmp / child.name, symlinks=True)
        meta["configs"] = [c for c in old.configs_entries() if c["config_name"] != name]
        meta["dataset_info"] = [c for n, c in old.info.items() if n != name]
    folder = tmp / name
    folder.mkdir()
    data_files = []
    for split, ds in dataset.items():
        if ds.data.column("image").null_count < len(ds):  # images stored as paths: embed their bytes
            ds = ds.with_format("arrow").map(embed_table_storage, batched=True, keep_in_memory=True)
            ds = ds.with_format(None)
        ds.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
        data_files.append({"split": split, "path": f"{name}/{split}-*.parquet"})
    meta["configs"].append({"config_name": name, "data_files": data_files})
    features = next(iter(dataset.values())).features
    meta["dataset_info"].append(
        {
            "config_name": name,
            "features": features._to_yaml_list(),
            "splits": [
                {"name": s, "num_bytes": ds.data.nbytes, "num_examples": len(ds)} for s, ds in dataset.items()
            ],
        }
    )
    meta["configs"].sort(key=lambda c: c["config_name"])
    meta["dataset_info"].sort(key=lambda c: c["config_name"])
    meta["dataset_info"] = [  # every config's facts from the registry (an older export's refreshed)
        {"config_name": e["config_name"], **config_facts(e["config_name"]), **{k: e[k] for k in SHAPE if k in e}}
        for e in meta["dataset_info"]
    ]
    listed = [c["config_name"] for c in meta["configs"]]  # the default config: gmner, else the first in registry order
    default = next(n for n in ("gmner", *DATASET_NAMES) if n in listed)
    for entry in meta["configs"]:
        entry.pop("default", None)
        if entry["config_name"] == default:
            entry["default"] = True  # load_dataset(folder) without a config name reads this one
    (folder / "CARD.md").write_text(_config_section(name, dataset, reports, command) + "\n", encoding="utf-8")
    quirks = QuirkReport()
    for report in reports.values():
        quirks.extend(report)
    (folder / "quirks.json").write_text(quirks.to_json(), encoding="utf-8")
    listed = {c["config_name"] for c in meta["configs"]}  # registry names (read_card checked them)
    sections = [  # the configs the front matter lists, not every folder with a card (a stale copy is no config)
        (tmp / config / "CARD.md").read_text(encoding="utf-8", errors="replace")
        for config in sorted(n for n in DATASET_NAMES if n in listed)
        if (tmp / config / "CARD.md").is_file()
    ]
    meta = {**hub_metadata(listed), **meta}
    card = (
        "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n" + MARKER + "\n\n"
        '# smner-bench export\n\nRead with `datasets.load_dataset(<this folder>, "<config>")`. '
        "Built from the raw releases; see each config's sources, checksums and quirk report below.\n\n"
        + _terms_section(listed)
        + "\n"
        + "\n".join(sections)
    )
    (tmp / "README.md").write_text(card, encoding="utf-8")
