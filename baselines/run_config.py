"""The run file of ``smner-bench run riveg --config run.yaml``: which split, which models, where outputs go.

Relative paths are read from the folder of the run file. Optional stages (``knowledge``, ``expansion``, ``sam``)
are left out by omitting their section: without ``expansion`` the expression is ``"Entity (TYPE)"``, without
``sam`` the run ends with the GMNER submission. Example (what ``smner-bench baseline tiny-models`` writes)::

    dataset: smner
    data_dir: sample
    split: test
    images: sample/images
    out: riveg
    captions: {captioner: "transformers:tiny/captioner"}     # or "replay:FILE[,FILE...]"
    knowledge: {llm: "transformers:tiny/llm", encoder: tiny/encoder, top_n: 5}
    plim: {checkpoint: plim/best}
    expansion: {llm: "transformers:tiny/llm"}
    ve: {checkpoint: ve}
    vg: {checkpoint: vg}
    sam: {checkpoint: tiny/sam.pth, model_type: tiny}

``dtype`` (fp32 | bf16 | fp16, default fp32) is the precision of every model the run loads (see
``baselines/dtype.py``); ``captions.prompt`` is the text an InstructBLIP-style captioner is given with each image;
``knowledge.concurrency`` / ``knowledge.device_map`` and ``expansion.concurrency`` / ``expansion.device_map`` are
the stage's LLM requests in flight (HTTP backend) and device placement (transformers backend, e.g. ``auto``).

Every field is checked before anything runs; a problem names the run file, the line of the field and the field:
a key written twice (:func:`~smner_bench.benchmark.io.parse_yaml`), an unknown field, a number that is not finite
or out of its range (a ``true`` is no number), a device that is not ``cpu``, ``cuda``, ``cuda:N`` or ``mps``
(:func:`load_run_config`, exit 1). Whether the device is on this machine, the paths are there and the output
folder is apart from every input is checked by the runner before its first stage (exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError, first_problem
from smner_bench.benchmark.io import parse_yaml
from smner_bench.benchmark.registry import DATASETS, canonical_split

from .choices import SAM_MODEL_TYPES
from .config import Device

BATCH = 1 << 16  # the most items of a batch
TOKENS = 1 << 20  # the most new tokens of a generation


class Section(BaseModel):
    # strict: a YAML ``true`` is no batch size, ``8.5`` no count; numbers are finite
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class CaptionsStage(Section):
    captioner: str = Field(description="transformers:PATH (a BLIP-2-style model) or replay:FILE[,FILE...]")
    batch_size: int = Field(8, ge=1, le=BATCH)
    max_new_tokens: int = Field(40, ge=1, le=TOKENS)
    prompt: str | None = Field(None, description="text given with each image (InstructBLIP-style captioners)")
    describer: str | None = Field(
        None, description="detailed descriptions for expansion (the paper's mPLUG-Owl): transformers:PATH | replay:"
    )
    describer_prompt: str | None = None
    describer_max_new_tokens: int = Field(256, ge=1, le=TOKENS)


class KnowledgeStage(Section):
    llm: str = Field(description="transformers:PATH | openai:MODEL@URL | replay:RELEASE")
    encoder: str | None = Field(None, description="MSEA encoder (needed with in-context examples)")
    manual: list[str] = Field(default_factory=list, description="manual annotation folders")
    manual_data: list[str] = Field(default_factory=list, description="CONFIG:FOLDER whose tweets they annotate")
    manual_captions: list[str] = Field(
        default_factory=list, description="caption files/folders of the annotated tweets (e.g. BLIP2_15.txt)"
    )
    top_n: int = Field(5, ge=0, le=1000)
    batch_size: int = Field(8, ge=1, le=BATCH)
    max_new_tokens: int = Field(256, ge=1, le=TOKENS)
    concurrency: int = Field(4, ge=1, le=256, description="HTTP backend: requests in flight")
    device_map: str | None = Field(None, description="transformers backend: e.g. auto (needs accelerate)")

    @field_validator("manual_data")
    @classmethod
    def _manual_data(cls, value: list[str]) -> list[str]:
        for spec in value:
            config, sep, folder = spec.partition(":")
            if not sep or not folder or config not in DATASETS:
                raise ValueError(f"{spec[:80]!r}: expected CONFIG:FOLDER, CONFIG one of {', '.join(DATASETS)}")
        return value


class PlimStage(Section):
    checkpoint: str
    batch_size: int = Field(64, ge=1, le=BATCH)


class ExpansionStage(Section):
    llm: str
    prompt_file: str | None = Field(None, description="a template with {entity} {type} {text} {description}")
    batch_size: int = Field(8, ge=1, le=BATCH)
    max_new_tokens: int = Field(64, ge=1, le=TOKENS)
    concurrency: int = Field(4, ge=1, le=256, description="HTTP backend: requests in flight")
    device_map: str | None = Field(None, description="transformers backend: e.g. auto (needs accelerate)")


class VEStage(Section):
    checkpoint: str
    threshold: float | None = Field(
        None, ge=0, le=1, description="P(match) from which an entity is grounded; default: the one chosen on dev"
    )
    caption: bool | None = Field(None, description='"caption. expression" as the text; default: as trained')


class VGStage(Section):
    checkpoint: str


class SamStage(Section):
    checkpoint: str
    model_type: Literal[SAM_MODEL_TYPES] = "vit_h"  # type: ignore[valid-type]
    multimask: bool = False


class RunConfig(Section):
    dataset: str
    data_dir: str
    split: str
    images: str
    out: str
    device: Device = Field("cpu", description="cpu, cuda (cuda:$LOCAL_RANK under a launcher), cuda:N or mps")
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    workers: int = Field(0, ge=0, le=64)  # DataLoader processes decoding images ahead in VE, VG, SAM (not in keys)
    captions: CaptionsStage
    knowledge: KnowledgeStage | None = None
    plim: PlimStage
    expansion: ExpansionStage | None = None
    ve: VEStage
    vg: VGStage
    sam: SamStage | None = None

    _source: str | None = PrivateAttr(None)  # the run file
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)  # the line of each field in it

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        if value not in DATASETS:
            raise ValueError(f"{value[:40]!r}: expected one of {', '.join(DATASETS)}")
        return value

    @field_validator("split")
    @classmethod
    def _split(cls, value: str) -> str:
        try:
            canonical_split(value)
        except UsageError as exc:
            raise ValueError(exc.message) from None
        return value

    @property
    def source(self) -> str | None:
        """The run file this configuration was read from (None: made in Python)."""
        return self._source

    def where(self, field: str) -> dict:
        """``file``, ``line`` and ``field`` of an error about ``field`` (dotted: ``ve.checkpoint``)."""
        return {"file": self._source, "line": _line_of(self._lines, field), "field": field}


def _resolve(value: str, base: Path) -> str:
    """A path relative to the run file's folder; ``kind:PATH`` specs keep their kind (URLs are left alone)."""
    kind, sep, rest = value.partition(":")
    if sep and kind in ("transformers", "replay"):
        return f"{kind}:" + ",".join(_resolve(p, base) for p in rest.split(","))
    if sep and kind == "openai":
        return value
    if not value.strip():  # never the run file's own folder: the runner names the empty path
        return value
    return str(base / value) if not Path(value).is_absolute() else value


PATH_FIELDS = {
    None: ("data_dir", "images", "out"),
    "captions": ("captioner", "describer"),
    "knowledge": ("llm", "encoder"),
    "plim": ("checkpoint",),
    "expansion": ("llm", "prompt_file"),
    "ve": ("checkpoint",),
    "vg": ("checkpoint",),
    "sam": ("checkpoint",),
}


def field_lines(text: str) -> dict[str, int]:
    """``{dotted field: line}`` of every key of a YAML text (list items as ``field.0``), for error messages; ``{}``
    for a text that is not YAML (its error is reported by the parser)."""
    import yaml

    lines: dict[str, int] = {}
    seen: set[int] = set()  # an alias is walked once (a YAML "billion laughs" stays a few nodes)

    def walk(node, prefix: str, depth: int) -> None:
        if depth > 8 or id(node) in seen or len(lines) > 10_000:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    name = f"{prefix}{key.value}"
                    lines.setdefault(name, key.start_mark.line + 1)
                    walk(value, name + ".", depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault(f"{prefix}{i}", item.start_mark.line + 1)
                walk(item, f"{prefix}{i}.", depth + 1)

    try:
        walk(yaml.compose(text, Loader=yaml.SafeLoader), "", 0)
    except (yaml.YAMLError, RecursionError):
        return {}
    return lines


def _line_of(lines: dict[str, int], field: str) -> int | None:
    """The line of ``field``, else of the nearest section above it (a missing field: its section's line)."""
    parts = field.split(".")
    while parts:
        found = lines.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return None


def load_run_config(path: str | os.PathLike) -> RunConfig:
    """Read and check a run file; every problem is reported with the file, the line and the field (exit 1)."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("run file not found", file=path)
    data = path.read_bytes()
    raw = parse_yaml(data, file=path)
    if not isinstance(raw, dict):
        raise DataFormatError("expected a mapping of settings", file=path)
    lines = field_lines(data.decode("utf-8"))
    base = path.resolve().parent
    for section, names in PATH_FIELDS.items():
        target = raw if section is None else raw.get(section)
        if isinstance(target, dict):
            for name in names:
                if isinstance(target.get(name), str):
                    target[name] = _resolve(target[name], base)
    knowledge = raw.get("knowledge")
    if isinstance(knowledge, dict):
        for name in ("manual", "manual_captions"):
            if isinstance(knowledge.get(name), list):
                knowledge[name] = [_resolve(v, base) if isinstance(v, str) else v for v in knowledge[name]]
        if isinstance(knowledge.get("manual_data"), list):  # CONFIG:FOLDER
            knowledge["manual_data"] = [
                f"{v.partition(':')[0]}:{_resolve(v.partition(':')[2], base)}" if isinstance(v, str) and ":" in v else v
                for v in knowledge["manual_data"]
            ]
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        field, message = first_problem(exc)
        raise DataFormatError(message, file=path, line=_line_of(lines, field or ""), field=field) from None
    cfg._source, cfg._lines = str(path), lines
    return cfg
