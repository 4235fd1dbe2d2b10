"""The safe-output rules (benchmark/safe_output.py), one by one: what is written, what is refused, what is never
touched."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from smner_bench.benchmark.safe_output import (
    MARKER,
    OutputError,
    append_file,
    atomic_folder,
    check_folder,
    owned_folder,
    recorded_command,
    write_bytes,
    write_json,
    write_text,
)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def listing(folder) -> dict[str, bytes | None]:
    """Every entry under ``folder`` with its bytes (None for folders and special files)."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(root, name)
            regular = os.path.isfile(p) and not os.path.islink(p)
            found[os.path.relpath(p, folder)] = Path(p).read_bytes() if regular else None
    return found


@pytest.fixture
def umask_077():
    old = os.umask(0o077)
    yield
    os.umask(old)


# --- files --------------------------------------------------------------------------------------------------


def test_new_file_is_0644_even_with_a_strict_umask(tmp_path, umask_077):
    written = write_text(tmp_path / "r.txt", "hello")
    assert written == (tmp_path / "r.txt").resolve()
    assert (tmp_path / "r.txt").read_text() == "hello" and mode(tmp_path / "r.txt") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]  # no temporary file left


def test_existing_file_is_replaced_atomically(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    inode = target.stat().st_ino
    write_json(target, {"a": 1})
    assert target.read_text() == '{\n "a": 1\n}\n'
    assert target.stat().st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_symlink_is_written_through(tmp_path):
    real = tmp_path / "real" / "r.txt"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert write_text(link, "new") == real.resolve()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new" and link.read_text() == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["r.txt"]


def test_dangling_symlink_is_refused(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "nowhere" / "r.txt")
    with pytest.raises(OutputError, match="symbolic link that leads to no file") as err:
        write_text(link, "x")
    assert err.value.exit_code == 2
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


def test_fifo_is_refused_and_never_opened(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="not a regular file"):  # an open() would block here forever
        write_text(fifo, "x")
    with pytest.raises(OutputError, match="not a regular file"):
        append_file(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_character_device_is_refused():
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(OutputError, match="not a regular file"):
        write_text("/dev/null", "x")


def test_symlink_to_a_device_is_refused(tmp_path):
    (tmp_path / "null").symlink_to("/dev/null")
    with pytest.raises(OutputError, match="not a regular file"):
        write_bytes(tmp_path / "null", b"x")
    assert (tmp_path / "null").is_symlink()


def test_folder_target_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("keep")
    with pytest.raises(OutputError, match="it is a folder"):
        write_text(tmp_path / "d", "x")
    with pytest.raises(OutputError, match="it is a folder"):
        write_text(tmp_path / "d" / "..", "x")
    assert (tmp_path / "d" / "f").read_text() == "keep"


def test_an_input_file_is_refused(tmp_path):
    pred = tmp_path / "p.jsonl"
    pred.write_text("predictions")
    with pytest.raises(OutputError, match="an input of this command"):
        write_json(pred, {}, inputs=[str(pred)])
    with pytest.raises(OutputError, match="an input of this command"):  # the same file by another name
        write_json(tmp_path / "." / "p.jsonl", {}, inputs=[pred])
    assert pred.read_text() == "predictions"


def test_an_input_reached_through_a_symlink_or_a_hard_link_is_refused(tmp_path):
    pred = tmp_path / "p.jsonl"
    pred.write_text("predictions")
    (tmp_path / "soft.json").symlink_to(pred)
    os.link(pred, tmp_path / "hard.json")
    for target in ("soft.json", "hard.json"):
        with pytest.raises(OutputError, match="an input of this command"):
            write_json(tmp_path / target, {}, inputs=[pred])
    # and the input given through a link, the target by its own name
    with pytest.raises(OutputError, match="an input of this command"):
        write_json(pred, {}, inputs=[tmp_path / "soft.json"])
    assert pred.read_text() == "predictions" and (tmp_path / "soft.json").is_symlink()


def test_an_existing_file_inside_an_input_folder_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text("gold")
    with pytest.raises(OutputError, match=r"inside .*an input of this command"):
        write_text(data / "train.txt", "x", inputs=[data])
    assert (data / "train.txt").read_text() == "gold"
    write_text(data / "report.json", "{}", inputs=[data])  # a new file beside the inputs is fine
    assert (data / "report.json").read_text() == "{}"


def test_missing_parent_is_an_error_and_nothing_is_created(tmp_path):
    with pytest.raises(OutputError, match="does not exist \\(create it first\\)") as err:
        write_json(tmp_path / "missing" / "deeper" / "r.json", {})
    assert err.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        write_json(tmp_path / "file" / "r.json", {})


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "r.txt"
    target.write_text("old")

    def boom(*_a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OutputError, match="cannot write: No space left on device"):
        write_text(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


def test_append_file_appends_and_creates_0644(tmp_path, umask_077):
    cache = tmp_path / "cache.jsonl"
    with append_file(cache) as f:
        f.write("a\n")
    with append_file(cache) as f:
        f.write("b\n")
    assert cache.read_text() == "a\nb\n" and mode(cache) == 0o644
    with pytest.raises(OutputError, match="does not exist"):
        append_file(tmp_path / "no" / "cache.jsonl")
    with pytest.raises(OutputError, match="an input"):
        append_file(cache, inputs=[cache])


# --- folders ------------------------------------------------------------------------------------------------


def test_atomic_folder_creates_a_marked_0755_folder(tmp_path, umask_077):
    with atomic_folder(tmp_path / "site", "site") as tmp:
        (tmp / "index.html").write_text("<html>")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.txt").write_text("a")
    site = tmp_path / "site"
    assert (site / MARKER).read_text() == "site\n"
    assert mode(site) == 0o755 and mode(site / "sub") == 0o755
    assert mode(site / "index.html") == 0o644 and mode(site / "sub" / "a.txt") == 0o644 and mode(site / MARKER) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_owned_folder_creates_a_marked_0755_folder_and_reuses_it(tmp_path, umask_077):
    run = owned_folder(tmp_path / "run", "run")
    assert run == (tmp_path / "run").resolve() and mode(run) == 0o755
    assert (run / MARKER).read_text() == "run\n" and mode(run / MARKER) == 0o644
    (run / "captions.jsonl").write_text("kept")
    assert owned_folder(tmp_path / "run", "run") == run
    assert (run / "captions.jsonl").read_text() == "kept"


def test_owned_folder_made_by_another_process_meanwhile_is_reused(tmp_path, monkeypatch):
    """Ranks of one launch make the same run folder at once: the one whose rename loses finds the winner's
    folder, re-checks it (same kind) and goes on; no temporary folder is left behind."""
    from smner_bench.benchmark import safe_output

    real_rename, raced = os.rename, []

    def racing(src, dst):
        if not raced:
            raced.append(dst)
            owned_folder(tmp_path / "run", "run")  # the other rank wins
            (tmp_path / "run" / "shard-1-of-2").mkdir()
        return real_rename(src, dst)

    monkeypatch.setattr(safe_output.os, "rename", racing)
    assert owned_folder(tmp_path / "run", "run") == (tmp_path / "run").resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [MARKER, "shard-1-of-2"] and raced


def test_folder_whose_marker_is_being_written_is_not_called_foreign(tmp_path):
    """Another process is writing the marker (its temporary file is all the folder holds): not refused."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / f"{MARKER}.x1y2.tmp").write_text("ru")
    assert (owned_folder(tmp_path / "run", "run") / MARKER).read_text() == "run\n"


def _make_run_folder(args) -> str:
    folder, barrier = args
    barrier.wait()
    try:
        owned_folder(folder, "run")
        return "ok"
    except OutputError as exc:
        return str(exc)


def test_owned_folder_made_by_many_processes_at_once(tmp_path):
    """The torchrun case for real: 4 processes released together make the same folder, 25 times over."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Manager().Barrier(4)
    for round_ in range(25):
        folder = tmp_path / f"run{round_}"
        with ctx.Pool(4) as pool:
            got = pool.map(_make_run_folder, [(folder, barrier)] * 4)
        assert got == ["ok"] * 4, got
        assert sorted(p.name for p in folder.iterdir()) == [MARKER]
    assert len(list(tmp_path.iterdir())) == 25


def test_marked_folder_of_the_same_kind_is_replaced(tmp_path):
    with atomic_folder(tmp_path / "out", "export") as tmp:
        (tmp / "old.txt").write_text("old")
    with atomic_folder(tmp_path / "out", "export") as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MARKER, "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # neither the old folder nor a temporary one


def test_marked_folder_of_another_kind_is_refused(tmp_path):
    owned_folder(tmp_path / "out", "run")
    (tmp_path / "out" / "gmner.jsonl").write_text("results")
    before = listing(tmp_path)
    with (
        pytest.raises(OutputError, match="an smner-bench 'run' folder, not a 'site' folder"),
        atomic_folder(tmp_path / "out", "site"),
    ):
        pytest.fail("the body must not run")
    with pytest.raises(OutputError, match="not a 'export' folder"):
        owned_folder(tmp_path / "out", "export")
    assert listing(tmp_path) == before


def test_unmarked_non_empty_folder_is_refused_and_untouched(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "sub").mkdir()
    before = listing(tmp_path)
    for make in (lambda p: atomic_folder(p, "site").__enter__(), lambda p: owned_folder(p, "run")):
        with pytest.raises(OutputError, match="not empty and was not made by smner-bench") as err:
            make(mine)
        assert err.value.exit_code == 2
    monkeypatch.chdir(mine)  # the `--out .` case
    for make in (lambda p: atomic_folder(p, "site").__enter__(), lambda p: owned_folder(p, "run")):
        with pytest.raises(OutputError, match="not empty and was not made by smner-bench"):
            make(".")
    assert listing(tmp_path) == before


def test_current_folder_is_never_replaced_even_when_marked(tmp_path, monkeypatch):
    with atomic_folder(tmp_path / "site", "site") as tmp:
        (tmp / "index.html").write_text("x")
    monkeypatch.chdir(tmp_path / "site")
    with pytest.raises(OutputError, match="the current folder"), atomic_folder(".", "site"):
        pass
    (tmp_path / MARKER).write_text("site\n")
    with pytest.raises(OutputError, match="the current folder"):
        check_folder(tmp_path, "site")  # a (marked) folder above the current one
    assert check_folder(".", "site", replaced=False) == (tmp_path / "site").resolve()  # owned, not replaced: fine
    assert (tmp_path / "site" / "index.html").read_text() == "x"


def test_empty_folder_is_adopted(tmp_path):
    (tmp_path / "empty").mkdir()
    with atomic_folder(tmp_path / "empty", "export") as tmp:
        (tmp / "a").write_text("a")
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == [MARKER, "a"]
    (tmp_path / "empty2").mkdir()
    assert (owned_folder(tmp_path / "empty2", "run") / MARKER).is_file()


def test_legacy_folder_is_adopted_only_when_recognised(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "README.md").write_text("made by an earlier version")
    with pytest.raises(OutputError, match="not made by smner-bench"):
        check_folder(old, "export", legacy=lambda p: False)
    with atomic_folder(old, "export", legacy=lambda p: (p / "README.md").read_text().startswith("made by")) as tmp:
        (tmp / "README.md").write_text("new")
    assert (old / MARKER).read_text() == "export\n"


def test_folder_missing_parent_is_an_error_and_nothing_is_created(tmp_path):
    for make in (lambda p: atomic_folder(p, "site").__enter__(), lambda p: owned_folder(p, "run")):
        with pytest.raises(OutputError, match="does not exist"):
            make(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []


def test_folder_that_is_a_file_or_a_symlink_is_refused(tmp_path):
    (tmp_path / "f").write_text("keep")
    with pytest.raises(OutputError, match="not a folder"):
        owned_folder(tmp_path / "f", "run")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputError, match="symbolic link"):
        owned_folder(tmp_path / "link", "run")
    assert (tmp_path / "f").read_text() == "keep" and list((tmp_path / "real").iterdir()) == []


def test_folder_holding_an_input_or_inside_one_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text("gold")
    with pytest.raises(OutputError, match=r"it holds .*an input"):
        owned_folder(tmp_path, "run", inputs=[data / "train.txt"])
    owned_folder(data / "run", "run", inputs=[data])  # a new folder beside the inputs is fine
    with pytest.raises(OutputError, match=r"inside .*an input"):  # but not an existing one
        owned_folder(data / "run", "run", inputs=[data])
    assert (data / "train.txt").read_text() == "gold"


def test_interrupted_folder_write_leaves_the_old_content(tmp_path):
    with atomic_folder(tmp_path / "out", "export") as tmp:
        (tmp / "a.txt").write_text("old")
    before = listing(tmp_path)
    with pytest.raises(RuntimeError, match="crash"), atomic_folder(tmp_path / "out", "export") as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("crash")
    assert listing(tmp_path) == before
    with pytest.raises(KeyboardInterrupt), atomic_folder(tmp_path / "new", "export") as tmp:
        (tmp / "a.txt").write_text("half")
        raise KeyboardInterrupt
    assert listing(tmp_path) == before  # no new folder, no temporary one


# --- recorded commands ---------------------------------------------------------------------------------------


def test_recorded_command_hides_home_and_current_folder(tmp_path, monkeypatch):
    home = tmp_path / "home" / "alice"
    work = home / "work"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    got = recorded_command(
        [
            "baseline",
            "plim-train",
            "--encoder",
            str(home / "models" / "bert"),
            f"--data-dir={work / 'data'}",
            "--llm",
            f"transformers:{work / 'tiny' / 'llm'},{home / 'x'}",
            "--out",
            "/scratch/run 1",
            "openai:m@http://host:8000/v1",
        ]
    )
    assert got == (
        "smner-bench baseline plim-train --encoder ../models/bert --data-dir=data --llm transformers:tiny/llm,../x "
        "--out '/scratch/run 1' openai:m@http://host:8000/v1"
    )
    assert "alice" not in got and str(tmp_path) not in got
