"""The metadata files of the baselines' model folders, checked when a folder is loaded: ``plim.json`` (a PLIM
checkpoint), ``ve.json`` / ``vg.json`` (fine-tuned VE / VG models), ``caption_ve.json`` (a caption VE model).
Fields the code reads are typed; the rest (histories, dev figures, commands) is kept as written."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from .loading import read_metadata
from .plim.config import PlimConfig


class _Meta(BaseModel):
    model_config = ConfigDict(extra="allow")


class PlimMeta(_Meta):
    config: PlimConfig
    epoch: int | None = Field(None, ge=0)


class ExpressionSource(_Meta):
    llm: str | None = None


class FineTunedMeta(_Meta):
    """``vg.json`` (and the part of ``ve.json`` the VE and VG stages share)."""

    expressions: list[ExpressionSource] | None = None


class VEMeta(FineTunedMeta):
    threshold: FiniteFloat = 0.5
    caption: bool = False


class CaptionVEMeta(_Meta):
    threshold: FiniteFloat


def read_plim_meta(folder: str | os.PathLike) -> PlimMeta:
    return read_metadata(Path(folder) / "plim.json", PlimMeta, "PLIM checkpoint metadata")


def read_optional_meta(folder: str | os.PathLike | None, name: str, model: type[_Meta]) -> dict:
    """``<folder>/<name>`` checked against ``model``, as a plain dict (the fields written, no defaults
    added); ``{}`` when the folder has none (a base model, not fine-tuned here)."""
    if folder is None or not (Path(folder) / name).is_file():
        return {}
    return read_metadata(Path(folder) / name, model, "metadata of a fine-tuned model").model_dump(exclude_unset=True)
