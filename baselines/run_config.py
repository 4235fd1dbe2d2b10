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
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smner_bench.benchmark.errors import DataFormatError, MissingDataError
from smner_bench.benchmark.registry import DATASETS

from .choices import SAM_MODEL_TYPES


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaptionsStage(Section):
    captioner: str = Field(description="transformers:PATH (a BLIP-2-style model) or replay:FILE[,FILE...]")
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(40, ge=1)
    prompt: str | None = Field(None, description="text given with each image (InstructBLIP-style captioners)")
    describer: str | None = Field(
        None, description="detailed descriptions for expansion (the paper's mPLUG-Owl): transformers:PATH | replay:"
    )
    describer_prompt: str | None = None
    describer_max_new_tokens: int = Field(256, ge=1)


class KnowledgeStage(Section):
    llm: str = Field(description="transformers:PATH | openai:MODEL@URL | replay:RELEASE")
    encoder: str | None = Field(None, description="MSEA encoder (needed with in-context examples)")
    manual: list[str] = Field(default_factory=list, description="manual annotation folders")
    manual_data: list[str] = Field(default_factory=list, description="CONFIG:FOLDER whose tweets they annotate")
    manual_captions: list[str] = Field(
        default_factory=list, description="caption files/folders of the annotated tweets (e.g. BLIP2_15.txt)"
    )
    top_n: int = Field(5, ge=0)
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(256, ge=1)
    concurrency: int = Field(4, ge=1, le=256, description="HTTP backend: requests in flight")
    device_map: str | None = Field(None, description="transformers backend: e.g. auto (needs accelerate)")

    def model_post_init(self, _context) -> None:
        for spec in self.manual_data:
            config, sep, folder = spec.partition(":")
            if not sep or not folder or config not in DATASETS:
                raise ValueError(
                    f"manual_data {spec[:80]!r}: expected CONFIG:FOLDER, CONFIG one of {', '.join(DATASETS)}"
                )


class PlimStage(Section):
    checkpoint: str
    batch_size: int = Field(64, ge=1)


class ExpansionStage(Section):
    llm: str
    prompt_file: str | None = Field(None, description="a template with {entity} {type} {text} {description}")
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(64, ge=1)
    concurrency: int = Field(4, ge=1, le=256, description="HTTP backend: requests in flight")
    device_map: str | None = Field(None, description="transformers backend: e.g. auto (needs accelerate)")


class VEStage(Section):
    checkpoint: str
    threshold: float | None = Field(None, description="default: the one chosen on dev (ve.json)")
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
    device: str = "cpu"
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    workers: int = Field(0, ge=0, le=64)  # DataLoader processes decoding images ahead in VE, VG, SAM (not in keys)
    captions: CaptionsStage
    knowledge: KnowledgeStage | None = None
    plim: PlimStage
    expansion: ExpansionStage | None = None
    ve: VEStage
    vg: VGStage
    sam: SamStage | None = None

    def model_post_init(self, _context) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset {self.dataset!r}: expected one of {', '.join(DATASETS)}")


def _resolve(value: str, base: Path) -> str:
    """A path relative to the run file's folder; ``kind:PATH`` specs keep their kind (URLs are left alone)."""
    kind, sep, rest = value.partition(":")
    if sep and kind in ("transformers", "replay"):
        return f"{kind}:" + ",".join(_resolve(p, base) for p in rest.split(","))
    if sep and kind == "openai":
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


def load_run_config(path: str | os.PathLike) -> RunConfig:
    """Read and check a run file; every problem is reported with the file and the field."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MissingDataError("run file not found", file=path)
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text (byte {exc.start})", file=path) from None
    except RecursionError:
        raise DataFormatError("not YAML (nested too deeply)", file=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataFormatError(
            f"not YAML ({getattr(exc, 'problem', exc)})", file=path, line=mark.line + 1 if mark else None
        ) from None
    if not isinstance(raw, dict):
        raise DataFormatError("expected a mapping of settings", file=path)
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
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise DataFormatError(err["msg"] + more, file=path, field=".".join(map(str, err["loc"]))) from None
