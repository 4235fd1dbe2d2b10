"""Entity expansion expressions (paper section IV-B-2): an LLM tells briefly what each predicted entity is, from
the tweet and its image description, with three fixed hand-written in-context examples; the referring
expression is ``Entity (TYPE) - expansion``. Several LLMs' expressions can be kept side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .providers.llm import Request

IN_CONTEXT = (
    (
        "A crowded stadium at night with players on a green pitch.",
        "Messi scores twice as Barcelona beat Sevilla",
        "Barcelona",
        "A professional football club playing in the match shown in the stadium.",
    ),
    (
        "A woman speaking at a podium in front of a flag.",
        "Watch Angela Merkel address the Bundestag live now",
        "Angela Merkel",
        "A woman politician giving a speech at a podium.",
    ),
    (
        "A bowl of noodles on a wooden table next to a cup of tea.",
        "Lunch break at Ichiran before heading back to the office",
        "Ichiran",
        "A ramen restaurant where the bowl of noodles was served.",
    ),
)


def question(entity: str) -> str:
    return f"In the context of the provided information, tell me briefly what is the {entity} in the Text?"


def expansion_prompt(entity: str, text: str, image: str) -> str:
    blocks = [
        f"Background: {bg}\nText: {tx}\nQuestion: {question(en)}\nAnswer: {ans}" for bg, tx, en, ans in IN_CONTEXT
    ]
    blocks.append(f"Background: {image}\nText: {text}\nQuestion: {question(entity)}\nAnswer:")
    return "\n\n".join(blocks)


def referring_expression(entity: str, kind: str, expansion: str) -> str:
    """``"Garfield Park (LOC) - A conservatory filled with plants."``"""
    return f"{entity} ({kind}) - {expansion.strip().splitlines()[0] if expansion.strip() else ''}".rstrip(" -")


def expand(
    lines: Sequence[dict], texts: Mapping[str, str], images: Mapping[str, str], llms: Mapping[str, object]
) -> list[dict]:
    """Add ``expressions`` ({llm name: referring expression}) to every entity of submission ``lines``."""
    requests, where = [], []
    for li, line in enumerate(lines):
        for ei, e in enumerate(line["entities"]):
            requests.append(
                Request(expansion_prompt(e["text"], texts[line["id"]], images.get(line["id"]) or ""), key=line["id"])
            )
            where.append((li, ei))
    out = [{"id": line["id"], "entities": [dict(e, expressions={}) for e in line["entities"]]} for line in lines]
    for name, llm in llms.items():
        for (li, ei), answer in zip(where, llm.generate(requests), strict=True):
            e = out[li]["entities"][ei]
            e["expressions"][name] = referring_expression(e["text"], e["type"], answer)
    return out
