"""Hostile inputs of the baselines' commands end in exit 1 (an invalid file, named) or 2 (a missing file or
folder, a folder of the wrong kind), never in an internal error (exit 3) or a traceback.

Every command that loads a model, a checkpoint or a metadata file is run in-process on damaged copies of tiny
models (``baselines/tiny.py``, PLIM/VE/VG briefly trained on the synthetic sample): a missing path, a data
folder or an empty folder instead of a model, broken / mistyped / incomplete metadata JSON (``plim.json``,
``ve.json``), missing, truncated or garbage weights (``model.pt``, ``model.safetensors``, a SAM ``.pth``),
broken ``config.json`` and tokenizer files, broken run files, an answer cache with garbage lines.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.cli import main  # noqa: E402

GARBAGE = bytes(range(256)) * 8  # not JSON, not UTF-8, not a pickle, not a zip, not safetensors


@pytest.fixture(scope="module")
def env(tmp_path_factory, sample_dir, riveg_models):
    """Tiny models of every stage (the session's, conftest ``riveg_models``, damaged only in copies; PLIM trained
    here without knowledge, for run files without a knowledge stage), and a folder for the damage."""
    root = tmp_path_factory.mktemp("errors")
    models = root / "models"
    models.mkdir()
    for name in ("tiny", "ve", "vg"):
        (models / name).symlink_to(riveg_models / name)
    assert main(["baseline", "plim-train", "--encoder", str(models / "tiny/encoder"), "--data-dir", str(sample_dir),
                 "--out", str(models / "plim"), "--epochs", "1", "--batch-size", "8", "--max-length", "32",
                 "--max-train-tweets", "8"]) == 0  # fmt: skip
    test_id = (sample_dir / "test.txt").read_text(encoding="utf-8").split("\n", 1)[0].split("\t")[0]
    gmner = root / "gmner.jsonl"  # a GMNER submission without boxes: SAM is loaded, never run
    gmner.write_text(json.dumps({"id": test_id.removeprefix("IMGID:"), "entities": []}) + "\n")
    (root / "damaged").mkdir()
    return {"root": root, "models": models, "sample": sample_dir, "gmner": gmner, "count": itertools.count()}


def damage(env, source: str, how: str) -> tuple[Path, Path]:
    """A damaged copy of the model file or folder ``source`` (relative to the models): ``(path to give, path the
    message must name)``.

    ``how``: ``missing`` (no such path), ``data`` (the data folder), ``empty`` (an empty folder), ``file`` (a
    regular file where a folder is expected), ``delete:NAME``, ``text:NAME:CONTENT``, ``truncate:NAME``,
    ``garbage:NAME`` (NAME inside a folder; ``.`` for a file itself), ``state:NAME`` (a torch state dict of
    another model)."""
    dest = env["root"] / "damaged" / str(next(env["count"]))
    dest.mkdir()
    if how == "missing":
        return dest / "nothing-here", dest / "nothing-here"
    if how == "data":
        return env["sample"], env["sample"]
    if how == "empty":
        return dest, dest
    if how == "file":
        (dest / "model").write_text("not a folder\n")
        return dest / "model", dest / "model"
    src = env["models"] / source
    copy = dest / src.name
    if src.is_dir():
        shutil.copytree(src, copy)
    else:
        shutil.copyfile(src, copy)
    kind, name, content = [*how.split(":", 2), ""][:3]
    target = copy / name if name != "." else copy
    if kind == "delete":
        target.unlink()
        return copy, copy
    if kind == "text":
        target.write_text(content)
    elif kind == "truncate":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif kind == "garbage":
        target.write_bytes(GARBAGE)
    elif kind == "state":
        torch.save({"weight": torch.zeros(2, 2)}, target)
    else:
        raise AssertionError(how)
    return copy, target


def run(capsys, argv) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out = capsys.readouterr()
    return code, out.out + out.err


def check(capsys, argv, named: Path) -> None:
    code, text = run(capsys, argv)
    assert code in (1, 2), text
    assert "Traceback" not in text and "internal error" not in text, text
    assert str(named) in text, text


# --- model folders and checkpoints ------------------------------------------------------------------------

FOLDER = ("missing", "data", "empty", "file")
PLIM = (
    *FOLDER,
    "delete:plim.json",
    "text:plim.json:{",
    "text:plim.json:[]",
    "text:plim.json:{}",
    'text:plim.json:{"config": 3}',
    'text:plim.json:{"config": {"dropout": "x"}}',
    "garbage:plim.json",
    "delete:model.pt",
    "truncate:model.pt",
    "garbage:model.pt",
    "state:model.pt",
    "delete:config.json",
    "text:config.json:{",
    'text:config.json:{"model_type": "bert", "hidden_size": "x"}',
    "garbage:config.json",
    "text:tokenizer.json:{",
    "garbage:tokenizer.json",
    "text:tokenizer_config.json:[",
)
ENCODER = (
    *FOLDER,
    "text:config.json:{",
    "garbage:config.json",
    "delete:model.safetensors",
    "truncate:model.safetensors",
    "garbage:model.safetensors",
    "text:tokenizer.json:{",
    "garbage:tokenizer_config.json",
)
PROCESSOR = (*ENCODER, "text:processor_config.json:{", "garbage:processor_config.json")
SAM = ("missing", "empty", "garbage:.", "truncate:.", "state:.", "text:.:[1, 2]")


@pytest.mark.parametrize("how", PLIM)
def test_plim_predict(capsys, env, tmp_path, how):
    path, named = damage(env, "plim/best", how)
    argv = ["baseline", "plim-predict", path, "--split", "test", "-o", tmp_path / "p.jsonl", "--data-dir"]
    check(capsys, [*argv, env["sample"]], named)


@pytest.mark.parametrize("how", ENCODER)
def test_plim_train_encoder(capsys, env, tmp_path, how):
    path, named = damage(env, "tiny/encoder", how)
    argv = ["baseline", "plim-train", "--encoder", path, "--data-dir", env["sample"], "--out", tmp_path / "plim"]
    check(capsys, [*argv, "--epochs", "1", "--max-train-tweets", "2"], named)


@pytest.mark.parametrize("how", ENCODER)
def test_caption_ve_encoder(capsys, env, tmp_path, how):
    path, named = damage(env, "tiny/encoder", how)
    argv = ["baseline", "caption-ve", "--encoder", path, "--data-dir", env["sample"], "--captions"]
    check(capsys, [*argv, env["sample"] / "captions", "--out", tmp_path / "cve", "--max-train", "2"], named)


@pytest.mark.parametrize("how", ENCODER[:6])
def test_knowledge_encoder(capsys, env, tmp_path, how):
    path, named = damage(env, "tiny/encoder", how)
    argv = ["baseline", "knowledge", "--data-dir", env["sample"], "--captions", env["sample"] / "captions"]
    check(capsys, [*argv, "--encoder", path, "--prompts-only", tmp_path / "prompts.jsonl"], named)


@pytest.mark.parametrize(
    "how", [*ENCODER, "text:chat_template.jinja:{% for m in messages %}", "text:chat_template.jinja:{{ 1 / 0 }}"]
)
def test_expand_llm(capsys, env, tmp_path, how):
    path, named = damage(env, "tiny/llm", how)
    argv = ["baseline", "expand", "--gold-entities", "--split", "test", "--data-dir", env["sample"], "--captions"]
    argv += [env["sample"] / "captions", "--llm", f"transformers:{path}", "--cache", tmp_path / "cache.jsonl"]
    check(capsys, [*argv, "-o", tmp_path / "x.jsonl"], named)


@pytest.mark.parametrize("stage", ["ve", "vg"])
@pytest.mark.parametrize("how", PROCESSOR)
def test_ve_vg_train_base(capsys, env, tmp_path, stage, how):
    path, named = damage(env, "tiny/matcher" if stage == "ve" else "tiny/grounder", how)
    argv = ["baseline", f"{stage}-train", "--base", path, "--data-dir", env["sample"], "--images"]
    check(capsys, [*argv, env["sample"] / "images", "--out", tmp_path / stage, "--max-train", "1"], named)


@pytest.mark.parametrize("how", SAM)
def test_masks_sam_checkpoint(capsys, env, tmp_path, how):
    path, named = damage(env, "tiny/sam.pth", how)
    argv = ["masks", "--predictions", env["gmner"], "--images", env["sample"] / "images", "--sam-checkpoint", path]
    check(capsys, [*argv, "--model-type", "tiny", "-o", tmp_path / "s.jsonl"], named)


def test_masks_large_model_type_refuses_garbage_before_building(capsys, env, tmp_path):
    path, named = damage(env, "tiny/sam.pth", "garbage:.")
    argv = ["masks", "--predictions", env["gmner"], "--images", env["sample"] / "images", "--sam-checkpoint", path]
    check(capsys, [*argv, "--model-type", "vit_h", "-o", tmp_path / "s.jsonl"], named)


@pytest.mark.parametrize("how", ["missing", "empty", "file"])
def test_tiny_models_data_dir(capsys, env, tmp_path, how):
    path, named = damage(env, "", how)
    check(capsys, ["baseline", "tiny-models", "--out", tmp_path / "t", "--data-dir", path], named)


@pytest.mark.parametrize(
    "content",
    [GARBAGE, b"PK\x03\x04", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"],
)
def test_knowledge_features_file_not_ours(capsys, env, tmp_path, content):
    """The MSEA features file is the command's own: another file there is refused, never replaced."""
    features = tmp_path / "features.npz"
    features.write_bytes(content)
    argv = ["baseline", "knowledge", "--data-dir", env["sample"], "--captions", env["sample"] / "captions"]
    argv += ["--encoder", env["models"] / "tiny/encoder", "--features", features]
    check(capsys, [*argv, "--prompts-only", tmp_path / "prompts.jsonl"], features)
    assert features.read_bytes() == content


# --- the answer cache -------------------------------------------------------------------------------------

CACHE_LINES = (
    b"\xff\xfe garbage\n",
    b"[1, 2]\n",
    b'{"key": 1, "answer": "x"}\n',
    b'{"key": "k", "answer": 5}\n',
    b'{"answer": "x"}\n',
    b"not json at all\n",
)


@pytest.mark.parametrize("line", CACHE_LINES)
def test_expand_cache_with_garbage_lines(capsys, env, tmp_path, line):
    cache = tmp_path / "cache.jsonl"
    cache.write_bytes(b'{"key": "a", "answer": "b"}\n' + line + b'{"key": "c", "answer": "d"}\n')
    argv = ["baseline", "expand", "--gold-entities", "--split", "test", "--data-dir", env["sample"], "--captions"]
    argv += [env["sample"] / "captions", "--llm", f"transformers:{env['models'] / 'tiny/llm'}", "--cache", cache]
    check(capsys, [*argv, "-o", tmp_path / "x.jsonl"], f"{cache}:2")


# --- run riveg ---------------------------------------------------------------------------------------------


def run_file(env, folder: Path, **changes) -> Path:
    """The run file of the tiny models with only the stages needed (replayed captions, no knowledge, expansion
    or SAM unless asked for), with ``changes``."""
    import yaml

    models = env["models"]
    cfg = {
        "dataset": "smner",
        "data_dir": str(env["sample"]),
        "split": "test",
        "images": str(env["sample"] / "images"),
        "out": str(folder / "run"),
        "captions": {"captioner": f"replay:{env['sample'] / 'captions' / 'BLIP2_sample.txt'}"},
        "plim": {"checkpoint": str(models / "plim/best")},
        "ve": {"checkpoint": str(models / "ve")},
        "vg": {"checkpoint": str(models / "vg")},
        **changes,
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


RUN_MODELS = (
    ("plim", "plim/best", "text:plim.json:{"),
    ("plim", "plim/best", 'text:plim.json:{"config": []}'),
    ("plim", "plim/best", "truncate:model.pt"),
    ("plim", "plim/best", "empty"),
    ("ve", "ve", "text:ve.json:{"),
    ("ve", "ve", "text:ve.json:[]"),
    ("ve", "ve", 'text:ve.json:{"threshold": "high"}'),
    ("ve", "ve", 'text:ve.json:{"threshold": NaN}'),
    ("ve", "ve", "truncate:model.safetensors"),
    ("ve", "ve", "data"),
    ("vg", "vg", "truncate:model.safetensors"),
    ("vg", "vg", "text:config.json:{"),
    ("sam", "tiny/sam.pth", "garbage:."),
    ("sam", "tiny/sam.pth", "truncate:."),
    ("captions", "tiny/captioner", "truncate:model.safetensors"),
    ("captions", "tiny/captioner", "empty"),
    ("knowledge", "tiny/llm", "text:tokenizer.json:{"),
)


@pytest.mark.parametrize(("section", "source", "how"), RUN_MODELS)
def test_run_riveg_damaged_models(capsys, env, tmp_path, section, source, how):
    path, named = damage(env, source, how)
    spec = {
        "plim": {"checkpoint": str(path)},
        "ve": {"checkpoint": str(path)},
        "vg": {"checkpoint": str(path)},
        "sam": {"checkpoint": str(path), "model_type": "tiny"},
        "captions": {"captioner": f"transformers:{path}"},
        "knowledge": {"llm": f"transformers:{path}", "encoder": str(env["models"] / "tiny/encoder")},
    }[section]
    check(capsys, ["run", "riveg", "--config", run_file(env, tmp_path, **{section: spec})], named)


RUN_FILES = (
    "{",
    "a: [",
    "[]",
    "3",
    "dataset: smner\n",
    "\xff",
)


@pytest.mark.parametrize("content", RUN_FILES)
def test_run_riveg_broken_run_file(capsys, tmp_path, content):
    path = tmp_path / "run.yaml"
    path.write_text(content, encoding="latin-1")
    check(capsys, ["run", "riveg", "--config", path], path)


def test_run_riveg_missing_run_file(capsys, tmp_path):
    check(capsys, ["run", "riveg", "--config", tmp_path / "none.yaml"], tmp_path / "none.yaml")


@pytest.fixture(scope="module")
def finished_run(env, tmp_path_factory):
    """A finished run (replayed captions, PLIM, VE, VG) whose run folder the cases copy."""
    folder = tmp_path_factory.mktemp("finished")
    assert main(["run", "riveg", "--config", str(run_file(env, folder))]) == 0
    return folder / "run"


STAGE_EDITS = (  # the second line of mner.jsonl becomes this (ID: that tweet's id)
    b"[1, 2]",
    b"{}",
    b"garbage",
    b"\xff",
    b'{"id": "nope", "entities": []}',
    b'{"id": "ID", "entities": [{"start": "0"}]}',
    b'{"id": "ID", "entities": 3}',
)


@pytest.mark.parametrize("content", STAGE_EDITS)
def test_run_riveg_edited_stage_file(capsys, env, finished_run, tmp_path, content):
    """A stage's output edited after the run: the next stage reads it and names it (delete it to rerun)."""
    shutil.copytree(finished_run, tmp_path / "run")
    path = run_file(env, tmp_path)
    mner = tmp_path / "run" / "shard-0-of-1" / "mner.jsonl"  # the stage files (run/ holds joined copies)
    lines = mner.read_bytes().splitlines()
    lines[1] = content.replace(b"ID", json.loads(lines[1])["id"].encode())
    mner.write_bytes(b"\n".join(lines) + b"\n")
    check(capsys, ["run", "riveg", "--config", path], mner)


# --- importers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "empty", "garbage"])
@pytest.mark.parametrize("fmt", ["riveg", "hindex"])
def test_import_sources(capsys, env, tmp_path, fmt, how):
    if how == "garbage":
        path = tmp_path / "source.txt"
        path.write_bytes(GARBAGE)
    else:
        path = damage(env, "", how)[0]
    option = "--lines" if fmt == "riveg" else "--predictions"
    argv = ["import", fmt, option, path, "--dataset", "smner", "--split", "test", "--data-dir", env["sample"]]
    check(capsys, [*argv, "-o", tmp_path / "x.jsonl"], path)


def test_cache_lines_cut_by_an_interruption_are_ignored_and_counted(tmp_path):
    """A cut line is the start of a record (even a multi-byte character cut in two): ignored, counted."""
    from smner_bench.baselines.providers.cache import AnswerCache

    path = tmp_path / "cache.jsonl"
    path.write_bytes(
        b'{"key": "a", "answer": "\xc3\xa9"}\n{"key": "b", "answer": "\xc3\n{"ke\n\n'
        b'{"key": "c", "answer": "d"}\n{"key": "e", "ans'
    )
    cache = AnswerCache(path)
    assert cache.answers == {"a": "é", "c": "d"} and cache.broken_lines == 3


@pytest.mark.parametrize("image", [GARBAGE, b"\xff\xd8\xff\xe0" + b"\x00" * 64, b""])
def test_masks_damaged_image(capsys, env, tmp_path, image):
    line = json.loads(env["gmner"].read_text())
    line["entities"] = [{"start": 0, "end": 1, "text": "x", "type": "PER", "box": [1, 1, 5, 5]}]
    predictions = tmp_path / "gmner.jsonl"
    predictions.write_text(json.dumps(line) + "\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / f"{line['id']}.jpg").write_bytes(image)
    argv = ["masks", "--predictions", predictions, "--images", tmp_path / "images", "--sam-checkpoint"]
    argv += [env["models"] / "tiny/sam.pth", "--model-type", "tiny", "-o", tmp_path / "s.jsonl"]
    check(capsys, argv, tmp_path / "images" / f"{line['id']}.jpg")


HEAVY = ("torch", "transformers", "datasets", "pandas", "pyarrow", "PIL", "numpy", "yaml", "accelerate")
HEAVY += ("segment_anything",)


def test_registering_the_commands_imports_no_heavy_module():
    """Adding every command's options (what each ``smner-bench CMD --help`` does) imports no model, data frame or
    image library: those are imported by the command that runs."""
    import subprocess
    import sys

    code = (
        "import sys; from smner_bench.cli import build_parser; build_parser('*'); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_plim_train_options_are_the_config_fields(capsys):
    from smner_bench.baselines.commands.plim import CONFIG_ONLY
    from smner_bench.baselines.plim.config import PlimConfig

    with pytest.raises(SystemExit):
        main(["baseline", "plim-train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, field in PlimConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        assert (flag in text) == (name not in CONFIG_ONLY or name == "mixed_precision"), name
        if name not in CONFIG_ONLY and field.description:
            assert " ".join(field.description.split()) in text, name
    # a value the config refuses is a usage error that names the option
    assert main(["baseline", "plim-train", "--encoder", "e", "--data-dir", "d", "--out", "o", "--max-length", "8"]) == 2
    assert "--max-length: Input should be greater than or equal to 16 (or give --config)" in capsys.readouterr().err
