"""Tiny models with random weights, built from configs (no download), saved as ordinary local checkpoints so
that every loading path of the pipeline (``from_pretrained(path)``, SAM checkpoints) runs on them: the tests,
``make demo`` and ``smner-bench baseline tiny-models`` use them. They predict nonsense, fast.

One BERT-style word vocabulary serves every text model. Its special tokens sit at bert-base-uncased's ids
([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, "." 1012, "?" 1029) because Grounding DINO hard-codes
those ids as its phrase delimiters.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from pathlib import Path

import torch

from smner_bench.benchmark.safe_output import atomic_folder, write_bytes

VOCAB_SIZE = 1100
_SPECIAL = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", 1012: ".", 1029: "?"}
_COMMON = ("per", "loc", "org", "other", "misc", "(", ")", "-", "a", "the", "of", "in", "image", "photo", "with")
_SMALL = {"num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37}  # one layer, 2 heads


def bert_vocab(words: Iterable[str]) -> list[str]:
    """``VOCAB_SIZE`` tokens: the specials at their bert-base-uncased ids, then the lower-cased pieces of ``words``
    (punctuation apart, as many as fit; a WordPiece continuation such as ``##s`` kept whole), then fillers."""
    pieces = (  # BERT splits off punctuation
        p for w in words for p in ([w] if w.startswith("##") else re.findall(r"\w+|[^\w\s]", w.lower()))
    )
    chosen = iter(dict.fromkeys(p for p in (*_COMMON, *pieces) if p not in _SPECIAL.values()))
    vocab = []
    for i in range(VOCAB_SIZE):
        vocab.append(_SPECIAL.get(i) or next(chosen, None) or f"[unused{i}]")
    return vocab


def bert_tokenizer(folder: str | os.PathLike, words: Iterable[str]):
    """A lower-casing WordPiece tokenizer over :func:`bert_vocab`, saved in ``folder``."""
    from transformers import BertTokenizer

    vocab = bert_vocab(words)
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    tokenizer.save_pretrained(folder)
    return tokenizer


def word_level_tokenizer(vocab: list[str], **special: str):
    """A whitespace-split, word-level fast tokenizer over ``vocab`` (``<unk>`` for other words), with the
    ``special`` tokens (``pad_token=``, ``eos_token=``...): the LLM's and the captioner's."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", **special)


def encoder_config(vocab_size: int = VOCAB_SIZE, max_positions: int = 512):
    """The ``BertConfig`` of :func:`save_encoder` (1 layer, hidden 32, 2 heads)."""
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, max_position_embeddings=max_positions, **_SMALL)


def save_encoder(folder: str | os.PathLike, words: Iterable[str], kind: str = "bert") -> Path:
    """A 1-layer encoder (hidden 32) + the BERT tokenizer: PLIM's and MSEA's encoder. ``kind``: a BERT (the
    default), or a ``distilbert`` or ``deberta-v2`` (encoder classes without a pooler) on the same tokenizer."""
    from transformers import BertModel, DebertaV2Config, DebertaV2Model, DistilBertConfig, DistilBertModel

    with atomic_folder(folder, "model") as tmp:
        bert_tokenizer(tmp, words)
        torch.manual_seed(0)
        if kind == "bert":
            model = BertModel(encoder_config())
        elif kind == "distilbert":
            model = DistilBertModel(
                DistilBertConfig(vocab_size=VOCAB_SIZE, dim=32, n_layers=1, n_heads=2, hidden_dim=37)
            )
        elif kind == "deberta-v2":
            model = DebertaV2Model(
                DebertaV2Config(
                    vocab_size=VOCAB_SIZE,
                    hidden_size=32,
                    max_position_embeddings=128,
                    relative_attention=True,
                    pos_att_type=["p2c", "c2p"],
                    position_buckets=16,
                    **_SMALL,
                )
            )
        else:
            raise ValueError(f"kind: expected bert, distilbert or deberta-v2, not {kind!r}")
        model.save_pretrained(tmp)
    return Path(folder)


def save_causal_lm(
    folder: str | os.PathLike, words: Iterable[str], *, positions: int = 4096, chat_template: bool = True
) -> Path:
    """A 1-layer GPT-2 (``positions`` long) over a word-level vocabulary, with a chat template unless
    ``chat_template`` is false: the LLM of knowledge and expansion."""
    from transformers import GPT2Config, GPT2LMHeadModel

    vocab = list(dict.fromkeys(["<pad>", "<eos>", "<unk>", "user", "assistant", ":", *words]))
    tokenizer = word_level_tokenizer(vocab, pad_token="<pad>", eos_token="<eos>")
    if chat_template:
        tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}assistant :"
    with atomic_folder(folder, "model") as tmp:
        tokenizer.save_pretrained(tmp)
        torch.manual_seed(0)
        GPT2LMHeadModel(
            GPT2Config(
                vocab_size=len(vocab),
                n_positions=positions,
                n_embd=16,
                n_layer=1,
                n_head=2,
                bos_token_id=1,
                eos_token_id=1,
                pad_token_id=0,
            )
        ).save_pretrained(tmp)
    return Path(folder)


def save_captioner(folder: str | os.PathLike, words: Iterable[str]) -> Path:
    """A BLIP-2 (1-layer ViT, Q-Former and OPT, 32 px images): the image captioner."""
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2Processor,
        Blip2QFormerConfig,
        Blip2VisionConfig,
        BlipImageProcessor,
        OPTConfig,
    )

    vocab = list(dict.fromkeys(["<pad>", "</s>", "<unk>", "<image>", *(w.lower() for w in words)]))
    tokenizer = word_level_tokenizer(vocab, pad_token="<pad>", eos_token="</s>", bos_token="</s>")
    config = Blip2Config(
        vision_config=Blip2VisionConfig(hidden_size=32, image_size=32, patch_size=16, **_SMALL).to_dict(),
        qformer_config=Blip2QFormerConfig(hidden_size=32, encoder_hidden_size=32, **_SMALL).to_dict(),
        text_config=OPTConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=1,
            ffn_dim=37,
            num_attention_heads=2,
            word_embed_proj_dim=32,
            max_position_embeddings=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=1,
        ).to_dict(),
        num_query_tokens=4,
        image_token_index=3,
    )
    with atomic_folder(folder, "model") as tmp:
        torch.manual_seed(0)
        Blip2ForConditionalGeneration(config).save_pretrained(tmp)
        Blip2Processor(
            image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
            tokenizer=tokenizer,
            num_query_tokens=4,
        ).save_pretrained(tmp)
    return Path(folder)


def save_image_text_matcher(folder: str | os.PathLike, words: Iterable[str], image_size: int = 32) -> Path:
    """A BLIP image-text matching model (``BlipForImageTextRetrieval``, 1 layer, ``image_size`` px, 32 by
    default; 384 is the real BLIP processor's): visual entailment."""
    from transformers import (
        BlipConfig,
        BlipForImageTextRetrieval,
        BlipImageProcessor,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    config = BlipConfig(
        vision_config=BlipVisionConfig(hidden_size=32, image_size=image_size, patch_size=16, **_SMALL).to_dict(),
        text_config=BlipTextConfig(
            vocab_size=VOCAB_SIZE,
            hidden_size=32,
            encoder_hidden_size=32,
            max_position_embeddings=128,
            bos_token_id=101,
            pad_token_id=0,
            sep_token_id=102,
            eos_token_id=102,
            **_SMALL,
        ).to_dict(),
        projection_dim=16,
        image_text_hidden_size=16,
    )
    with atomic_folder(folder, "model") as tmp:
        tokenizer = bert_tokenizer(tmp, words)
        torch.manual_seed(0)
        BlipForImageTextRetrieval(config).save_pretrained(tmp)
        BlipProcessor(
            image_processor=BlipImageProcessor(size={"height": image_size, "width": image_size}), tokenizer=tokenizer
        ).save_pretrained(tmp)
    return Path(folder)


def save_grounder(folder: str | os.PathLike, words: Iterable[str], *, mm: bool = False) -> Path:
    """A Grounding DINO (Swin with 1 block per stage, 1 encoder / 2 decoder layers, 8 queries, 128 px):
    visual grounding. ``mm``: the same as an MM-Grounding DINO (``MMGroundingDinoForObjectDetection``)."""
    from transformers import (
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        MMGroundingDinoConfig,
        MMGroundingDinoForObjectDetection,
        SwinConfig,
    )

    config_class, model_class = (
        (MMGroundingDinoConfig, MMGroundingDinoForObjectDetection)
        if mm
        else (GroundingDinoConfig, GroundingDinoForObjectDetection)
    )
    config = config_class(
        backbone_config=SwinConfig(
            embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4, out_indices=[2, 3, 4]
        ).to_dict(),
        text_config=encoder_config(max_positions=256).to_dict(),
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_n_points=2,
        decoder_n_points=2,
        num_queries=8,
        max_text_len=256,
    )
    with atomic_folder(folder, "model") as tmp:
        tokenizer = bert_tokenizer(tmp, words)
        torch.manual_seed(0)
        model_class(config).save_pretrained(tmp)
        GroundingDinoProcessor(
            image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 128, "longest_edge": 128}),
            tokenizer=tokenizer,
        ).save_pretrained(tmp)
    return Path(folder)


def tiny_sam():
    """A ``Sam`` from segment-anything's modules: 64 px inputs, a 1-block ViT, 32-dim prompts and decoder."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    torch.manual_seed(0)
    return Sam(
        image_encoder=ImageEncoderViT(img_size=64, patch_size=16, embed_dim=16, depth=1, num_heads=2, out_chans=32),
        prompt_encoder=PromptEncoder(
            embed_dim=32, image_embedding_size=(4, 4), input_image_size=(64, 64), mask_in_chans=4
        ),
        mask_decoder=MaskDecoder(
            transformer_dim=32,
            transformer=TwoWayTransformer(depth=1, embedding_dim=32, mlp_dim=64, num_heads=2),
            iou_head_hidden_dim=16,
        ),
    ).eval()


def save_sam(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """The state dict of :func:`tiny_sam`, loadable with ``--model-type tiny`` (written atomically; the parent
    folder must exist)."""
    buffer = io.BytesIO()
    torch.save(tiny_sam().state_dict(), buffer)
    write_bytes(path, buffer.getvalue(), inputs=inputs)
    return Path(path)


def save_all(
    out: str | os.PathLike, words: Iterable[str], *, inputs: Iterable[str | os.PathLike | None] = ()
) -> dict[str, Path]:
    """Every tiny model of the RiVEG chain in the folder ``out`` (a ``tiny-models`` folder, replaced as a whole,
    atomically; its parent must exist); returns their paths by role."""
    out, words = Path(out), list(words)
    builders = {
        "captioner": save_captioner,
        "llm": save_causal_lm,
        "encoder": save_encoder,
        "matcher": save_image_text_matcher,
        "grounder": save_grounder,
    }
    with atomic_folder(out, "tiny-models", inputs=inputs) as tmp:
        for role, build in builders.items():
            build(tmp / role, words)
        save_sam(tmp / "sam.pth")
    return {**{role: out / role for role in builders}, "sam": out / "sam.pth"}
