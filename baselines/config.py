"""The one configuration idiom of the baselines: a pydantic model per trainer, stage and baseline, with named presets
where the paper fixes settings, read from Python, from a command's options or from a YAML file alike.

:class:`Config` is their base: unknown keys are refused, every number must be finite, :meth:`Config.load` reads a
YAML file (a key written twice refused with its line; every problem exit 1 naming the file and the field).
:class:`PresetConfig` adds ``preset``: a preset's values under the fields given, recorded with the run. Trainers
with presets: ``PlimConfig``, ``VeConfig``/``VgConfig`` (``training.TrainerConfig``); baselines and stages:
``KnowledgeConfig``, ``ExpandConfig``, ``CaptionVeConfig``, ``MllmConfig``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, first_problem, shown
from smner_bench.benchmark.io import parse_yaml

DEVICE_PATTERN = r"cpu|mps|cuda(:[0-9]{1,3})?"


def _device(value: str) -> str:
    if not re.fullmatch(DEVICE_PATTERN, value):
        raise ValueError(f"{shown(value)}: expected cpu, cuda, cuda:N or mps")
    return value


Device = Annotated[str, AfterValidator(_device)]
"""Where a model runs, as a config field: ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (whether this machine has it
is checked when the run starts)."""


class Config(BaseModel):
    """Unknown keys refused, every number finite, readable from YAML (:meth:`load`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @classmethod
    def load(cls, path: str | Path):
        """A config file (YAML, a key written twice refused with its line); every problem is exit 1 naming it."""
        path = Path(path)
        if not path.is_file():
            raise MissingDataError("config file not found", file=path)
        data = parse_yaml(path.read_bytes(), file=path)
        if not isinstance(data, dict):
            raise DataFormatError(f"expected a mapping of settings ({', '.join(list(cls.model_fields)[:3])}...)",
                                  file=path)  # fmt: skip
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            field, message = first_problem(exc)
            raise DataFormatError(message, file=path, field=field) from None


class PresetConfig(Config):
    """A :class:`Config` with named presets: ``preset`` puts the values of ``PRESETS[preset]`` under the fields
    given, and is recorded with the run."""

    PRESETS: ClassVar[dict[str, dict]] = {}

    preset: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _preset_first(cls, data: Any) -> Any:
        """A preset's values under the fields given (an unknown name is refused by :meth:`_known_preset`)."""
        if isinstance(data, dict) and isinstance(data.get("preset"), str) and data["preset"] in cls.PRESETS:
            data = {**cls.PRESETS[data["preset"]], **data}
        return data

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, name: str | None) -> str | None:
        if name is not None and name not in cls.PRESETS:
            known = ", ".join(cls.PRESETS) or "none"  # literal message: braces in the name stay as given
            raise PydanticCustomError("preset", f"unknown preset {name[:40]!r}: expected one of {known}")
        return name

    @classmethod
    def from_preset(cls, preset: str | None, **given):
        """``preset``'s values, then the fields ``given`` (``None`` = not given)."""
        return cls(preset=preset, **{k: v for k, v in given.items() if v is not None})
