"""Every command that writes refuses a harmful output path with exit 2 and a clear message, and touches nothing:
a FIFO, a symbolic link (to an input, or for folders any link), one of its inputs, a folder it did not make and a
missing parent folder. The commands run in process, as a user would type them; the checks come before any model
is loaded, so the models here are placeholders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from smner_bench.benchmark.safe_output import MARKER
from smner_bench.cli import main


@pytest.fixture(scope="module")
def base(tmp_path_factory, sample_dir) -> Path:
    """A copy of the sample with its sample submission, a tiny SAM checkpoint, placeholder model folders and a run
    file; shared by every case (each checks that it is left byte for byte as it was)."""
    from smner_bench.baselines.tiny import save_sam
    from smner_bench.loaders.sample_predictions import write_sample_predictions

    root = tmp_path_factory.mktemp("outputs")
    data = root / "data"
    shutil.copytree(sample_dir, data)
    write_sample_predictions(data)
    save_sam(root / "sam.pth")
    for name in ("captioner", "plim", "ve", "vg"):
        (root / "models" / name).mkdir(parents=True)
        (root / "models" / name / "config.json").write_text("{}")
    return root


def listing(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: a file's bytes, a link's target, ``dir``/``fifo`` (never opened)."""
    found: dict[str, bytes | str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root, name)
            if p.is_symlink():
                found[str(p.relative_to(folder))] = "link -> " + os.readlink(p)
            elif p.is_fifo():
                found[str(p.relative_to(folder))] = "fifo"
            elif p.is_dir():
                found[str(p.relative_to(folder))] = "dir"
            else:
                found[str(p.relative_to(folder))] = p.read_bytes()
    return found


def run_refused(capsys, argv: list, needle: str, watched: list[Path]) -> str:
    before = [listing(w) for w in watched]
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err and "internal error" not in err
    assert needle in err, err
    assert [listing(w) for w in watched] == before  # nothing created, replaced or removed
    return err


# --- commands that write one file ------------------------------------------------------------------------------


def score(base: Path, target: Path) -> list:
    preds = base / "data" / "predictions-test.jsonl"
    return ["score", preds, "--dataset", "smner", "--split", "test", "--data-dir", base / "data", "--json", target]


def masks(base: Path, target: Path) -> list:
    preds = base / "data" / "predictions-test.jsonl"
    sam = ["--sam-checkpoint", base / "sam.pth", "--model-type", "tiny"]
    return ["masks", "--predictions", preds, "--images", base / "data" / "images", *sam, "--output", target]


def plim_predict(base: Path, target: Path) -> list:
    checkpoint = base / "models" / "plim"
    return ["baseline", "plim-predict", checkpoint, "--split", "test", "--data-dir", base / "data", "-o", target]


FILE_COMMANDS = {"score --json": score, "masks --output": masks, "plim-predict --output": plim_predict}
# the input each command's output may not replace: its predictions, or a file of its data folder
FILE_INPUT = {
    "score --json": "data/predictions-test.jsonl",
    "masks --output": "data/predictions-test.jsonl",
    "plim-predict --output": "data/test.txt",
}


def _fifo(scratch: Path, base: Path, command: str) -> Path:
    os.mkfifo(scratch / "out.json")
    return scratch / "out.json"


def _link_to_input(scratch: Path, base: Path, command: str) -> Path:
    (scratch / "out.json").symlink_to(base / FILE_INPUT[command])
    return scratch / "out.json"


def _input(scratch: Path, base: Path, command: str) -> Path:
    return base / FILE_INPUT[command]


def _folder(scratch: Path, base: Path, command: str) -> Path:
    (scratch / "out.json").mkdir()
    (scratch / "out.json" / "notes.txt").write_text("mine")
    return scratch / "out.json"


def _missing_parent(scratch: Path, base: Path, command: str) -> Path:
    return scratch / "no" / "such" / "out.json"


FILE_CASES = {
    "fifo": (_fifo, "not a regular file"),
    "symlink to an input": (_link_to_input, "an input of this command"),
    "an input": (_input, "input of this command"),
    "a folder": (_folder, "it is a folder"),
    "missing parent": (_missing_parent, "does not exist (create it first)"),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
@pytest.mark.parametrize("command", list(FILE_COMMANDS))
def test_file_output_refused(capsys, tmp_path, base, command, case):
    make, needle = FILE_CASES[case]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    target = make(scratch, base, command)
    run_refused(capsys, FILE_COMMANDS[command](base, target), needle, [base, scratch])


def test_file_output_through_a_symlink_replaces_the_target_only(capsys, tmp_path, base):
    real = tmp_path / "reports" / "r.json"
    real.parent.mkdir()
    real.write_text("old")
    (tmp_path / "r.json").symlink_to(real)
    assert main([str(a) for a in score(base, tmp_path / "r.json")]) == 0
    capsys.readouterr()
    assert (tmp_path / "r.json").is_symlink() and real.read_text().startswith("{")
    assert sorted(p.name for p in real.parent.iterdir()) == ["r.json"]


# --- commands that write a folder -------------------------------------------------------------------------------


def prepare(base: Path, target: Path, scratch: Path) -> list:
    cache = ["--cache-dir", base / "hf-cache"]
    return ["prepare", "gmner", "--data-dir", base / "data", *cache, "--out", target]


def sample(base: Path, target: Path, scratch: Path) -> list:
    return ["sample", "--out", target]


def tiny_models(base: Path, target: Path, scratch: Path) -> list:
    return ["baseline", "tiny-models", "--dataset", "smner", "--data-dir", base / "data", "--out", target]


def run_riveg(base: Path, target: Path, scratch: Path) -> list:
    """A run file (in the scratch folder) whose ``out`` is the target; the models are placeholders: the run
    folder is checked before any is loaded."""
    m = base / "models"
    lines = [
        "dataset: smner",
        f"data_dir: {base / 'data'}",
        "split: test",
        f"images: {base / 'data' / 'images'}",
        f"out: {target}",
        f'captions: {{captioner: "transformers:{m / "captioner"}"}}',
        f"plim: {{checkpoint: {m / 'plim'}}}",
        f"ve: {{checkpoint: {m / 've'}}}",
        f"vg: {{checkpoint: {m / 'vg'}}}",
    ]
    config = scratch / "run.yaml"
    if not config.exists():
        config.write_text("\n".join(lines) + "\n")
    return ["run", "riveg", "--config", config]


FOLDER_COMMANDS = {
    "prepare --out": prepare,
    "sample --out": sample,
    "tiny-models --out": tiny_models,
    "run riveg (run folder)": run_riveg,
}


def _folder_fifo(scratch: Path, base: Path) -> Path:
    os.mkfifo(scratch / "out")
    return scratch / "out"


def _folder_symlink(scratch: Path, base: Path) -> Path:
    (scratch / "real").mkdir()
    (scratch / "out").symlink_to(scratch / "real")
    return scratch / "out"


def _folder_holding_an_input(scratch: Path, base: Path) -> Path:
    return base / "data"


def _unmarked_folder(scratch: Path, base: Path) -> Path:
    (scratch / "out").mkdir()
    (scratch / "out" / "thesis.tex").write_text("years of work")
    return scratch / "out"


def _other_kind(scratch: Path, base: Path) -> Path:
    (scratch / "out").mkdir()
    (scratch / "out" / MARKER).write_text("site\n")
    (scratch / "out" / "index.html").write_text("<html>")
    return scratch / "out"


def _folder_missing_parent(scratch: Path, base: Path) -> Path:
    return scratch / "no" / "out"


FOLDER_CASES = {
    "fifo": (_folder_fifo, "exists and is not a folder"),
    "symlink": (_folder_symlink, "a symbolic link"),
    "the data folder": (_folder_holding_an_input, "an input of this command"),
    "a folder it did not make": (_unmarked_folder, "is not empty and was not made by smner-bench"),
    "another kind of smner-bench folder": (_other_kind, "an smner-bench 'site' folder"),
    "missing parent": (_folder_missing_parent, "does not exist (create it first)"),
}


@pytest.mark.parametrize(
    ("command", "case"),
    # sample reads nothing, and the data folder is a sample: replacing it is right (test_sample_e2e checks it)
    [(c, k) for c in FOLDER_COMMANDS for k in FOLDER_CASES if (c, k) != ("sample --out", "the data folder")],
)
def test_folder_output_refused(capsys, tmp_path, base, command, case):
    make, needle = FOLDER_CASES[case]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    target = make(scratch, base)
    run_refused(capsys, FOLDER_COMMANDS[command](base, target, scratch), needle, [base, scratch])


def test_out_dot_is_refused_in_a_users_folder(capsys, tmp_path, base, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    monkeypatch.chdir(mine)
    for command in FOLDER_COMMANDS.values():
        run_refused(capsys, command(base, Path("."), tmp_path), "refused", [base, mine])


# --- what an export publishes -----------------------------------------------------------------------------------


def test_export_card_has_no_local_paths_and_plain_modes(capsys, tmp_path, base, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    old = os.umask(0o077)  # what a careful user may have: the export must still be readable by others
    try:
        argv = ["prepare", "smner", "--data-dir", base / "data", "--image-dir", base / "data" / "images"]
        argv += ["--knowledge", base / "data" / "knowledge.zip", "--cache-dir", tmp_path / "cache"]
        assert main([str(a) for a in [*argv, "--out", tmp_path / "export"]]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    export = tmp_path / "export"
    texts = [(export / "README.md").read_text(), (export / "smner" / "CARD.md").read_text()]
    texts.append((export / "smner" / "quirks.json").read_text())
    for text in texts:
        assert str(tmp_path) not in text and str(base) not in text and "/tmp" not in text
    card = texts[1]
    assert "- `train.txt`: `" in card and "- `knowledge.zip`: `" in card and "- `xml (" in card
    assert (export / MARKER).read_text() == "export\n"
    for root, dirs, files in os.walk(export):
        assert all(stat_mode(Path(root, d)) == 0o755 for d in dirs) and stat_mode(Path(root)) == 0o755
        assert all(stat_mode(Path(root, f)) == 0o644 for f in files)


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_export_made_before_the_marker_is_updated_others_refused(capsys, tmp_path, base):
    from smner_bench.loaders.export import MARKER as CARD_MARKER

    argv = ["prepare", "gmner", "--data-dir", base / "data", "--cache-dir", tmp_path / "cache", "--out"]
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "README.md").write_text(f"---\nconfigs: []\n---\n{CARD_MARKER}\n")
    (legacy / "twitter2015").mkdir()
    (legacy / "twitter2015" / "CARD.md").write_text("## twitter2015\n")
    assert main([str(a) for a in [*argv, legacy]]) == 0
    capsys.readouterr()
    assert (legacy / MARKER).read_text() == "export\n" and (legacy / "gmner" / "CARD.md").is_file()
    assert (legacy / "twitter2015" / "CARD.md").read_text() == "## twitter2015\n"  # the other config is kept
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "README.md").write_text("# my project\n")
    run_refused(capsys, [*argv, foreign], "not made by smner-bench", [foreign])


def test_answer_cache_refuses_special_files_and_inputs_and_appends(tmp_path):
    from smner_bench.baselines.providers.cache import AnswerCache
    from smner_bench.benchmark.safe_output import OutputError

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    (tmp_path / "data.txt").write_text("gold")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = {
        "fifo": "not a regular file",
        "folder": "it is a folder",
        "dangling": "symbolic link that leads to no file",
        "no/cache.jsonl": "does not exist",
    }
    for name, needle in cases.items():
        with pytest.raises(OutputError, match=needle):
            AnswerCache(tmp_path / name)
    with pytest.raises(OutputError, match="an input of this command"):
        AnswerCache(tmp_path / "data.txt", inputs=[tmp_path / "data.txt"])
    assert (tmp_path / "data.txt").read_text() == "gold" and not (tmp_path / "no").exists()
    (tmp_path / "cache.jsonl").write_text('{"key": "a", "answer": "A"}\n{"key": "b", "ans')  # a cut last line
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "cache.jsonl")
    cache = AnswerCache(tmp_path / "link.jsonl")
    assert cache.get("a") == "A" and cache.broken_lines == 1
    cache.put("c", "C")
    cache.close()
    assert (tmp_path / "link.jsonl").is_symlink()
    assert (tmp_path / "cache.jsonl").read_text().splitlines()[-1] == '{"key": "c", "answer": "C"}'
    assert AnswerCache(tmp_path / "cache.jsonl").get("c") == "C"
