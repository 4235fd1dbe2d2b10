"""Bring scored entries written by an older smner-bench to the current entry format, by scoring their kept
copies again through the real path (:func:`.submit.score_copy` and :func:`.submit.build_entry`), never by
editing figures:

    python -m smner_bench.leaderboard.migrate --dataset gmner --split test --data-dir ../shared/data/twitter-gmner/v2.0

For each scored entry of that dataset and split that does not pass the current checks, or whose canonical
content digest is not the one the current rule gives its kept copy (the rule changed: each tweet's entities
are now sorted, see :func:`.submit.content_digest`), the copy must still
hash to the entry's ``submission_sha256``, the gold must have the entry's checksum, and every figure the old
entry printed (P, R and F1 of every subtask and type, the sweep's F1) must equal the fresh score; then the
entry is rewritten with the counts, the groundable split, the canonical content digest, the command with its
paths reduced to file names and the digest. The id, system, variant, notes, date and version are kept.
Anything else is refused and the entry left as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from smner_bench.benchmark.cli_options import add_gold_source
from smner_bench.benchmark.errors import DataFormatError, SmnerError
from smner_bench.benchmark.gold import Gold, load_gold
from smner_bench.benchmark.registry import dataset_version
from smner_bench.benchmark.safe_output import write_text

from .entry import Entry, Variant, validation_message
from .store import DEFAULT_ROOT, check_scored, entry_json, sha256_of_copy, submission_copy
from .submit import Meta, build_entry, file_content_digest, score_copy


def _printed(figures: dict) -> dict:
    return {k: figures.get(k) for k in ("precision", "recall", "f1")}


def migrate_file(file: Path, gold: Gold) -> Entry | None:
    """The migrated entry of ``file`` (not written), or None when it already passes the current checks or is
    on another split; raises :class:`DataFormatError` when it cannot be migrated honestly."""
    try:
        current = check_scored(file)
    except ValueError:
        pass
    else:
        if current.provenance.content_sha256 == file_content_digest(submission_copy(file), gzipped=True):
            return None  # already current
    old = json.loads(file.read_text(encoding="utf-8"))
    prov = old["provenance"]
    dataset, split = gold.dataset, gold.split
    if (old["dataset"], old.get("split", "test")) != (dataset, split):
        return None
    copy = submission_copy(file)
    if sha256_of_copy(copy) != prov["submission_sha256"]:
        raise DataFormatError("the kept copy does not hash to the entry's submission_sha256", file=file)
    if prov["dataset_checksum"] != gold.checksum():
        raise DataFormatError("scored on other gold (dataset checksum differs)", file=file)
    task, match, iou = old["task"], prov["match"], old.get("iou", 0.5)
    report, content = score_copy(copy, prov["submission_file"], gold, task=task, match=match, iou=iou)
    try:
        variant = Variant.model_validate(old.get("variant", {}))
        meta = Meta(system=old["system"], variant=variant, task=task, match=match, notes=old.get("notes"))
    except ValidationError as exc:
        raise DataFormatError(validation_message(exc), file=file) from None
    entry = build_entry(
        report,
        meta,
        gold,
        command=prov["command"],
        dataset_version=old.get("dataset_version", dataset_version(dataset)),
        content_sha256=content,
        date=prov["date"],
        version=prov["smner_bench_version"],
        entry_id=old["id"],
    )
    fresh = entry.model_dump(mode="json", exclude_none=True)
    for family in ("results", "per_type"):
        for key, figures in (old.get(family) or {}).items():
            if _printed(figures) != _printed(fresh[family][key]):
                raise DataFormatError(
                    f"{family}.{key}: stored {_printed(figures)}, a fresh score gives {_printed(fresh[family][key])}",
                    file=file,
                )
    if old.get("sweep") and [p["f1"] for p in old["sweep"]] != [p["f1"] for p in fresh.get("sweep", [])]:
        raise DataFormatError("sweep: the stored F1s differ from a fresh score", file=file)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smner_bench.leaderboard.migrate", description=__doc__)
    add_gold_source(parser)
    parser.add_argument("--entries", default=str(DEFAULT_ROOT))
    args = parser.parse_args(argv)
    try:
        gold = load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)
        changed = 0
        for file in sorted((Path(args.entries) / "scored").glob("*.json")):
            entry = migrate_file(file, gold)
            if entry is not None:
                write_text(file, entry_json(entry))
                check_scored(file)
                print(f"migrated {file.name}")
                changed += 1
        print(f"{changed} entries migrated on {gold.name}")
    except SmnerError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
