"""The PLIM network: a transformers encoder, dropout, a linear layer to the BIO tags, a CRF (pytorch-crf)."""

from __future__ import annotations

import torch
from torch import nn
from torchcrf import CRF
from transformers import AutoConfig, AutoModel

from smner_bench.benchmark.tags import TAG_NAMES

from ..loading import from_pretrained


class PlimTagger(nn.Module):
    def __init__(self, encoder: nn.Module, dropout: float = 0.1, num_tags: int = len(TAG_NAMES)) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_tags)
        self.crf = CRF(num_tags, batch_first=True)

    @classmethod
    def from_pretrained(cls, path: str, dropout: float = 0.1) -> PlimTagger:
        """The encoder's weights from a local folder (or hub name, where a hub is reachable)."""
        return cls(from_pretrained(AutoModel, path, "encoder", add_pooling_layer=False), dropout)

    @classmethod
    def from_config(cls, config, dropout: float = 0.1) -> PlimTagger:
        """Random weights from a config (tests; and the skeleton a checkpoint is loaded into)."""
        if isinstance(config, str):
            config = from_pretrained(AutoConfig, config, "encoder")
        return cls(AutoModel.from_config(config, add_pooling_layer=False), dropout)

    def emissions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        index = first.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        return self.classifier(self.dropout(torch.gather(hidden, 1, index)))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        scores = self.emissions(batch["input_ids"], batch["attention_mask"], batch["first"])
        return -self.crf(scores, batch["labels"], mask=batch["token_mask"], reduction="mean")

    @torch.no_grad()
    def decode(self, batch: dict[str, torch.Tensor]) -> list[list[int]]:
        scores = self.emissions(batch["input_ids"], batch["attention_mask"], batch["first"])
        return self.crf.decode(scores, mask=batch["token_mask"])
