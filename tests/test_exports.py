"""An existing export folder is data, never a source of paths (benchmark/exported.py): ``prepare --out`` over it
and ``score --gold`` check its card's front matter (names from the registry, data files in their config's folder,
a broken YAML is exit 1 naming the README and the line), refuse links and special files in it, and read a damaged
Parquet file as exit 1 naming it, never an internal error nor a file from outside the folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smner_bench.benchmark.submission import write_submission
from smner_bench.cli import main
from smner_bench.loaders.sample_predictions import sample_predictions

from .test_rle_edges import write_runs


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err, err
    return code, err


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_dir, hf_cache):
    """An export of the sample's smner config (made once; each test works on a copy)."""
    out = tmp_path_factory.mktemp("made") / "export"
    argv = ["prepare", "smner", "--data-dir", sample_dir, "--cache-dir", hf_cache, "--out", out]
    assert main([str(a) for a in argv]) == 0
    return out


@pytest.fixture
def export(made, tmp_path) -> Path:
    copy = tmp_path / "export"
    shutil.copytree(made, copy)
    return copy


@pytest.fixture(scope="module")
def submission(sample_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sub") / "predictions-test.jsonl"
    write_submission(path, sample_predictions(sample_dir)[0])
    return path


def prepare(capsys, sample_dir, hf_cache, out, config="twitter2015") -> tuple[int, str]:
    return run(capsys, "prepare", config, "--data-dir", sample_dir, "--cache-dir", hf_cache, "--out", out)


def score(capsys, submission, export, split="test") -> tuple[int, str]:
    return run(capsys, "score", submission, "--dataset", "smner", "--split", split, "--gold", export, "--json", "-")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def edit_card(export: Path, old: str, new: str) -> None:
    readme = export / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert old in text
    readme.write_text(text.replace(old, new, 1), encoding="utf-8")


def card_line(export: Path, needle: str) -> int:
    lines = (export / "README.md").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


def test_a_config_name_of_the_card_is_never_a_path(capsys, tmp_path, export, sample_dir, hf_cache, submission):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "CARD.md").write_text("TOP SECRET\n", encoding="utf-8")
    for name in ("../secret", str(outside), "smner/../../secret"):
        edit_card(export, "config_name: smner", f"config_name: {name}")
        before = snapshot(export)
        code, err = prepare(capsys, sample_dir, hf_cache, export)
        line = card_line(export, f"config_name: {name}")
        assert code == 1 and f"README.md:{line}: configs[0].config_name: {name!r} is no config" in err
        assert snapshot(export) == before  # refused before the build: nothing written, nothing read from outside
        code, err = score(capsys, submission, export)
        assert code == 1 and f"{name!r} is no config" in err
        edit_card(export, f"config_name: {name}", "config_name: smner")


def test_data_files_outside_their_config_folder_are_refused(capsys, export, sample_dir, hf_cache, submission):
    edit_card(export, "path: smner/test-*.parquet", "path: ../elsewhere/test-*.parquet")
    line = card_line(export, "../elsewhere")
    code, err = prepare(capsys, sample_dir, hf_cache, export)
    assert code == 1 and f"README.md:{line}: configs[0].data_files[2]" in err and "smner/<split>-*.parquet" in err
    code, err = score(capsys, submission, export)
    assert code == 1 and f"README.md:{line}:" in err


def test_a_card_of_another_shape_is_exit_1_with_its_line(capsys, export, sample_dir, hf_cache, submission):
    readme = export / "README.md"
    good = readme.read_text(encoding="utf-8")
    head, rest = good.split("\n---\n", 1)
    cases = {
        "---\nconfigs: [\n---\n" + rest: "README.md:2: the front matter is not YAML",
        "---\n- just\n- a list\n---\n" + rest: "README.md:2: the front matter is a list, not a mapping",
        "---\nconfigs: smner\n---\n" + rest: "README.md:2: configs: a list expected, found str",
        "---\nconfigs:\n- smner\n---\n" + rest: "README.md:3: configs[0]: a mapping expected, found str",
        "---\nconfigs: []\nconfigs: []\n---\n" + rest: "README.md:3: duplicate key 'configs' (first on line 2)",
        head.replace("config_name: smner", "config_name: [smner]", 1) + "\n---\n" + rest: "is no config",
    }
    for text, message in cases.items():
        readme.write_text(text, encoding="utf-8")
        code, err = prepare(capsys, sample_dir, hf_cache, export)
        assert code == 1 and message in err, (message, err)
        code, err = score(capsys, submission, export)
        assert code == 1 and message in err, (message, err)
    readme.write_bytes(b"---\nconfigs: \xff\n---\n")
    assert prepare(capsys, sample_dir, hf_cache, export)[0] == 1


def test_a_front_matter_without_its_end_is_exit_1(capsys, export, sample_dir, hf_cache, submission):
    readme = export / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split("\n---\n", 1)
    readme.write_text(head + "\n" + rest, encoding="utf-8")  # the closing '---' lost
    for code, err in (prepare(capsys, sample_dir, hf_cache, export), score(capsys, submission, export)):
        assert code == 1 and "README.md:1: the front matter opened here is never closed" in err


def test_links_in_an_export_are_refused_never_followed(capsys, tmp_path, export, sample_dir, hf_cache, submission):
    secret = tmp_path / "private.txt"
    secret.write_text("TOP SECRET\n", encoding="utf-8")
    link = export / "smner" / "notes.txt"
    link.symlink_to(secret)
    before = snapshot(export)
    code, err = prepare(capsys, sample_dir, hf_cache, export)
    assert code == 1 and f"{link}: a symbolic link (to {secret}) inside the export folder: refused" in err
    assert snapshot(export) == before
    assert score(capsys, submission, export)[0] == 1
    link.unlink()
    # the gold files themselves swapped for links to another folder's
    other = tmp_path / "other"
    shutil.copytree(export / "smner", other)
    parquet = next((export / "smner").glob("test-*.parquet"))
    parquet.unlink()
    parquet.symlink_to(other / parquet.name)
    code, err = score(capsys, submission, export)
    assert code == 1 and f"{parquet}: a symbolic link" in err
    parquet.unlink()
    os.mkfifo(parquet)  # a FIFO would block a reader (copytree, pyarrow) for ever
    for code, err in (prepare(capsys, sample_dir, hf_cache, export), score(capsys, submission, export)):
        assert code == 1 and f"{parquet}: not a regular file" in err


def test_a_damaged_parquet_file_is_exit_1_naming_it(capsys, export, submission):
    parquet = next((export / "smner").glob("test-*.parquet"))
    good = parquet.read_bytes()
    for data in (good[: len(good) // 2], b"", good[:100] + b"\0" * (len(good) - 100)):
        parquet.write_bytes(data)
        code, err = score(capsys, submission, export)
        assert code == 1 and f"{parquet}: not a readable Parquet file" in err
    parquet.unlink()
    code, err = score(capsys, submission, export)
    assert code == 2 and "no smner/test-*.parquet file, which its card lists" in err


def test_gold_rows_of_another_shape_are_exit_1(capsys, export, submission):
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = next((export / "smner").glob("test-*.parquet"))
    table = pq.read_table(parquet)
    rows = table.select(["id", "tokens", "entities"]).to_pylist()
    entity = rows[1]["entities"][0] if rows[1]["entities"] else {}
    rows[1]["entities"] = [{**entity, "start": 0, "end": 999}]  # past the tweet's last token
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    code, err = score(capsys, submission, export)
    assert code == 1 and f"{parquet}: row 1: entities[0]" in err
    pq.write_table(pa.table({"id": [1, 2], "tokens": [["a"], ["b"]], "entities": ["x", "y"]}), parquet)
    code, err = score(capsys, submission, export)
    assert code == 1 and f"{parquet}: row 0: id: a non-empty string expected" in err
    good = table.to_pylist()
    with_entity = next(i for i, row in enumerate(good) if row["entities"])
    bad_type = [dict(row) for row in good]
    bad_type[with_entity]["entities"] = [{**good[with_entity]["entities"][0], "type": "DATE"}]
    twice = [*good, {**good[0], "entities": []}]  # a second tweet of one id: one of them would be left unscored
    for rows, message in ((bad_type, f"row {with_entity}: entities[0]: a text string and a type among"),
                          (twice, f"row {len(good)}: id {good[0]['id']!r} again")):  # fmt: skip
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), parquet)
        code, err = score(capsys, submission, export)
        assert code == 1 and f"{parquet}: {message}" in err, err


def test_a_config_or_split_the_card_does_not_list_is_exit_2(capsys, export, submission):
    code, err = run(capsys, "score", submission, "--dataset", "gmner", "--split", "test", "--gold", export)
    assert code == 2 and "the export does not hold the config 'gmner' (its card lists: smner)" in err


def test_an_exported_gold_is_read_without_datasets_or_its_cache(tmp_path, made, sample_dir, submission):
    code = (
        "import sys; from smner_bench.cli import main; "
        "code = main(['score', sys.argv[1], '--dataset', 'smner', '--split', 'test', '--gold', sys.argv[2], "
        "'--json', sys.argv[3]]); print(code, 'datasets' in sys.modules)"
    )
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "no-cache")}
    out = subprocess.run(
        [sys.executable, "-c", code, str(submission), str(made), str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.stdout.split()[-2:] == ["0", "False"], out.stderr  # the Parquet files read with pyarrow: no cache
    assert not (tmp_path / "no-cache").exists()
    assert json.loads((tmp_path / "r.json").read_text())["results"]["smner"]["tp"] == 20


def test_an_export_is_updated_with_another_config(capsys, export, sample_dir, hf_cache):
    code, _ = prepare(capsys, sample_dir, hf_cache, export, config="gmner")
    assert code == 0
    card = (export / "README.md").read_text(encoding="utf-8")
    assert "config_name: gmner" in card and "config_name: smner" in card
    assert card.index("## gmner:") < card.index("## smner:")
    assert (export / "smner" / "CARD.md").is_file() and (export / "gmner" / "CARD.md").is_file()


def test_a_full_disk_while_exporting_is_exit_2_and_keeps_the_old_export(capsys, monkeypatch, export, sample_dir,
                                                                         hf_cache):  # fmt: skip
    import errno

    import datasets

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    before = snapshot(export)
    monkeypatch.setattr(datasets.Dataset, "to_parquet", full)
    code, err = prepare(capsys, sample_dir, hf_cache, export, config="gmner")
    assert code == 2 and f"{export}: cannot write the export: No space left on device" in err
    assert snapshot(export) == before and not [p for p in export.parent.iterdir() if p.name.startswith(".")]


def test_gold_masks_pycocotools_would_misread_or_of_another_size_are_exit_1(capsys, export, submission):
    """A gold mask of an export is read as the submission's are (benchmark/regions.py): counts that pycocotools
    reads otherwise (a 12-character value wrapping around) and a size other than the image's are refused, never
    scored (they gave IoUs on other runs, or a crash in pycocotools)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = next((export / "smner").glob("test-*.parquet"))
    table = pq.read_table(parquet)
    good = table.to_pylist()
    i = next(i for i, row in enumerate(good) if any(e["masks"] for e in row["entities"]))
    j = next(j for j, e in enumerate(good[i]["entities"]) if e["masks"])
    h, w = good[i]["height"], good[i]["width"]
    for mask, message in (
        ({"size": [h, w], "counts": write_runs([h * w, 2**58, 2**58]) + "0" * 62}, "counts is not a compressed RLE"),
        ({"size": [h + 1, w], "counts": good[i]["entities"][j]["masks"][0]["counts"]}, "the runs cover"),
        ({"size": [2, 2], "counts": "04"}, f"size [2, 2] is not the image's [{h}, {w}]"),
    ):
        rows = [dict(row) for row in good]
        entities = [dict(e) for e in rows[i]["entities"]]
        entities[j] = {**entities[j], "masks": [mask]}
        rows[i] = {**rows[i], "entities": entities}
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), parquet)
        code, err = score(capsys, submission, export)
        assert code == 1 and f"{parquet}: row {i}: entities[{j}].masks[0]: {message}" in err, err


def test_load_dataset_without_a_config_name_reads_the_default(tmp_path, export, sample_dir, hf_cache, capsys):
    """The card marks one config default (gmner when the export holds it, else the first in registry order), so
    ``datasets.load_dataset(folder)`` works without a name (it failed: "Config name is missing")."""
    import datasets

    first = datasets.load_dataset(str(export), cache_dir=str(tmp_path / "c1"))
    assert first["test"].num_rows == 12 and first["test"].info.config_name == "smner"  # the only config
    code, _ = prepare(capsys, sample_dir, hf_cache, export, config="gmner")  # add gmner: it becomes the default
    assert code == 0
    second = datasets.load_dataset(str(export), cache_dir=str(tmp_path / "c2"))
    assert second["test"].info.config_name == "gmner"
    assert datasets.load_dataset(str(export), "smner", cache_dir=str(tmp_path / "c3"))["test"].num_rows == 12


def test_an_export_carries_its_info_and_the_hub_metadata(tmp_path, export, sample_dir, hf_cache, capsys):
    """``info.description``, ``citation``, ``homepage`` and ``license`` were empty after the Parquet round trip (set
    only through ``load()``): each config's ``dataset_info`` now carries them (the citation as BibTeX), the card has
    the Hub's metadata (parsed offline by huggingface_hub) and states each release's terms, never a license it
    does not state. An older export's entries, without them, get them back when another config is added."""
    import datasets
    from huggingface_hub import DatasetCard

    from smner_bench.benchmark.io import parse_yaml
    from smner_bench.benchmark.registry import DATASETS

    readme = export / "README.md"
    old = readme.read_text(encoding="utf-8")
    readme.write_text(old.replace("  citation:", "  x-citation:", 1), encoding="utf-8")  # as an older export
    code, _ = prepare(capsys, sample_dir, hf_cache, export, config="twitter2015")
    assert code == 0
    for config in ("smner", "twitter2015"):
        info = datasets.load_dataset(str(export), config, cache_dir=str(tmp_path / config))["test"].info
        spec = DATASETS[config]
        assert info.citation == spec.bibtex and info.citation.startswith("@") and info.citation.endswith("}")
        assert spec.description in info.description and info.homepage == spec.homepage
        assert info.license == f"{spec.terms} See the original release: {spec.homepage}"
        assert "No license is stated" in info.license
    text = readme.read_text(encoding="utf-8")
    assert "x-citation" not in text
    parse_yaml(text.split("---\n")[1], file=readme)  # no duplicate key
    card = DatasetCard(text)
    assert card.data.license == "other" and card.data.to_dict()["license_name"] == "original-release-terms"
    assert card.data.language == ["en"] and card.data.task_ids == ["named-entity-recognition"]
    assert card.data.task_categories == ["token-classification", "object-detection", "image-segmentation"]
    assert card.data.pretty_name == "smner-bench export: Twitter-2015, Twitter-SMNER"
    assert "## Release terms" in card.text and "```bibtex\n@inproceedings{zhang2018adaptive," in card.text
    assert "w/o I-after-O" in card.text


def test_an_older_entry_without_features_stays_without(capsys, export, sample_dir, hf_cache):
    """A kept config's ``dataset_info`` entry gains the registry's facts and keeps only the shape it had (no
    ``features: null`` written into it)."""
    code, _ = prepare(capsys, sample_dir, hf_cache, export, config="twitter2015")
    assert code == 0
    edit_card(export, "- config_name: twitter2015\n  description:", "- config_name: twitter2015\n  x-description:")
    readme = export / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index("- config_name: twitter2015\n  x-description:")
    readme.write_text(text[:start] + "- config_name: twitter2015\n" + text[text.index("\n---\n") :], encoding="utf-8")
    code, _ = prepare(capsys, sample_dir, hf_cache, export, config="smner")
    assert code == 0
    text = readme.read_text(encoding="utf-8")
    assert "- config_name: twitter2015\n  description: Twitter-2015 - " in text and "features: null" not in text


def test_a_text_only_export_claims_no_image_task(tmp_path, sample_dir, hf_cache, capsys):
    from huggingface_hub import DatasetCard

    code, _ = prepare(capsys, sample_dir, hf_cache, tmp_path / "out", config="twitter2017")
    assert code == 0
    card = DatasetCard((tmp_path / "out" / "README.md").read_text(encoding="utf-8"))
    assert card.data.task_categories == ["token-classification"]


def test_the_files_upload_folder_sends_make_a_repository_that_loads_back(tmp_path, export):
    """docs/loaders.md publishes an export with ``upload_folder(..., ignore_patterns=[".smner-bench"])``. The files
    that call selects (huggingface_hub's own filter) are copied to a local folder, as the Hub repository would hold
    them: it loads back with its default config, its info and the Hub card metadata, and the export's own marker
    is left behind. (Uploading itself needs the Hub: the Hub also validates the card's YAML on upload.)"""
    import shutil

    import datasets
    from huggingface_hub import DatasetCard
    from huggingface_hub.utils import filter_repo_objects

    files = sorted(p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file())
    sent = list(filter_repo_objects(files, ignore_patterns=[".smner-bench"]))
    assert ".smner-bench" in files and ".smner-bench" not in sent and "README.md" in sent
    repo = tmp_path / "repo"
    for name in sent:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(export / name, repo / name)
    loaded = datasets.load_dataset(str(repo), cache_dir=str(tmp_path / "cache"))  # the default config
    test = loaded["test"]
    assert test.num_rows == 12 and test.info.config_name == "smner"
    assert test.info.citation.startswith("@") and test.info.homepage and "No license is stated" in test.info.license
    assert DatasetCard((repo / "README.md").read_text(encoding="utf-8")).data.license == "other"
