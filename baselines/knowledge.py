"""Build PLIM's auxiliary knowledge for a whole split: MSEA examples, heuristic prompts, an LLM provider; and
write it as a knowledge release (the PGIM/RiVEG format) that the loaders and PLIM read. ``build(KnowledgeConfig(...))``
does what ``smner-bench baseline knowledge`` does."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError
from smner_bench.benchmark.registry import DATASET_NAMES, DATASETS, canonical_split
from smner_bench.benchmark.safe_output import atomic_folder, write_bytes
from smner_bench.benchmark.tags import TAG_NAMES
from smner_bench.loaders.knowledge import knowledge_text

from .config import Config
from .msea import Example, feature_text, heuristic_prompt, normalized_text, rank
from .providers.llm import Request

log = logging.getLogger(__name__)

RELEASE_FILES = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
HELD_OUT = ("validation", "test")  # the evaluated splits: none of their tweets is ever an in-context example


def manual_examples(manual, texts: Mapping[str, str], images: Mapping[str, str]) -> list[Example]:
    """In-context examples from manual annotations (``read_manual_annotations``): the tweet's text and image
    description looked up by id; annotations without analysis, text or image description are left out."""
    return [
        Example(texts[m.id], images[m.id], m.analysis, m.id)
        for m in manual
        if m.analysis and m.id in texts and m.id in images
    ]


@dataclass
class ExamplePool:
    """The MSEA example pool and how it was made (every count is reported by the commands)."""

    examples: list[Example]
    annotations: int = 0  # manual annotations with a written analysis, all folders together
    folders: int = 0  # manual annotation folders given (none: prompts without in-context examples, by choice)
    without_text: list[str] = field(default_factory=list)  # ids found in no --manual-data / dataset split file
    without_image: list[str] = field(default_factory=list)  # ids with no caption or description
    held_out: dict[str, list[str]] = field(default_factory=dict)  # split -> annotation ids that are its tweets
    by_text: list[tuple[str, str, str]] = field(default_factory=list)  # (annotation id, split, tweet id): text only

    def summary(self) -> str:
        if not self.folders:
            return "MSEA example pool: no manual annotations given (--manual): prompts without in-context examples"
        held = len({i for ids in self.held_out.values() for i in ids})
        splits = ", ".join(f"{len(ids)} of {split}" for split, ids in self.held_out.items())
        return (
            f"MSEA example pool: {len(self.examples)} of {self.annotations} manual annotations; held out {held} "
            f"tweets of the evaluated splits ({splits or 'none'}; {len(self.by_text)} matched by text only, under "
            f"another id); without text: {len(self.without_text)}; without image caption: {len(self.without_image)}"
        )


def _split_texts(data_dir: str | os.PathLike, splits: Sequence[str]) -> dict[str, dict[str, str]]:
    """``{split: {tweet id: text}}`` of the split files present in a release folder (read directly: no cache)."""
    from smner_bench.loaders import read_conll
    from smner_bench.loaders.configs import split_file

    if not Path(data_dir).is_dir():
        raise MissingDataError("data folder not found", file=data_dir)
    out = {}
    for split in splits:
        try:
            path = split_file(data_dir, split)
        except MissingDataError:
            continue
        out[split] = {t.id: " ".join(t.tokens) for t in read_conll(path)}
    return out


def parse_manual_data(spec: str) -> tuple[str, str]:
    """``CONFIG:FOLDER`` -> ``(config, folder)``; a usage error otherwise."""
    config, sep, folder = spec.partition(":")
    if not sep or not folder or config not in DATASETS:
        raise UsageError(f"manual data {spec[:80]!r}: expected CONFIG:FOLDER with CONFIG one of {', '.join(DATASETS)}")
    return config, folder


def example_pool(
    manual: Sequence[str | os.PathLike],
    manual_data: Sequence[str],
    images: Mapping[str, str],
    *,
    data_dir: str | os.PathLike,
    held_out: Sequence[str] = HELD_OUT,
) -> ExamplePool:
    """The one MSEA example pool of a dataset, used by ``baseline knowledge`` and the runner alike.

    Every manual annotation of the ``manual`` folders (with a written analysis) whose text is found in a split
    file of a ``manual_data`` release (``CONFIG:FOLDER``, in the order given, every split), else of the evaluated
    release ``data_dir``, and whose image caption is in ``images``, minus every annotation that is a tweet of a
    ``held_out`` split of ``data_dir``, by id or by :func:`~.msea.normalized_text` (the same tweet can have
    other ids in other datasets). It does not depend on the split being prompted nor on sharding; the prompted
    tweet itself is left out later, per tweet (:func:`msea_prompts`)."""
    from smner_bench.loaders import read_manual_annotations

    evaluated = _split_texts(data_dir, ("train", *held_out))
    texts: dict[str, str] = {}
    for spec in manual_data:
        _, folder = parse_manual_data(spec)
        found = _split_texts(folder, ("train", "validation", "test"))
        if not found:
            raise MissingDataError("no split file (train.txt, dev.txt, valid.txt, test.txt) here", file=folder)
        for split_texts in found.values():
            for tweet_id, text in split_texts.items():
                texts.setdefault(tweet_id, text)
    for split_texts in evaluated.values():
        for tweet_id, text in split_texts.items():
            texts.setdefault(tweet_id, text)
    pool = ExamplePool([], folders=len(manual), held_out={split: [] for split in held_out if split in evaluated})
    annotations = [m for folder in manual for m in read_manual_annotations(folder) if m.analysis]
    pool.annotations = len(annotations)
    by_id = {split: set(evaluated[split]) for split in pool.held_out}
    by_norm: dict[str, dict[str, str]] = {split: {} for split in pool.held_out}
    for split in pool.held_out:
        for tweet_id, text in evaluated[split].items():
            key = normalized_text(text)
            if key:
                by_norm[split].setdefault(key, tweet_id)
    seen: set[str] = set()
    for m in annotations:
        if m.id in seen:  # the same tweet annotated in two folders: the first analysis is kept
            continue
        seen.add(m.id)
        if m.id not in texts:
            pool.without_text.append(m.id)
            continue
        if not images.get(m.id):
            pool.without_image.append(m.id)
            continue
        key = normalized_text(texts[m.id])
        splits = [s for s in pool.held_out if m.id in by_id[s] or (key and key in by_norm[s])]
        for split in splits:
            pool.held_out[split].append(m.id)
            if m.id not in by_id[split]:
                pool.by_text.append((m.id, split, by_norm[split][key]))
        if splits:
            continue
        pool.examples.append(Example(texts[m.id], images[m.id], m.analysis, m.id))
    if annotations and not pool.examples and len(pool.without_text) == len(seen):
        raise UsageError(
            f"none of the {len(seen)} manual annotations has a text: give --manual-data CONFIG:FOLDER of the "
            "datasets whose tweets they annotate (manual_data in a run file), e.g. twitter2015:DATA/twitter2015"
        )
    return pool


def example_features(
    encoder,
    examples: Sequence[Example],
    store: str | os.PathLike | None = None,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> np.ndarray:
    """MSEA features of the in-context examples, computed once and kept in ``store`` (an ``.npz`` keyed by the
    encoder and the examples' texts, recomputed when either changes)."""
    texts = [feature_text(e.text, e.image) for e in examples]
    key = hashlib.sha256("\0".join([encoder.name, *texts]).encode()).hexdigest()
    if store is not None and Path(store).is_file():
        try:  # the command's own file: anything else is refused, never replaced
            with np.load(store, allow_pickle=False) as saved:
                same, features = str(saved["key"]) == key, saved["features"]
            if same and (features.ndim != 2 or len(features) != len(texts) or features.dtype.kind != "f"):
                raise ValueError("features of another shape")
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            raise DataFormatError(
                "not an MSEA features file of this command (an .npz of key and features): delete it to compute "
                "them again",
                file=store,
            ) from None
        if same:
            return features
    features = encoder.encode(texts)
    if store is not None:
        buffer = io.BytesIO()
        np.savez(buffer, key=key, features=features)
        write_bytes(store, buffer.getvalue(), inputs=inputs)  # the folder must exist
    return features


LENGTH_STEP = 16
"""Tweets are encoded in batches of one shape per length bucket: their sub-word count rounded up to this step."""


def tweet_features(encoder, texts: Sequence[str]) -> np.ndarray:
    """MSEA features of ``texts`` (float64, in order), encoded in batches of similar length, each of one fixed
    shape: the texts whose sub-word count rounds up to the same multiple of :data:`LENGTH_STEP` go together, in
    batches of the encoder's batch size padded to that length (``Encoder.encode(length=...)``). A text's features
    therefore depend on its text alone, bit for bit, never on which other tweets share its batch: the prompts of a
    shard are those of one run. They equal the text encoded alone within float tolerance (``tests/test_msea_pool.py``
    checks 1e-5, the same examples, and shards; ``tests/perf/msea_perf.py`` measures the speed-up). An encoder
    without a tokenizer is asked for all texts at once."""
    if not texts:
        return np.zeros((0, 0))
    tokenizer = getattr(encoder, "tokenizer", None)
    if tokenizer is None:
        return np.asarray(encoder.encode(list(texts)), dtype=np.float64)
    limit = encoder.max_length
    counts = [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]]
    buckets: dict[int, list[int]] = {}
    for i, count in enumerate(counts):
        buckets.setdefault(min(limit, -(-count // LENGTH_STEP) * LENGTH_STEP), []).append(i)
    out: np.ndarray | None = None
    for length, members in sorted(buckets.items()):
        features = np.asarray(encoder.encode([texts[i] for i in members], length=length), dtype=np.float64)
        if out is None:
            out = np.empty((len(texts), features.shape[1]))
        out[members] = features
    assert out is not None
    return out


@dataclass(frozen=True)
class MseaPrompt:
    id: str  # the prompted tweet
    examples: list[str]  # the in-context examples' tweet ids, most similar first
    prompt: str

    @property
    def request(self) -> Request:
        """The LLM request of this prompt, keyed by tweet id."""
        return Request(self.prompt, key=self.id)


def msea_prompts(
    rows: Sequence[Mapping],
    images: Mapping[str, str],
    examples: Sequence[Example],
    encoder,
    n: int = 5,
    annotated: np.ndarray | None = None,
) -> list[MseaPrompt]:
    """One heuristic prompt per tweet with its ``n`` most similar examples (MSEA), never the tweet itself (same
    id or same normalised text); ``annotated`` are the examples' features when computed beforehand
    (:func:`example_features`). The tweets are encoded in batches of fixed shapes (:func:`tweet_features`): a
    tweet's features depend on its text alone, so a prompt does not depend on the other rows (sharding). A warning
    is logged when a tweet gets fewer than ``n`` examples."""
    texts = [" ".join(r["tokens"]) for r in rows]
    if examples and n and rows:
        if annotated is None:
            annotated = example_features(encoder, examples)
        features = tweet_features(
            encoder, [feature_text(t, images.get(r["id"])) for t, r in zip(texts, rows, strict=True)]
        )
        ids = np.array([e.id for e in examples])
        keys = [normalized_text(e.text) for e in examples]
        excluded = np.zeros((len(rows), len(examples)), dtype=bool)
        for i, (r, t) in enumerate(zip(rows, texts, strict=True)):
            key = normalized_text(t)
            excluded[i] = (ids == r["id"]) | np.array([bool(key) and k == key for k in keys])
        chosen = rank(features, np.asarray(annotated, dtype=np.float64), n, excluded)
    else:
        chosen = [[] for _ in rows]
    short = sum(len(c) < n for c in chosen)
    if rows and len(examples) < n:
        log.warning("the MSEA example pool has %d examples, fewer than top-n %d", len(examples), n)
    elif short:
        log.warning(
            "MSEA: %d of %d tweets get fewer than top-n %d in-context examples (a pool of %d, less the tweet itself)",
            short,
            len(rows),
            n,
            len(examples),
        )
    return [
        MseaPrompt(
            r["id"],
            [examples[i].id for i in chosen[j]],
            heuristic_prompt([examples[i] for i in chosen[j]], texts[j], images.get(r["id"]) or ""),
        )
        for j, r in enumerate(rows)
    ]


@dataclass
class MseaPrompter:
    """MSEA made once for a dataset: the example pool, the feature encoder and the examples' features; then
    one heuristic prompt per tweet (:meth:`prompts`)."""

    pool: ExamplePool
    encoder: Any
    features: np.ndarray
    top_n: int = 5

    def prompts(self, rows: Sequence[Mapping], images: Mapping[str, str]) -> list[MseaPrompt]:
        """Without manual annotation folders the prompts have no examples by choice: nothing to warn about."""
        n = self.top_n if self.pool.folders else 0
        return msea_prompts(rows, images, self.pool.examples, self.encoder, n=n, annotated=self.features)


def msea_prompter(
    encoder: str,
    manual: Sequence[str | os.PathLike],
    manual_data: Sequence[str],
    pool_images: Mapping[str, str],
    *,
    data_dir: str | os.PathLike,
    top_n: int = 5,
    device: str = "cpu",
    dtype: str | None = None,
    store: str | os.PathLike | None = None,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> MseaPrompter:
    """The pool (:func:`example_pool`), the ``encoder`` model and the pool's features (:func:`example_features`,
    kept in ``store`` when given): what ``baseline knowledge`` and the runner's knowledge stage both prompt with."""
    from .providers.encoder import Encoder

    pool = example_pool(manual, manual_data, pool_images, data_dir=data_dir)
    model = Encoder(encoder, device=device, dtype=dtype)
    return MseaPrompter(pool, model, example_features(model, pool.examples, store, inputs=inputs), top_n)


def build_knowledge(
    rows: Sequence[Mapping], images: Mapping[str, str], llm, prompter: MseaPrompter | None
) -> list[str]:
    """The knowledge of each tweet of ``rows``, in order: ``llm``'s answer to its MSEA prompt (``images``: the
    tweets' captions), or, with ``prompter`` None, the answer a replayed release holds for its id. The one
    builder of ``baseline knowledge`` (a split at a time) and the runner's knowledge stage (a shard)."""
    if prompter is None:
        return llm.generate([Request("", key=r["id"]) for r in rows])
    return llm.generate([p.request for p in prompter.prompts(rows, images)])


def write_release(
    folder: str | os.PathLike,
    splits: Mapping[str, Sequence[Mapping]],
    knowledge: Mapping[str, str],
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Write ``labels.txt`` and one file per split: tokens and tags, ``<EOS>``, the knowledge one word per line
    tagged ``X``, a blank line (atomically: a temporary folder, then a rename)."""
    with atomic_folder(folder, "knowledge", inputs=inputs) as tmp:
        (tmp / "labels.txt").write_text("\n".join(TAG_NAMES) + "\n", encoding="utf-8")
        for split, rows in splits.items():
            records = [
                (
                    r["tokens"],
                    [TAG_NAMES[t] if isinstance(t, int) else t for t in r["ner_tags"]],
                    knowledge.get(r["id"], ""),
                )
                for r in rows
            ]
            (tmp / RELEASE_FILES[split]).write_text(knowledge_text(records), encoding="utf-8")
    return Path(folder)


class KnowledgeConfig(Config):
    """Everything ``baseline knowledge`` does, one field per option: the knowledge of whole ``splits`` from an
    ``llm`` (``transformers:PATH | openai:MODEL@URL | replay:RELEASE``) asked with MSEA prompts, written as a
    release to ``out`` with its answers cached in ``cache``; or, with ``prompts_only`` (a JSON Lines file), the
    prompts alone (of shard ``shard_index`` of ``num_shards``), no LLM called."""

    model_config = ConfigDict(frozen=True)  # and Config's: unknown keys refused, every number finite

    dataset: Literal[DATASET_NAMES] = "gmner"  # type: ignore[valid-type]
    data_dir: str = Field(min_length=1)
    captions: list[str] = Field(min_length=1, description="caption and/or description files or folders")
    splits: list[str] = Field(default_factory=lambda: ["train", "validation", "test"], min_length=1)
    manual: list[str] = Field(default_factory=list, description="manual annotation folders")
    manual_data: list[str] = Field(default_factory=list, description="CONFIG:FOLDER whose tweets they annotate")
    manual_captions: list[str] = Field(default_factory=list, description="the annotated tweets' captions")
    encoder: str | None = Field(None, description="MSEA feature encoder (needed but with a replay LLM)")
    top_n: int = Field(5, ge=1, le=1000)
    features: str | None = Field(None, description="where to keep the examples' MSEA features (.npz)")
    llm: str | None = None
    cache: str | None = None
    out: str | None = None
    prompts_only: str | None = None
    num_shards: int = Field(1, ge=1)
    shard_index: int = Field(0, ge=0)
    device: str = "cpu"
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    device_map: str | None = None
    concurrency: int = Field(4, ge=1, le=256)

    @field_validator("splits")
    @classmethod
    def _canonical_splits(cls, splits: list[str]) -> list[str]:
        """Each split by its canonical name (``dev`` is ``validation``), once: a release has one file per split."""
        out: list[str] = []
        for name in splits:
            try:
                split = canonical_split(name)
            except UsageError as exc:
                raise PydanticCustomError("split", str(exc)) from None
            if split in out:
                raise PydanticCustomError("split", f"{name[:40]!r}: the {split} split is named twice")
            out.append(split)
        return out

    def check(self) -> KnowledgeConfig:
        """The rules across fields, as usage errors (exit 2) that name the options."""
        from .runner import shard_rows

        if self.prompts_only is None:
            missing = [f"--{name}" for name in ("llm", "cache", "out") if getattr(self, name) is None]
            if missing:
                raise UsageError(f"{', '.join(missing)} needed (or --prompts-only OUT.jsonl: the prompts, no LLM)")
            if self.num_shards > 1:
                raise UsageError("--num-shards works with --prompts-only (a knowledge release holds whole splits)")
        shard_rows([], self.num_shards, self.shard_index)  # a shard index out of range is a usage error, now
        for spec in self.manual_data:
            parse_manual_data(spec)
        return self

    @property
    def replay(self) -> bool:
        """The answers of a released knowledge file, replayed: no prompts (nor MSEA) needed."""
        return self.prompts_only is None and self.llm is not None and self.llm.startswith("replay:")

    def llm_kwargs(self) -> dict:
        """How the LLM runs (``llm_from_spec``'s keyword arguments)."""
        return {name: getattr(self, name) for name in ("device", "dtype", "device_map", "concurrency")}

    def inputs(self) -> list[str]:
        """What the run reads (no output may be one of them)."""
        llm = None if self.prompts_only is not None else self.llm
        models = llm.partition(":")[2].split(",") if llm and llm.startswith(("transformers:", "replay:")) else []
        folders = [parse_manual_data(spec)[1] for spec in self.manual_data]
        return [self.data_dir, *self.captions, *self.manual_captions, *self.manual, *folders, self.encoder, *models]


@dataclass
class KnowledgeResult:
    """What :func:`build` made: the knowledge of each tweet (by id; none with ``prompts_only``), the prompts (with
    ``prompts_only``: ``{"id", "examples", "prompt"}`` each) and the release folder or prompts file written."""

    knowledge: dict[str, str]
    prompts: list[dict]
    written: Path


def build(config: KnowledgeConfig, *, report: Callable[[str], None] | None = None) -> KnowledgeResult:
    """``baseline knowledge`` as a function: check the outputs before anything is read, make the MSEA prompter
    (but with a replay LLM), then ask the LLM about every tweet of ``config.splits`` and write the release, or
    write the prompts alone (``prompts_only``). ``report``: where the progress lines go (the pool's summary, one
    line per split; default: this module's logger)."""
    from smner_bench.benchmark.safe_output import check_folder, output_file, write_jsonl
    from smner_bench.loaders import load, read_captions

    from .providers.llm import llm_from_spec
    from .runner import shard_rows

    report = report or log.info
    config.check()
    inputs = config.inputs()
    if config.prompts_only is not None:  # refused before anything is read
        output_file(config.prompts_only, inputs=[*inputs, config.features])
    else:  # the release folder may hold neither the cache nor the features; neither may be an input
        check_folder(config.out, "knowledge", inputs=[*inputs, config.cache, config.features])  # before any LLM call
    if not config.replay and config.encoder is None:
        raise UsageError("--encoder is needed to choose the in-context examples (MSEA)")
    ds = load(config.dataset, config.data_dir)
    captions, descriptions = read_captions(config.captions)
    images = {**descriptions, **captions}
    prompter = None
    if not config.replay:
        pool_images = images
        if config.manual_captions:
            pool_captions, pool_descriptions = read_captions(config.manual_captions)
            pool_images = {**pool_descriptions, **pool_captions}
        written = [config.prompts_only] if config.prompts_only is not None else [config.cache]
        prompter = msea_prompter(
            config.encoder,  # type: ignore[arg-type]
            config.manual,
            config.manual_data,
            pool_images,
            data_dir=config.data_dir,
            top_n=config.top_n,
            device=config.device,
            dtype=config.dtype,
            store=config.features,
            inputs=[*inputs, *written],
        )
        report(prompter.pool.summary())
    if config.prompts_only is not None:
        lines = []
        for split in config.splits:
            rows = shard_rows(list(ds[split]), config.num_shards, config.shard_index)
            lines += [{"id": p.id, "examples": p.examples, "prompt": p.prompt} for p in prompter.prompts(rows, images)]
            report(f"{split}: {len(rows)} prompts")
        write_jsonl(config.prompts_only, lines, inputs=[*inputs, config.features])
        return KnowledgeResult({}, lines, Path(config.prompts_only))
    knowledge, splits = {}, {split: list(ds[split]) for split in config.splits}
    for split, rows in splits.items():
        where = {"dataset": config.dataset, "data_dir": config.data_dir, "split": split}
        llm = llm_from_spec(config.llm, config.cache, **where, **config.llm_kwargs(), inputs=[*inputs, config.features])
        knowledge.update(zip([r["id"] for r in rows], build_knowledge(rows, images, llm, prompter), strict=True))
        report(f"{split}: {len(rows)} tweets ({llm.hits} cached answers, {llm.misses} new)")
    out = write_release(config.out, splits, knowledge, inputs=[*inputs, config.cache, config.features])
    return KnowledgeResult(knowledge, [], out)

