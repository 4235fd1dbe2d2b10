"""Text encoders: any transformers encoder (``from_pretrained(path_or_name)``), mean-pooled over tokens for MSEA;
:func:`load_encoder` / :func:`encoder_from_config` also build PLIM's and the caption VE's encoders.

Encoder classes differ in what they accept: BERT/RoBERTa take ``add_pooling_layer`` (the pooler is not used
here, so it is left out), DistilBERT and DeBERTa-v2/v3 have no pooler and refuse the argument; DistilBERT has
no token type ids. Only ``input_ids`` and ``attention_mask`` are passed to any of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np

from ..dtype import load_kwargs, to_numpy
from ..loading import from_pretrained


def _pooler_kwargs(config) -> dict:
    """``{"add_pooling_layer": False}`` where the config's ``AutoModel`` class accepts it, else nothing."""
    from transformers import MODEL_MAPPING

    try:
        cls = MODEL_MAPPING[type(config)]
    except KeyError:
        return {}
    return {"add_pooling_layer": False} if "add_pooling_layer" in inspect.signature(cls.__init__).parameters else {}


def load_encoder(path: str, what: str = "encoder", *, dtype: str | None = "fp32", device: str = "cpu"):
    """``AutoModel.from_pretrained(path)`` without a pooler where the class has one, in ``dtype``."""
    from transformers import AutoConfig, AutoModel

    config = from_pretrained(AutoConfig, path, what)
    return from_pretrained(AutoModel, path, what, config=config, **_pooler_kwargs(config), **load_kwargs(dtype, device))


def encoder_from_config(config):
    """Random weights (fp32) from a config, without a pooler where the class has one."""
    from transformers import AutoModel

    return AutoModel.from_config(config, **_pooler_kwargs(config), dtype=_float32())


def _float32():
    import torch

    return torch.float32


class Encoder:
    def __init__(
        self,
        path: str,
        *,
        max_length: int = 256,
        batch_size: int = 32,
        device: str = "cpu",
        dtype: str | None = "fp32",
        model=None,
        tokenizer=None,
    ) -> None:
        from transformers import AutoTokenizer

        self.name = str(path)
        self.tokenizer = tokenizer or from_pretrained(AutoTokenizer, path, "encoder")
        self.model = (model or load_encoder(path, dtype=dtype, device=device)).to(device).eval()
        self.max_length, self.batch_size, self.device = max_length, batch_size, device

    def encode(self, texts: Sequence[str], *, length: int | None = None) -> np.ndarray:
        """(len(texts), hidden) float32 mean-pooled last hidden states, attention-masked (pooled in float32
        whatever the model's dtype).

        With ``length``, every batch has one shape: ``batch_size`` rows (the last one filled up with copies of
        its first text, whose outputs are dropped) of ``length`` tokens (longer texts truncated). The kernels
        then see the same shapes whoever the other rows are, so a text's features depend on its text alone, bit
        for bit (with the longest-row padding, a batch mate changes the last bits)."""
        import torch

        out = []
        for start in range(0, len(texts), self.batch_size):
            chunk = list(texts[start : start + self.batch_size])
            rows = len(chunk)
            if length is not None:
                chunk += chunk[:1] * (self.batch_size - rows)
            batch = self.tokenizer(
                chunk,
                padding="max_length" if length is not None else True,
                truncation=True,
                max_length=length if length is not None else self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.no_grad():
                hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                hidden = hidden.last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(to_numpy((hidden * mask).sum(1) / mask.sum(1).clamp(min=1))[:rows])
        return np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
