"""Any Hugging Face token-classification model as an MNER baseline (``smner-bench baseline hf-tagger``).

A folder that ``AutoModelForTokenClassification.from_pretrained(path)`` reads (with its tokenizer, a fast one:
sub-word alignment needs ``word_ids``) tags each tweet's words (the dataset's tokens, ``is_split_into_words``):

- **Alignment**: a word split into several sub-words takes the label of its first sub-word; a word that the
  tokenizer turns into no sub-word at all, or that lies past the model's length limit, is ``O`` (those cut by the
  limit are counted: :attr:`HfTagger.truncated`).
- **Labels** come from ``config.id2label``, each mapped to one of the dataset's tags: ``O``, ``B-X``/``I-X`` with
  X one of PER, LOC, ORG, OTHER (``MISC`` is OTHER), in common spellings too (``B-PERSON``, ``I-ORGANIZATION``,
  ``b-loc``, ``B_PER``: :func:`tag_of`). A label that fits none of them is refused (exit 2, naming the label, its id
  and the model's ``config.json``) unless ``label_map`` (``--label-map LABEL=TAG``) says what it is.
- **Decoding**: BIO with conlleval's rules (:func:`~smner_bench.benchmark.tags.from_tags`: an ``I-X`` after ``O``
  or another type starts an entity), written as MNER submission lines ``{"id", "entities": [{start, end, type,
  text}]}``, one per gold tweet, in order.

:func:`evaluate_all` runs one model on the test split of every MNER dataset (Twitter-2015, Twitter-2017,
Twitter-GMNER) and scores it with a 95% bootstrap interval over tweets (:mod:`~smner_bench.benchmark.significance`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError, shown
from smner_bench.benchmark.gold import Gold
from smner_bench.benchmark.tags import TYPES, from_tags

from .config import Config, Device

TYPE_SPELLINGS: dict[str, str] = {
    **{t: t for t in TYPES},
    "PERSON": "PER",
    "PERS": "PER",
    "LOCATION": "LOC",
    "ORGANIZATION": "ORG",
    "ORGANISATION": "ORG",
    "MISC": "OTHER",
    "MISCELLANEOUS": "OTHER",
    "OTHERS": "OTHER",
}
"""Entity type names (upper-cased) that models use, and the dataset's type each one is."""

EVAL_DATASETS: dict[str, str] = {
    "twitter2015": "twitter2015",
    "twitter2017": "twitter2017",
    "gmner": "twitter-gmner/v2.0",
}
"""The MNER datasets of :func:`evaluate_all` and their release folders under a data root (``../shared/data``)."""

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model")  # fmt: skip
"""Files of which a model folder holds at least one when its tokenizer was saved with it."""


def tag_of(label: str) -> str | None:
    """The dataset's tag that a model's ``label`` spells (``O``, ``B-X``, ``I-X``), or None when it is none.

    >>> tag_of("B-PERSON"), tag_of("i-org"), tag_of("B_MISC"), tag_of("O"), tag_of("B-DATE"), tag_of("LABEL_0")
    ('B-PER', 'I-ORG', 'B-OTHER', 'O', None, None)
    """
    text = label.strip().upper()
    if text == "O":
        return "O"
    m = re.fullmatch(r"([BI])[-_]([A-Z]+)", text)
    if m is None or m.group(2) not in TYPE_SPELLINGS:
        return None
    return f"{m.group(1)}-{TYPE_SPELLINGS[m.group(2)]}"


def label_tags(
    id2label: Mapping[Any, str], label_map: Mapping[str, str], *, file: str | os.PathLike | None
) -> list[str]:
    """The dataset tag of each label id 0..n-1 (``label_map`` first, then :func:`tag_of`); a label that fits no tag,
    a gap in the ids or a ``label_map`` key that is no label of the model is refused (exit 2) naming it."""
    try:
        labels = {int(k): str(v) for k, v in id2label.items()}
    except (TypeError, ValueError):
        raise UsageError("id2label: expected integer ids", file=file) from None
    if not labels or sorted(labels) != list(range(len(labels))):
        raise UsageError(f"id2label: expected the ids 0 to n-1, not {shown(sorted(labels))}", file=file)
    unknown = [k for k in label_map if k not in labels.values()]
    if unknown:
        raise UsageError(
            f"--label-map {shown(unknown[0])}: no label of the model has that name (its labels: "
            f"{shown(', '.join(labels.values()), 200, quote=False)})"
        )
    tags = []
    for i in range(len(labels)):
        name = labels[i]
        tag = tag_of(label_map[name]) if name in label_map else tag_of(name)
        if tag is None:
            raise UsageError(
                f"id2label: label {shown(name)} (id {i}) is not O, B-X or I-X with X one of "
                f"{', '.join(TYPES)} (or PERSON, LOCATION, ORGANIZATION, MISC): map it with --label-map "
                f"{shown(name, quote=False)}=TAG (e.g. =O); a base model with no trained token-classification head has "
                "labels LABEL_0, LABEL_1...",
                file=file,
            )
        tags.append(tag)
    return tags


class HfTaggerConfig(Config):
    """A run of ``baseline hf-tagger``: the model folder and how it runs (one field per option)."""

    model: str = Field(min_length=1)
    label_map: dict[str, str] = Field(default_factory=dict)
    batch_size: int = Field(16, gt=0)
    max_length: int | None = Field(None, gt=2)
    device: Device = "cpu"
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"

    @field_validator("label_map")
    @classmethod
    def _label_map(cls, value: dict[str, str]) -> dict[str, str]:
        for name, tag in value.items():
            if tag_of(tag) is None:
                raise ValueError(f"{shown(name)}={shown(tag)}: expected O, B-X or I-X with X one of {', '.join(TYPES)}")
        return value


def parse_label_map(items: Sequence[str] | None) -> dict[str, str]:
    """``--label-map LABEL=TAG`` options (repeatable; several in one, comma-separated) as a mapping; a malformed
    item or a label given twice is refused (exit 2)."""
    out: dict[str, str] = {}
    for item in items or ():
        for part in item.split(","):
            name, sep, tag = part.partition("=")
            if not sep or not name.strip() or not tag.strip():
                raise UsageError(f"--label-map {shown(part)}: expected LABEL=TAG, e.g. B-PERSON=B-PER")
            name = name.strip()
            if name in out:
                raise UsageError(f"--label-map: label {shown(name)} is mapped twice")
            out[name] = tag.strip()
    return out


def check_device(device: str) -> None:
    """Refuse (exit 2) a device this machine does not have."""
    import torch

    kind, _, index = device.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: no GPU is visible to this process (use cpu)")
        if index and int(index) >= torch.cuda.device_count():
            raise UsageError(f"--device {device}: this process sees {torch.cuda.device_count()} GPU(s)")
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: no Apple GPU (MPS) is available (use cpu)")


class HfTagger:
    """A loaded model and tokenizer, and the dataset tag of each of its labels."""

    def __init__(self, config: HfTaggerConfig) -> None:
        from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

        from .dtype import load_kwargs
        from .loading import from_pretrained

        self.config = config
        check_device(config.device)
        what = "token-classification model"
        folder = Path(config.model)
        model_config = from_pretrained(AutoConfig, folder, what)
        self.tags = label_tags(model_config.id2label, config.label_map, file=folder / "config.json")
        if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
            raise UsageError(  # transformers would make an empty tokenizer: every word [UNK]
                f"no tokenizer here (none of {', '.join(TOKENIZER_FILES)}): save the tokenizer with the model",
                file=folder,
            )
        self.tokenizer = from_pretrained(AutoTokenizer, folder, what)
        if not getattr(self.tokenizer, "is_fast", False):
            raise UsageError(
                "the model's tokenizer is a slow (Python) one: aligning sub-words to words needs a fast tokenizer "
                "(tokenizer.json, or a vocabulary the tokenizers library can convert)",
                file=folder,
            )
        try:
            model = from_pretrained(AutoModelForTokenClassification, folder, what, config=model_config,
                                    **load_kwargs(config.dtype, config.device))  # fmt: skip
        except RuntimeError as exc:
            if "mismatched_sizes" not in str(exc) and "size mismatch" not in str(exc):
                raise
            raise DataFormatError(
                f"the weights do not fit this config: a layer's size differs (the classifier's labels from "
                f"id2label's {len(self.tags)}, or the vocabulary or hidden size was changed)",
                file=folder / "config.json",
            ) from None
        self.model = model.to(config.device).eval()
        embeddings = model.get_input_embeddings()
        if embeddings is not None and len(self.tokenizer) > embeddings.num_embeddings:
            raise DataFormatError(
                f"the tokenizer has {len(self.tokenizer)} tokens, the model's embeddings {embeddings.num_embeddings}: "
                "a tokenizer of another model?",
                file=folder,
            )
        limit = self._max_length()
        if config.max_length and config.max_length > limit:
            raise UsageError(f"--max-length {config.max_length}: this model reads at most {limit} sub-words")
        self.max_length = config.max_length or limit
        self.truncated = 0  # words past the length limit, tagged O

    def _max_length(self) -> int:
        limits = [self.tokenizer.model_max_length, getattr(self.model.config, "max_position_embeddings", None)]
        usable = [n for n in limits if isinstance(n, int) and 2 < n < 1_000_000]
        return min(usable) if usable else 512

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The dataset tag of each word of each sentence (batches of ``batch_size``)."""
        import torch

        out: list[list[str]] = [["O"] * len(words) for words in sentences]
        todo = [i for i, words in enumerate(sentences) if words]
        size = self.config.batch_size
        for b in range(0, len(todo), size):
            batch = todo[b : b + size]
            enc = self.tokenizer([list(sentences[i]) for i in batch], is_split_into_words=True, truncation=True,
                                 max_length=self.max_length, padding=True, return_tensors="pt")  # fmt: skip
            inputs = {k: v.to(self.config.device) for k, v in enc.items()}
            with torch.inference_mode():
                best = self.model(**inputs).logits.float().argmax(-1).cpu().tolist()
            for row, i in enumerate(batch):
                seen: set[int] = set()
                for position, word in enumerate(enc.word_ids(row)):
                    if word is not None and word not in seen:  # the first sub-word of each word
                        seen.add(word)
                        out[i][word] = self.tags[best[row][position]]
                self.truncated += sum(1 for w in range(len(sentences[i])) if w > max(seen, default=-1))
        return out

    def lines(self, gold: Gold) -> list[dict]:
        """One MNER submission line per gold tweet, in order."""
        tokens = [t.tokens for t in gold.tweets]
        lines = []
        for tweet, tags in zip(gold.tweets, self.tag(tokens), strict=True):
            entities = from_tags(tags, tweet.tokens)
            for e in entities:
                if not e["text"].strip():  # a blank token: the span alone says it
                    del e["text"]
            lines.append({"id": tweet.id, "entities": entities})
        return lines


def run(config: HfTaggerConfig, gold: Gold) -> list[dict]:
    """The MNER submission lines of ``config``'s model on ``gold``'s tweets (see the module's docstring)."""
    return HfTagger(config).lines(gold)


def dataset_folders(data_root: str | os.PathLike, datasets: Sequence[str] = tuple(EVAL_DATASETS)) -> dict[str, Path]:
    """The release folder of each dataset under ``data_root`` (:data:`EVAL_DATASETS`); a missing one is exit 2."""
    root = Path(data_root)
    expected = "a folder holding " + ", ".join(EVAL_DATASETS.values())
    if not root.exists():
        raise MissingDataError(f"data root not found (expected {expected})", file=data_root)
    if not root.is_dir():
        raise UsageError(f"a file, not a data root (expected {expected})", file=data_root)
    folders = {}
    for name in datasets:
        folder = root / EVAL_DATASETS[name]
        if not folder.is_dir():
            raise MissingDataError(f"no {EVAL_DATASETS[name]} folder here ({name}'s release)", file=root)
        folders[name] = folder
    return folders


def evaluate_all(
    config: HfTaggerConfig,
    folders: Mapping[str, str | os.PathLike],
    *,
    split: str = "test",
    resamples: int = 1000,
    seed: int = 0,
) -> list[dict]:
    """One row per dataset of ``folders`` (name -> raw release folder): the model's MNER precision, recall, F1
    and the F1's 95% bootstrap interval over tweets on ``split``, and the counts."""
    from smner_bench.benchmark.scoring import Scorer
    from smner_bench.benchmark.submission import parse_submission
    from smner_bench.loaders import load_gold

    golds = [load_gold(name, split, data_dir=folder) for name, folder in folders.items()]  # a data problem first
    tagger = HfTagger(config)
    rows = []
    for name, gold in zip(folders, golds, strict=True):
        before = tagger.truncated
        submission = parse_submission(tagger.lines(gold), gold, name=f"<{config.model} on {gold.name}>", task="mner")
        scorer = Scorer.build(submission, gold)
        report = scorer.with_interval(scorer.report("mner", "span"), resamples=resamples, seed=seed)
        main, interval = report.main, report.ci
        rows.append({
            "dataset": name, "split": gold.split, "tweets": len(gold.tweets),
            "precision": main.precision, "recall": main.recall, "f1": main.f1,
            "f1_low": interval.low, "f1_high": interval.high,
            "tp": main.tp, "pred": main.pred, "gold": main.gold, "truncated_words": tagger.truncated - before,
        })  # fmt: skip
    return rows


def format_table(rows: Sequence[Mapping[str, Any]], level: float = 0.95) -> str:
    """The terminal table of :func:`evaluate_all`'s rows (percentages, two decimals; a figure of nothing is n/a)."""
    head = f"{'dataset':14}{'tweets':>8}{'P':>8}{'R':>8}{'F1':>8}  {int(level * 100)}% interval of F1"
    lines = [head]

    def pct(value: float, defined: bool) -> str:  # a figure of nothing (precision of no predictions) is n/a
        return f"{100 * value:8.2f}" if defined else f"{'n/a':>8}"

    for r in rows:
        some = r["pred"] + r["gold"] > 0
        interval = f"[{100 * r['f1_low']:.2f}, {100 * r['f1_high']:.2f}]" if some else "n/a"
        figures = pct(r["precision"], r["pred"] > 0) + pct(r["recall"], r["gold"] > 0) + pct(r["f1"], some)
        lines.append(f"{r['dataset']:14}{r['tweets']:>8}{figures}  {interval}")
    return "\n".join(lines)
