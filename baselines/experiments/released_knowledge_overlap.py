"""How close the released gpt-3.5 Twitter-GMNER knowledge is to the human answers of the MSEA examples.

The released knowledge was generated with in-context examples chosen from the manual annotations, and some of
those annotations are dev/test tweets of Twitter-GMNER itself. For every held-out annotated tweet (by id or by
normalised text, as :func:`smner_bench.baselines.knowledge.example_pool` decides), this compares the released
knowledge with the tweet's own human analysis and, as a baseline, with the closest of all the other analyses
(word-sequence similarity, difflib). It also counts how often the knowledge names every gold entity, for the
annotated tweets and for the others. The figures quoted in docs/baselines.md ("MSEA") come from this script:

    .venv/bin/python baselines/experiments/released_knowledge_overlap.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import difflib
import re
import statistics
from pathlib import Path

from smner_bench.baselines.knowledge import example_pool
from smner_bench.loaders import (
    QuirkReport,
    align_knowledge,
    read_captions,
    read_conll,
    read_knowledge,
    read_manual_annotations,
)

SPLITS = (("validation", "dev.txt"), ("test", "test.txt"))


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


def named_part(knowledge: str) -> str:
    """The "named entities" part of an answer (before its reasoning)."""
    return knowledge.split("Reasoning")[0].lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the shared data folder")
    args = parser.parse_args()
    data = Path(args.data)
    gmner = data / "twitter-gmner" / "v2.0"
    knowledge_zip = data / "llm-knowledge" / "twitter-gmner_gpt-3.5-turbo.zip"
    captions, descriptions = read_captions([data / "captions" / "BLIP2_15.txt", data / "captions" / "BLIP2_17.txt"])
    manual = [data / "manual-annotations" / "2015", data / "manual-annotations" / "2017"]
    manual_data = [f"twitter2015:{data / 'twitter2015'}", f"twitter2017:{data / 'twitter2017'}"]
    pool = example_pool(manual, manual_data, {**descriptions, **captions}, data_dir=gmner)
    annotations = {m.id: m for folder in manual for m in read_manual_annotations(folder) if m.analysis}
    print(
        f"pool: {len(pool.examples)} examples; held out: "
        + ", ".join(f"{s} {len(i)}" for s, i in pool.held_out.items())
    )

    for split, name in SPLITS:
        tweets = read_conll(gmner / name)
        _, records = read_knowledge(knowledge_zip, split)
        knowledge = align_knowledge([(t.id, t.tokens, t.tags) for t in tweets], records, file="k", report=QuirkReport())
        pairs = [(i, i) for i in pool.held_out[split]] + [(tid, a) for a, s, tid in pool.by_text if s == split]
        pairs = [(t, a) for t, a in pairs if t in knowledge]
        own = [similarity(knowledge[t], annotations[a].analysis) for t, a in pairs]
        other = [max(similarity(knowledge[t], m.analysis) for i, m in annotations.items() if i != a) for t, a in pairs]
        print(
            f"{split}: {len(pairs)} annotated tweets; similarity to their own human analysis: median "
            f"{statistics.median(own):.2f}, >= 0.5: {sum(x >= 0.5 for x in own)}, >= 0.8: {sum(x >= 0.8 for x in own)}"
            f"; to the closest other analysis: >= 0.5: {sum(x >= 0.5 for x in other)}, "
            f">= 0.8: {sum(x >= 0.8 for x in other)}"
        )
        held = set(pool.held_out[split]) | {tid for _, s, tid in pool.by_text if s == split}

        def all_named(t, knowledge=knowledge) -> bool:
            return all(" ".join(t.tokens[a:b]).lower() in named_part(knowledge[t.id]) for a, b, _ in t.spans)

        annotated = [t for t in tweets if t.id in held and t.id in knowledge and t.spans]
        others = [t for t in tweets if t.id not in held and t.id in knowledge and t.spans]
        print(
            f"{split}: knowledge names every gold entity: annotated {sum(map(all_named, annotated))}/{len(annotated)}"
            f", others {sum(map(all_named, others))}/{len(others)}"
        )


if __name__ == "__main__":
    main()
