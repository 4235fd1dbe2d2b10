"""Choices of the baselines' options that the command line needs at registration, without importing a model
library: one definition each, which the run file's model and the code that loads the models also read."""

from __future__ import annotations

SAM_MODEL_TYPES: tuple[str, ...] = ("vit_h", "vit_l", "vit_b", "tiny")  # tiny: the random test model of baselines.tiny
