"""Encoding tweets (+ knowledge) for the tagger: sub-token alignment, truncation, batching.

Every original token keeps a position: a token that the tokenizer turns into nothing (emoji variation
selector U+FE0F, zero-width characters...) is encoded as the tokenizer's unknown token. The tweet is never
cut; the knowledge is cut to make ``[CLS] tweet [SEP] knowledge [SEP]`` fit ``max_length``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from smner_bench.benchmark.tags import TAG_NAMES

TAG_TO_ID = {t: i for i, t in enumerate(TAG_NAMES)}


@dataclass
class Encoded:
    input_ids: list[int]
    first: list[int]  # position of the first sub-token of each original token
    labels: list[int] | None
    knowledge_kept: int  # knowledge sub-tokens kept
    knowledge_cut: int  # knowledge sub-tokens dropped


def subword_ids(tokenizer, words: Sequence[str]) -> list[list[int]]:
    """Sub-token ids of each word (one batched tokenizer call); an empty result becomes ``[unk]``."""
    if not words:
        return []
    ids = tokenizer(list(words), add_special_tokens=False)["input_ids"]
    return [piece if piece else [tokenizer.unk_token_id] for piece in ids]


def encode(
    tokenizer,
    tokens: Sequence[str],
    knowledge: str | None = None,
    *,
    tags: Sequence[int] | None = None,
    max_length: int = 256,
    max_positions: int = 512,
) -> Encoded:
    """``[CLS] tweet [SEP] knowledge [SEP]`` with the knowledge cut to ``max_length`` (the tweet never)."""
    pieces = subword_ids(tokenizer, tokens)
    ids = [tokenizer.cls_token_id]
    first = []
    for piece in pieces:
        first.append(len(ids))
        ids.extend(piece)
    ids.append(tokenizer.sep_token_id)
    if len(ids) > max_positions:
        raise ValueError(f"a tweet of {len(ids)} sub-tokens does not fit the encoder's {max_positions} positions")
    kept = cut = 0
    if knowledge:
        extra = tokenizer(knowledge, add_special_tokens=False)["input_ids"]
        room = max(0, max_length - len(ids) - 1)
        kept, cut = min(room, len(extra)), max(0, len(extra) - room)
        if kept:
            ids.extend(extra[:kept])
            ids.append(tokenizer.sep_token_id)
    return Encoded(ids, first, list(tags) if tags is not None else None, kept, cut)


def collate(batch: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch: input ids and attention mask over sub-tokens; first positions, token mask and labels
    over original tokens."""
    length = max(len(e.input_ids) for e in batch)
    words = max(len(e.first) for e in batch)
    input_ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), length), dtype=torch.long)
    first = torch.zeros((len(batch), words), dtype=torch.long)
    mask = torch.zeros((len(batch), words), dtype=torch.bool)
    labels = torch.zeros((len(batch), words), dtype=torch.long)
    for i, e in enumerate(batch):
        input_ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        attention[i, : len(e.input_ids)] = 1
        first[i, : len(e.first)] = torch.tensor(e.first)
        mask[i, : len(e.first)] = True
        if e.labels is not None:
            labels[i, : len(e.labels)] = torch.tensor(e.labels)
    return {"input_ids": input_ids, "attention_mask": attention, "first": first, "token_mask": mask, "labels": labels}
