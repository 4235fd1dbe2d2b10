"""Loading models, checkpoints and their metadata with a clear error instead of a transformers or torch traceback.

Every model folder, weights file and metadata JSON the baselines read goes through this module:

- :func:`from_pretrained`: ``cls.from_pretrained(path)``; a missing path is exit 2, a file or a folder that
  holds no model (no ``config.json``: a data folder, an empty folder) is exit 2, a damaged file in a model folder
  (JSON that does not parse, a truncated safetensors or torch file, a config field of the wrong type) is exit 1
  with that file named, a model folder of another kind is exit 1.
- :func:`check_model_files`: the cheap check behind it (JSON parses, safetensors headers cover their files,
  torch files are readable archives), also run on every model of a run before its first stage.
- :func:`load_torch_weights` / :func:`load_state`: a ``torch.save`` state dict (PLIM's ``model.pt``, the caption
  VE's, a SAM checkpoint) read with ``weights_only=True``, and put into its module.
- :func:`read_metadata`: a metadata JSON (``plim.json``, ``ve.json``...) checked against a pydantic model.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ValidationError

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError, first_problem
from smner_bench.benchmark.io import parse_json
from smner_bench.benchmark.progress import library_bars_off

WEIGHT_SUFFIXES = (".bin", ".pt", ".pth")
MAX_DETAIL = 200


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:MAX_DETAIL] if text else type(exc).__name__


def _article(what: str) -> str:
    first = what.split()[0] if what.split() else what
    vowel = what[:1].lower() in "aeio" or (first.isupper() and first[:1] in "AEFHILMNORSX")
    return "an" if vowel else "a"


def file_problem(path: Path) -> str | None:
    """What is wrong with one file of a model folder, judged from its kind (``.json``, ``.safetensors``, torch
    ``.bin``/``.pt``/``.pth``) and reading headers only; None when nothing is seen (other kinds are not read)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            try:
                json.loads(path.read_bytes().decode("utf-8"))
            except UnicodeDecodeError:
                return "not UTF-8 text: a damaged JSON file"
            except json.JSONDecodeError as exc:
                return f"not valid JSON (line {exc.lineno}: {exc.msg})"
            except RecursionError:
                return "not valid JSON (nested too deeply)"
        elif suffix in (".txt", ".jinja"):  # vocab.txt, merges.txt, chat_template.jinja
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"not UTF-8 text (byte {exc.start}): a damaged file"
        elif suffix == ".safetensors":
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(str(path), framework="pt") as f:
                    f.keys()
            except SafetensorError as exc:
                return f"not a readable safetensors file, truncated or damaged ({_first_line(exc)})"
        elif suffix in WEIGHT_SUFFIXES:
            with open(path, "rb") as f:
                head = f.read(2)
            if head == b"PK":  # torch >= 1.6 saves a zip archive
                try:
                    zipfile.ZipFile(path).close()
                except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
                    return f"a truncated or damaged torch archive ({_first_line(exc)})"
            elif not head.startswith(b"\x80"):  # nor the legacy format (a pickle)
                return "not a torch weights file (neither a torch archive nor a pickle)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or _first_line(exc)})"
    return None


def check_model_files(path: str | os.PathLike, what: str = "model") -> None:
    """Refuse a model file, or a model folder with a damaged file (the file named, exit 1): see
    :func:`file_problem`. A missing path is exit 2. Only the folder's own files are read, headers only (JSON
    files whole)."""
    p = Path(path)
    if not p.exists():
        raise MissingDataError(f"{what} not found", file=p)
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    for f in files:
        problem = file_problem(f)
        if problem:
            raise DataFormatError(problem, file=f)


def _strict_config_error() -> tuple[type[BaseException], ...]:
    try:  # a config.json field of the wrong type (transformers >= 5 validates configs)
        from huggingface_hub.errors import StrictDataclassError

        return (StrictDataclassError,)
    except ImportError:  # pragma: no cover - older huggingface_hub
        return ()


# checkpoint weights a load leaves out on purpose: the pooler, with add_pooling_layer=False (it is not used)
DROPPED_ON_PURPOSE = {"add_pooling_layer": ("pooler.",)}
LOAD_REPORT_LOGGER = "transformers.modeling_utils"


class _HeldReports(logging.Filter):
    """Holds back transformers' LOAD REPORT warnings (a table of missing/unexpected weights) until the load's
    own record says whether they hold anything but what was dropped on purpose."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if "LOAD REPORT" in str(record.msg):
            self.held.append(record)
            return False
        return True


@contextmanager
def _expected_load_report(kwargs: dict) -> Iterator[dict]:
    """Around a ``from_pretrained`` that leaves weights out on purpose (:data:`DROPPED_ON_PURPOSE`): yields the
    extra keywords (``output_loading_info``; the caller puts the returned info under ``"info"``), and drops the
    LOAD REPORT when it lists only those weights as unexpected (nothing missing, nothing of another size); any
    other report is logged as transformers would have."""
    prefixes = tuple(p for arg, found in DROPPED_ON_PURPOSE.items() if kwargs.get(arg) is False for p in found)
    if not prefixes:
        yield {}
        return
    logger, held = logging.getLogger(LOAD_REPORT_LOGGER), _HeldReports()
    extra: dict = {"output_loading_info": True}
    logger.addFilter(held)
    try:
        yield extra
    finally:
        logger.removeFilter(held)
        info = extra.get("info")
        expected_only = (
            isinstance(info, dict)
            and not info.get("missing_keys")
            and not info.get("mismatched_keys")
            and all(str(k).startswith(prefixes) for k in info.get("unexpected_keys") or ())
        )
        if not expected_only:
            for record in held.held:
                logger.handle(record)


def from_pretrained(cls, path: str | os.PathLike, what: str, **kwargs):
    """``cls.from_pretrained(path)`` (a local folder, or a hub name where a hub is reachable), with the problem
    named when it fails: see the module's docstring. Errors that are no file's fault (out of memory, a device
    error) are raised as they are."""
    import torch
    from safetensors import SafetensorError

    expected = (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        EOFError,
        pickle.UnpicklingError,
        SafetensorError,
        RuntimeError,
        *_strict_config_error(),
    )
    try:
        with library_bars_off(), _expected_load_report(kwargs) as extra:
            loaded = cls.from_pretrained(str(path), **kwargs, **extra)
            if extra:
                loaded, extra["info"] = loaded
        return loaded
    except expected as exc:
        if isinstance(exc, torch.OutOfMemoryError):
            raise
        first = _first_line(exc)
        p = Path(path)
        if not p.exists():
            raise MissingDataError(
                f"{what} not found: no such folder, and no model of that name ({first})", file=path
            ) from None
        if not p.is_dir():
            raise UsageError(f"a file, not {_article(what)} {what} folder", file=path) from None
        check_model_files(p, what)  # a damaged file: named
        if isinstance(exc, _strict_config_error()):
            raise DataFormatError(f"a setting of the wrong type ({first})", file=p / "config.json") from None
        if not (p / "config.json").is_file():
            raise UsageError(
                f"not {_article(what)} {what} folder: no config.json (a folder saved with save_pretrained is "
                f"expected) ({first})",
                file=path,
            ) from None
        if isinstance(exc, RuntimeError) and not any(
            s in str(exc) for s in ("state_dict", "size mismatch", "PytorchStreamReader")
        ):
            raise  # not a file's fault: a device or a library problem
        raise DataFormatError(f"not {_article(what)} {what} folder ({first})", file=path) from None


def _torch_problem(exc: BaseException) -> str:
    if isinstance(exc, pickle.UnpicklingError):
        return "not a torch state dict (not a file written by torch.save, or a damaged one)"
    if isinstance(exc, EOFError):
        return "an empty or truncated file"
    if "zip archive" in str(exc) or "central directory" in str(exc):
        return "a truncated or damaged torch archive"
    return _first_line(exc)


def load_torch_weights(path: str | os.PathLike, what: str) -> dict:
    """A state dict (parameter names -> tensors) written by ``torch.save``, read on the CPU with
    ``weights_only=True``: a missing file is exit 2, anything else than such a state dict exit 1 (``what``: e.g.
    ``"a PLIM model.pt"``; the message reads "not <what> (...)")."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{what} not found" if not path.exists() else f"{what}: not a file", file=path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"not {what} ({_torch_problem(exc)})", file=path) from None
    except OSError as exc:
        raise MissingDataError(f"cannot read {what} ({exc.strerror or _first_line(exc)})", file=path) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise DataFormatError(f"not {what} (expected a state dict: parameter names -> tensors)", file=path)
    return state


def load_state(module, state: dict, path: str | os.PathLike, what: str):
    """``module.load_state_dict(state)``; weights of another architecture or size are exit 1, the file named."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:  # missing/unexpected keys, size mismatches
        raise DataFormatError(f"not {what}: the weights of another model ({_first_line(exc)})", file=path) from None
    return module


def read_text_file(path: str | os.PathLike, what: str) -> str:
    """A UTF-8 text file's content; missing is exit 2, not UTF-8 exit 1 (the line named)."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{what} not found", file=path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(f"not UTF-8 text ({what})", file=path, line=line) from None


def read_json_file(path: str | os.PathLike, what: str):
    """A JSON file's value; missing is exit 2, not UTF-8 JSON exit 1 (the line named)."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{what} not found", file=path)
    try:
        return parse_json(path.read_bytes().decode("utf-8"), file=path, problem=f"{what}: not JSON")
    except UnicodeDecodeError:
        raise DataFormatError(f"{what}: not UTF-8 text", file=path) from None
    except OSError as exc:
        raise MissingDataError(f"cannot read {what} ({exc.strerror or _first_line(exc)})", file=path) from None


def read_metadata(path: str | os.PathLike, model: type[BaseModel], what: str) -> BaseModel:
    """A metadata JSON file checked against ``model``: the first problem is exit 1 with its field."""
    raw = read_json_file(path, what)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        field, message = first_problem(exc)
        raise DataFormatError(f"{message} ({what})", file=path, field=field) from None
