"""Numeric precision of the baselines' models: one explicit option, never the dtype a checkpoint was saved in.

- ``dtype`` (inference: LLM, captioner, MSEA encoder, PLIM encoder, VE, VG, SAM): ``fp32`` (default), ``bf16`` or
  ``fp16``. Models are loaded in the dtype asked for (transformers' own default, ``"auto"``, would load a
  bf16-saved checkpoint in bf16 and break the fp32 heads); outputs are cast to float32 before numpy and before
  the fp32 heads (PLIM's classifier and CRF). ``fp16`` needs a GPU; ``bf16`` runs on CPUs too (slowly).
- ``--mixed-precision`` (training: PLIM, VE, VG, caption VE): ``no``, ``bf16`` or ``fp16`` (GPU), accelerate's
  autocast (see ``training.py``); the weights and the optimizer stay fp32, so a saved checkpoint is fp32.
"""

from __future__ import annotations

import contextlib
from typing import Any

from smner_bench.benchmark.errors import UsageError

DTYPES = ("fp32", "bf16", "fp16")


def resolve_dtype(name: str | None, device: str = "cpu"):
    """The ``torch.dtype`` of ``name`` (``None`` = fp32), refused (exit 2) where the device cannot run it.

    >>> str(resolve_dtype("bf16"))
    'torch.bfloat16'
    """
    import torch

    name = name or "fp32"
    if name not in DTYPES:
        raise UsageError(f"dtype {name[:20]!r}: expected one of {', '.join(DTYPES)}")
    kind = device_type(device)
    if name == "fp16" and kind == "cpu":
        raise UsageError("dtype fp16 needs a GPU (many fp16 kernels are missing on CPU): use bf16 or fp32")
    if name == "bf16" and kind == "cuda" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        raise UsageError("this GPU does not support bf16: use fp16 or fp32")
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def device_type(device: str | None) -> str:
    """``"cuda:1"`` -> ``"cuda"``: what ``torch.autocast`` calls the device."""
    return str(device or "cpu").split(":")[0]


def load_kwargs(name: str | None, device: str = "cpu") -> dict[str, Any]:
    """Keyword arguments of ``from_pretrained`` that load a model in the dtype asked for."""
    return {"dtype": resolve_dtype(name, device)}


def to_numpy(tensor):
    """A float32 (or integer/bool) numpy array of any tensor: bf16 has no numpy type."""
    tensor = tensor.detach()
    if tensor.is_floating_point():
        tensor = tensor.float()
    return tensor.cpu().numpy()


def inference_autocast(name: str | None, device: str = "cpu"):
    """Autocast for models whose weights must stay fp32 (SAM's prompt encoder casts coordinates to float32):
    computes in ``name``'s dtype; a no-op for fp32."""
    import torch

    dtype = resolve_dtype(name, device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type(device), dtype=dtype)
