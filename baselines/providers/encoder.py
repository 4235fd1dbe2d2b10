"""A text encoder: any transformers encoder (``from_pretrained(path_or_name)``), mean-pooled over tokens."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..loading import from_pretrained


class Encoder:
    def __init__(
        self, path: str, *, max_length: int = 256, batch_size: int = 32, device: str = "cpu", model=None, tokenizer=None
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.name = str(path)
        self.tokenizer = tokenizer or from_pretrained(AutoTokenizer, path, "encoder")
        self.model = (model or from_pretrained(AutoModel, path, "encoder")).to(device).eval()
        self.max_length, self.batch_size, self.device = max_length, batch_size, device

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), hidden) mean-pooled last hidden states, attention-masked."""
        import torch

        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.no_grad():
                hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
