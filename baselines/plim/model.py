"""The PLIM network: a transformers encoder, dropout, a linear layer to the BIO tags, a CRF (pytorch-crf).

The encoder may run in bf16/fp16 (``dtype``); the classifier and the CRF always run in float32, and the
encoder's hidden states are cast to float32 before them. Any ``AutoModel`` encoder works, with or without a
pooler (BERT, RoBERTa, XLM-R, DistilBERT, DeBERTa-v2/v3).
"""

from __future__ import annotations

import torch
from torch import nn
from torchcrf import CRF
from transformers import AutoConfig

from smner_bench.benchmark.tags import TAG_NAMES

from ..loading import from_pretrained
from ..providers.encoder import encoder_from_config, load_encoder


def without_dropout(encoder: nn.Module) -> nn.Module:
    """``encoder`` with every dropout off, also in training (``--dropout 0``: the whole tagger is
    deterministic, as the distributed-equivalence test needs); other values keep the encoder's own."""
    for module in encoder.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for name in ("dropout_prob", "attention_dropout"):  # attention kernels that take a float, not a module
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, 0.0)
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout"):
        if isinstance(getattr(encoder.config, name, None), float):
            setattr(encoder.config, name, 0.0)
    return encoder


class PlimTagger(nn.Module):
    def __init__(self, encoder: nn.Module, dropout: float = 0.1, num_tags: int = len(TAG_NAMES)) -> None:
        super().__init__()
        self.encoder = without_dropout(encoder) if dropout == 0 else encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_tags)
        self.crf = CRF(num_tags, batch_first=True)

    @classmethod
    def from_pretrained(cls, path: str, dropout: float = 0.1) -> PlimTagger:
        """The encoder's weights from a local folder (or hub name, where a hub is reachable), loaded in float32
        whatever dtype they were saved in (training keeps fp32 weights; see ``amp``)."""
        return cls(load_encoder(path, "encoder", dtype="fp32"), dropout)

    @classmethod
    def from_config(cls, config, dropout: float = 0.1) -> PlimTagger:
        """Random float32 weights from a config (tests; and the skeleton a checkpoint is loaded into)."""
        if isinstance(config, str):
            config = from_pretrained(AutoConfig, config, "encoder")
        return cls(encoder_from_config(config), dropout)

    def encoder_dtype(self, dtype: torch.dtype) -> PlimTagger:
        """Run the encoder in ``dtype`` (inference); the classifier and the CRF stay float32."""
        self.encoder.to(dtype)
        return self

    def emissions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = hidden.to(self.classifier.weight.dtype)  # a bf16/fp16 encoder before the float32 head
        index = first.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        return self.classifier(self.dropout(torch.gather(hidden, 1, index))).float()  # float32 for the CRF

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        scores = self.emissions(batch["input_ids"], batch["attention_mask"], batch["first"])
        return -self.crf(scores, batch["labels"], mask=batch["token_mask"], reduction="mean")

    @torch.no_grad()
    def decode(self, batch: dict[str, torch.Tensor]) -> list[list[int]]:
        scores = self.emissions(batch["input_ids"], batch["attention_mask"], batch["first"])
        return self.crf.decode(scores, mask=batch["token_mask"])
