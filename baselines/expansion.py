"""Entity expansion expressions (paper section IV-B-2): an LLM tells briefly what each predicted entity is, from
the tweet and the detailed description of its image (the paper's mPLUG-Owl descriptions; the runner's
``description``), with a fixed prompt: an instruction, three hand-written demonstrations, then the question,
which names the entity with its type (as the authors' request script does). The referring expression is
``Entity (TYPE) - expansion``. Several LLMs' expressions can be kept side by side.

``--prompt-file`` / ``expansion.prompt_file``: any template instead (the authors' own, for instance), with the
named placeholders ``{entity}``, ``{type}``, ``{text}`` and ``{description}`` (``{{`` and ``}}`` for braces)."""

from __future__ import annotations

import os
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError

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
