"""An export folder (``smner-bench prepare --out``) read as data, never as a source of paths.

Its README card's front matter (the YAML between the first two ``---`` lines) is parsed strictly
(:func:`~smner_bench.benchmark.io.parse_yaml`: a broken front matter is a
:class:`~smner_bench.benchmark.errors.DataFormatError` naming the README and the line, exit 1); every config name it
lists must be a config of the registry, and every data file it names must be ``<config>/<split>-*.parquet``, the
one layout an export has, so that no name read from a card ever leads out of the folder. The folder holds only
plain files and folders: a symbolic link (or a FIFO, a socket...) anywhere in it is refused, never followed.
Read by the export when it updates a folder (``loaders/export.py``) and by the scorer's ``--gold`` (``gold.py``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from .errors import DataFormatError, MissingDataError, UsageError
from .io import parse_yaml
from .registry import DATASET_NAMES, SPLITS

README = "README.md"


def data_files_path(config: str, split: str) -> str:
    """The ``data_files`` pattern of ``split`` of ``config`` in a card, relative to the export folder."""
    return f"{config}/{split}-*.parquet"


@dataclass
class Card:
    """What an export's README card lists: config name -> its splits, and config name -> its ``dataset_info``
    entry (features and split sizes, kept as data). Every name is a registry config, every split one of
    :data:`~smner_bench.benchmark.registry.SPLITS`."""

    readme: Path
    splits: dict[str, tuple[str, ...]] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)

    def configs_entries(self) -> list[dict[str, Any]]:
        """The front matter's ``configs:`` list, written anew from the checked names."""
        return [
            {"config_name": name, "data_files": [{"split": s, "path": data_files_path(name, s)} for s in splits]}
            for name, splits in self.splits.items()
        ]

    def split_files(self, config: str, split: str) -> list[Path]:
        """The Parquet files of ``split`` of ``config`` (a :class:`UsageError` when the card does not list them)."""
        folder = self.readme.parent
        if config not in self.splits:
            held = ", ".join(self.splits) or "none"
            raise UsageError(f"the export does not hold the config {config!r} (its card lists: {held})", file=folder)
        if split not in self.splits[config]:
            held = ", ".join(self.splits[config]) or "none"
            raise UsageError(f"the export's {config} has no {split} split (its card lists: {held})", file=folder)
        files = sorted((folder / config).glob(f"{split}-*.parquet"))
        if not files:
            raise MissingDataError(f"no {data_files_path(config, split)} file, which its card lists", file=folder)
        return files


def read_card(folder: str | os.PathLike) -> Card:
    """The checked card of the export ``folder`` (an empty :class:`Card` when it has no README.md yet), after
    :func:`refuse_links` on the whole folder."""
    folder = Path(folder)
    refuse_links(folder)
    readme = folder / README
    if not os.path.lexists(readme):
        return Card(readme)
    meta, root = front_matter(readme)
    card = Card(readme)
    for key in ("configs", "dataset_info"):
        entries = meta.get(key, [])
        if not isinstance(entries, list):
            _bad(readme, root, [key], f"{key}: a list expected, found {type(entries).__name__}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                _bad(readme, root, [key, i], f"{key}[{i}]: a mapping expected, found {type(entry).__name__}")
            name = entry.get("config_name")
            if name not in DATASET_NAMES:  # never a path: only the registry's own names go on
                known = ", ".join(DATASET_NAMES)
                _bad(readme, root, [key, i, "config_name"], f"{key}[{i}].config_name: {name!r} is no config ({known})")
            if name in (card.splits if key == "configs" else card.info):
                _bad(readme, root, [key, i, "config_name"], f"{key}[{i}].config_name: {name!r} is listed twice")
            if key == "configs":
                card.splits[name] = _splits(readme, root, i, name, entry.get("data_files"))
            else:
                card.info[name] = entry
    return card


def _splits(readme: Path, root: Any, i: int, name: str, files: Any) -> tuple[str, ...]:
    where = f"configs[{i}].data_files"
    if not isinstance(files, list):
        _bad(readme, root, ["configs", i, "data_files"], f"{where}: a list expected, found {type(files).__name__}")
    splits: list[str] = []
    for j, item in enumerate(files):
        split = item.get("split") if isinstance(item, dict) else None
        path = item.get("path") if isinstance(item, dict) else None
        if split not in SPLITS or split in splits or path != data_files_path(name, str(split)):
            _bad(
                readme,
                root,
                ["configs", i, "data_files", j, "split" if split not in SPLITS or split in splits else "path"],
                f"{where}[{j}]: {{split: {split!r}, path: {path!r}}}: expected each of {', '.join(SPLITS)} at most "
                f"once, with the path {data_files_path(name, '<split>')} (its config's own folder)",
            )
        splits.append(split)
    return tuple(splits)


def front_matter(readme: Path) -> tuple[dict[str, Any], Any]:
    """The README's front matter as a mapping ({} when it has none) and its YAML node tree (for line numbers);
    a :class:`DataFormatError` naming the README and the line when it is not a closed, valid YAML mapping."""
    try:
        text = readme.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"the card is not UTF-8 text (byte {exc.start})", file=readme) from None
    except OSError as exc:
        raise DataFormatError(f"cannot read the card: {exc.strerror or exc}", file=readme) from None
    lines = text.split("\n")
    if lines[0].rstrip("\r") != "---":
        return {}, None
    end = next((n for n, line in enumerate(lines[1:], start=1) if line.rstrip("\r") == "---"), None)
    if end is None:
        raise DataFormatError("the front matter opened here is never closed (a line '---' after it expected)",
                              file=readme, line=1)  # fmt: skip
    yaml_text = "\n".join(["", *lines[1:end]])  # the '---' line left empty: YAML's line numbers are the README's
    meta = parse_yaml(yaml_text, file=readme, problem="the front matter is not YAML")
    if meta is None:
        return {}, None
    if not isinstance(meta, dict):
        raise DataFormatError(f"the front matter is a {type(meta).__name__}, not a mapping", file=readme, line=2)
    import yaml

    return meta, yaml.compose(yaml_text, Loader=yaml.SafeLoader)


def _bad(readme: Path, root: Any, keys: list[Any], message: str) -> NoReturn:
    raise DataFormatError(message, file=readme, line=_line(root, keys))


def _line(node: Any, keys: list[Any]) -> int | None:
    """The README line of the value at ``keys`` in the composed front matter (of the nearest one found)."""
    import yaml

    line = None
    for key in keys:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else line


def refuse_links(folder: Path) -> None:
    """A :class:`DataFormatError` for the first entry of ``folder`` (at any depth) that is not a plain file or
    folder: an export holds only the files it wrote, and a link in it is never followed (its target would be
    read, copied into a new export or scored as gold)."""
    todo = [folder]
    while todo:
        current = todo.pop()
        try:
            with os.scandir(current) as found:
                entries = sorted((e.path, e.stat(follow_symlinks=False).st_mode) for e in found)
        except OSError as exc:
            raise DataFormatError(f"cannot read the export folder: {exc.strerror or exc}", file=current) from None
        for path, mode in entries:
            if stat.S_ISLNK(mode):
                raise DataFormatError(
                    f"a symbolic link (to {os.readlink(path)}) inside the export folder: refused, never followed "
                    "(an export holds only the files smner-bench wrote; remove it)",
                    file=path,
                )
            if stat.S_ISDIR(mode):
                todo.append(Path(path))
            elif not stat.S_ISREG(mode):
                raise DataFormatError("not a regular file (a FIFO, socket, device) inside the export folder", file=path)
