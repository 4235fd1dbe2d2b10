"""Entity expansion expressions (paper section IV-B-2): an LLM tells briefly what each predicted entity is, from
the tweet and the detailed description of its image (the paper's mPLUG-Owl descriptions; the runner's
``description``), with a fixed prompt: an instruction, three hand-written demonstrations, then the question,
which names the entity with its type (as the authors' request script does). The referring expression is
``Entity (TYPE) - expansion``. Several LLMs' expressions can be kept side by side.

``--prompt-file`` / ``expansion.prompt_file``: any template instead (the authors' own, for instance), with the
named placeholders ``{entity}``, ``{type}``, ``{text}`` and ``{description}`` (``{{`` and ``}}`` for braces).

``run(ExpandConfig(...))`` does what ``smner-bench baseline expand`` does (but write the submission)."""

from __future__ import annotations

import os
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError
from smner_bench.benchmark.registry import DATASET_NAMES

from .config import Config
from .providers.llm import Request

INSTRUCTION = (
    "Answer like the examples below: one short phrase that says what kind of thing the named entity is, "
    "using the image background and the text. Do not repeat the entity's name."
)

# (image description, tweet, entity, type, answer): written for this project.
DEMONSTRATIONS = (
    (
        "The picture shows a stadium at night, packed with fans. Players in two kits run across a bright green "
        "pitch under floodlights while a big screen shows the score.",
        "Messi scores twice as Barcelona beat Sevilla",
        "Barcelona",
        "ORG",
        "A professional football club playing in the match shown in the stadium.",
    ),
    (
        "A woman in a dark jacket speaks at a wooden podium with microphones. A flag stands behind her and "
        "people sit in rows of seats, listening.",
        "Watch Angela Merkel address the Bundestag live now",
        "Angela Merkel",
        "PER",
        "A woman politician giving a speech at a podium.",
    ),
    (
        "A bowl of ramen with sliced pork, a boiled egg and green onions sits on a wooden counter next to a cup "
        "of tea; a paper menu is pinned to the wall behind it.",
        "Lunch break at Ichiran before heading back to the office",
        "Ichiran",
        "LOC",
        "A ramen restaurant where the bowl of noodles was served.",
    ),
)
PLACEHOLDERS = ("entity", "type", "text", "description")


def question(entity: str, kind: str | None = None) -> str:
    named = f"{entity} ({kind})" if kind else entity
    return f"In the context of the provided information, tell me briefly what is the {named} in the Text?"


def expansion_prompt(entity: str, text: str, image: str, kind: str | None = None) -> str:
    """The default prompt: the instruction, the three demonstrations, then this entity's question."""
    blocks = [
        f"Background: {bg}\nText: {tx}\nQuestion: {question(en, ty)}\nAnswer: {ans}"
        for bg, tx, en, ty, ans in DEMONSTRATIONS
    ]
    blocks.append(f"Background: {image}\nText: {text}\nQuestion: {question(entity, kind)}\nAnswer:")
    return "\n\n".join([INSTRUCTION, *blocks])


def read_template(path: str | os.PathLike) -> str:
    """A prompt template file, checked: only the named placeholders ``{entity}``, ``{type}``, ``{text}``,
    ``{description}``, at least ``{entity}``."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("prompt template not found", file=path)
    template = path.read_text(encoding="utf-8")
    try:
        names = {name for _, name, spec, conv in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise DataFormatError(f"not a template ({exc}; write {{{{ and }}}} for braces)", file=path) from None
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise DataFormatError(
            f"unknown placeholder {{{unknown[0]}}}: use {', '.join('{' + n + '}' for n in PLACEHOLDERS)}", file=path
        )
    if "entity" not in names:
        raise DataFormatError("the template never names the entity ({entity})", file=path)
    return template


def render(template: str, entity: str, kind: str, text: str, description: str) -> str:
    return template.format(entity=entity, type=kind, text=text, description=description)


def referring_expression(entity: str, kind: str, expansion: str) -> str:
    """``"Garfield Park (LOC) - A conservatory filled with plants."``"""
    return f"{entity} ({kind}) - {expansion.strip().splitlines()[0] if expansion.strip() else ''}".rstrip(" -")


def expand(
    lines: Sequence[dict],
    texts: Mapping[str, str],
    images: Mapping[str, str],
    llms: Mapping[str, object],
    *,
    template: str | None = None,
) -> list[dict]:
    """Add ``expressions`` ({llm name: referring expression}) to every entity of submission ``lines``;
    ``images``: each tweet's image description; ``template``: a prompt template instead of the default."""
    requests, where = [], []
    for li, line in enumerate(lines):
        for ei, e in enumerate(line["entities"]):
            text, image = texts[line["id"]], images.get(line["id"]) or ""
            prompt = (
                render(template, e["text"], e["type"], text, image)
                if template is not None
                else expansion_prompt(e["text"], text, image, e["type"])
            )
            requests.append(Request(prompt, key=line["id"]))
            where.append((li, ei))
    out = [{"id": line["id"], "entities": [dict(e, expressions={}) for e in line["entities"]]} for line in lines]
    for name, llm in llms.items():
        for (li, ei), answer in zip(where, llm.generate(requests), strict=True):
            e = out[li]["entities"][ei]
            e["expressions"][name] = referring_expression(e["text"], e["type"], answer)
    return out


class ExpandConfig(Config):
    """Everything ``baseline expand`` does but write its output, one field per option: the referring expressions
    of the entities of a ``predictions`` submission (or, with ``gold_entities``, of the split's gold entities) from
    each of the ``llm`` specs (``transformers:PATH | openai:MODEL@URL``), their answers cached in ``cache``."""

    model_config = ConfigDict(frozen=True)  # and Config's: unknown keys refused, every number finite

    predictions: str | None = None
    gold_entities: bool = False
    dataset: Literal[DATASET_NAMES] = "gmner"  # type: ignore[valid-type]
    split: str = Field(min_length=1)
    data_dir: str = Field(min_length=1)
    captions: list[str] = Field(min_length=1, description="image description files (mPLUG-Owl; else the captions)")
    llm: list[str] = Field(min_length=1, description="one or more LLMs, kept side by side")
    prompt_file: str | None = None
    cache: str
    max_new_tokens: int = Field(256, ge=1, le=32768, description="the longest answer of a transformers LLM")
    device: str = "cpu"
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    device_map: str | None = None
    concurrency: int = Field(4, ge=1, le=256)

    def check(self) -> ExpandConfig:
        """The rules across fields, as usage errors (exit 2) that name the options."""
        if any(spec.startswith("replay:") for spec in self.llm):
            raise UsageError("the released knowledge holds no expansion expressions: use a transformers or openai LLM")
        if (self.predictions is None) == (not self.gold_entities):
            raise UsageError("give a predictions file or --gold-entities (the split's gold entities), not both")
        return self

    def inputs(self) -> list[str | None]:
        """What the run reads (the output may be none of them)."""
        models = [p for spec in self.llm if spec.startswith("transformers:") for p in spec.partition(":")[2].split(",")]
        return [self.predictions, self.data_dir, *self.captions, *models, self.prompt_file]


@dataclass
class ExpandResult:
    """The submission lines with every entity's ``expressions`` ({llm spec: expression}), how many entities were
    expanded, and the LLMs by spec (``skipped``: prompts longer than an LLM's context, left empty)."""

    lines: list[dict]
    entities: int
    llms: dict[str, object]


def entities_to_expand(config: ExpandConfig, gold) -> list[dict]:
    """A line ``{"id", "entities"}`` for every tweet of the split: its gold entities, or the predicted ones."""
    from smner_bench.benchmark.submission import gold_as_submission, read_submission

    lines: dict[str, list] = {t.id: [] for t in gold.tweets}
    if config.gold_entities:  # the expressions VE/VG are trained with (ve-train/vg-train --expressions)
        for line in gold_as_submission(gold):
            lines[line["id"]] = [{k: e[k] for k in ("start", "end", "text", "type")} for e in line["entities"]]
    else:
        sub = read_submission(config.predictions, gold, allow_missing=True)
        for p in sub.predictions:
            lines[gold.tweets[p.tweet].id].append({"start": p.start, "end": p.end, "text": p.text, "type": p.type})
    return [{"id": k, "entities": v} for k, v in lines.items()]


def run(config: ExpandConfig) -> ExpandResult:
    """``baseline expand`` as a function: the entities of every tweet of the split, each LLM's referring expression
    of each (answers cached in ``config.cache``); the caller writes ``result.lines`` (``write_submission``)."""
    from smner_bench.loaders import load_gold, read_captions

    from .providers.llm import llm_from_spec

    config.check()
    template = read_template(config.prompt_file) if config.prompt_file else None
    gold = load_gold(config.dataset, config.split, data_dir=config.data_dir)
    lines = entities_to_expand(config, gold)
    captions, descriptions = read_captions(config.captions)
    where = {"dataset": config.dataset, "data_dir": config.data_dir, "split": config.split}
    names = ("device", "dtype", "device_map", "concurrency", "max_new_tokens")
    kwargs = {name: getattr(config, name) for name in names}
    llms = {spec: llm_from_spec(spec, config.cache, **where, **kwargs, inputs=config.inputs()) for spec in config.llm}
    out = expand(
        lines,
        {t.id: " ".join(t.tokens) for t in gold.tweets},
        {**captions, **descriptions},  # the detailed description where there is one (the paper's mPLUG-Owl)
        llms,
        template=template,
    )
    return ExpandResult(out, sum(len(line["entities"]) for line in lines), llms)
