"""Export a loaded config to Parquet shards plus a dataset card, so that plain
``datasets.load_dataset(folder, "<config>")`` reads it offline with the same rows and features.

Layout of an export folder (several configs can share one folder)::

    README.md                       dataset card: YAML ``configs:`` + ``dataset_info:`` (features), then
                                    every config's section
    <config>/train-00000-of-00001.parquet, validation-..., test-...
    <config>/CARD.md                this config's section: sources with SHA-256, statistics, quirk report
    <config>/quirks.json            the full quirk report

Writing is atomic: everything goes to a temporary sibling folder first, which then replaces ``--out``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import datasets
import yaml
from datasets.table import embed_table_storage

from smner_bench.benchmark import __version__
from smner_bench.benchmark.safe_output import atomic_folder
from smner_bench.benchmark.errors import UsageError

from .configs import config_info
from .report import Report
from .stats import dataset_stats, format_table

MARKER = "<!-- smner-bench export -->"


def _front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end]) or {}


def _config_section(name: str, dataset: datasets.DatasetDict, reports: Mapping[str, Report], command: str) -> str:
    info = config_info(name)
    lines = [
        f"## {name}: {info.title}",
        "",
        info.description,
        "",
        f"Citation: {info.citation}",
        f"Homepage: {info.homepage}",
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
    reports: Mapping[str, Report],
    out: str | Path,
    *,
    command: str = "",
) -> Path:
    """Write config ``name`` of ``dataset`` into the export folder ``out`` (created or updated)."""
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "README.md").is_file())):
        raise UsageError(f"{out} exists and is not an smner-bench export folder: choose another --out")
    if out.exists() and (out / "README.md").is_file() and MARKER not in (out / "README.md").read_text("utf-8"):
        raise UsageError(f"{out} holds a README.md that smner-bench did not write: choose another --out")
    with atomic_folder(out, "export") as tmp:
        meta: dict = {"configs": [], "dataset_info": []}
        if out.exists():
            for child in out.iterdir():  # keep the other configs of an existing export
                if child.is_dir() and child.name != name:
                    shutil.copytree(child, tmp / child.name)
            old = _front_matter(out / "README.md") if (out / "README.md").exists() else {}
            meta["configs"] = [c for c in old.get("configs", []) if c.get("config_name") != name]
            meta["dataset_info"] = [c for c in old.get("dataset_info", []) if c.get("config_name") != name]
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
        (folder / "CARD.md").write_text(_config_section(name, dataset, reports, command) + "\n", encoding="utf-8")
        quirks = Report()
        for report in reports.values():
            quirks.extend(report)
        (folder / "quirks.json").write_text(quirks.to_json(), encoding="utf-8")
        sections = [p.read_text(encoding="utf-8") for p in sorted(tmp.glob("*/CARD.md"))]
        card = (
            "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n" + MARKER + "\n\n"
            '# smner-bench export\n\nRead with `datasets.load_dataset(<this folder>, "<config>")`. '
            "Built from the raw releases; see each config's sources, checksums and quirk report below.\n\n"
            + "\n".join(sections)
        )
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return out
