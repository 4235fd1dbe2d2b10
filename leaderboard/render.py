"""Ranked boards from entries: the rows, a terminal table and the Markdown page.

A board is one task on one dataset split, under one ruler and one gold: the evaluator convention the figures
were measured with (an id of the registry's ``EVALUATORS``: ``provenance.evaluator`` of a publication, the
convention a scored entry's match mode reproduces) and the gold they were computed on (a release version, or a
paper's derived gold). Rows of different rulers or golds are never ranked together: each pair is its own table,
this package's ruler (:data:`DEFAULT_RULER`) first. Rows are ranked by the main F1; entries of one system with
identical figures (a baseline printed in several tables) are merged into one row listing every source.
The Markdown page escapes every text of an entry (:mod:`.escape`): a system name is never a link or HTML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from smner_bench.benchmark.registry import DATASETS, EVALUATOR_IDS, EVALUATORS, RANKED_TASK_NAMES

from .entry import SUBTASKS, DerivedGold, Entry, Figures, ReleaseGold, slug
from .escape import markdown_link, markdown_text, terminal_text
from .store import Stored

DATASET_TITLES = {d.name: d.board_title for d in DATASETS.values()}
DEFAULT_RULER = EVALUATOR_IDS[0]  # this package's span identity: the default view
# A paper's MNER F1 counts each gold entity once by span and type (conlleval), as smner-span counts MNER: an MNER
# row that names no ruler is ranked there, marked as assumed.
MNER_RULER = "smner-span"
BoardKey = tuple[str, str, str, str, str]  # (task, dataset, split, ruler, gold id: "" for the dataset's release)
NOT_ON_THE_BOARD = (
    "Twitter-FMNERG figures (MQSPN Tables 1-3, UnCo Table 2) are not on the board: this package does not "
    "distribute that dataset."
)


def ruler(entry: Entry) -> str:
    """The evaluator convention of the entry's figures (the model requires one on GMNER and SMNER entries)."""
    return entry.provenance.evaluator or MNER_RULER


def assumed(entry: Entry) -> tuple[str, ...]:
    """What of the ruler and the gold no source states (an MNER row naming no ruler: the ruler)."""
    p = entry.provenance
    return p.assumed if p.evaluator is not None else ("evaluator", *p.assumed)


def gold(entry: Entry) -> tuple[str, str]:
    """``(id, label)`` of the gold the entry's figures were computed on: the id is "" for the release the entry's
    dataset names, the version for another release, a digest of the label for a derived gold."""
    record = entry.provenance.gold if entry.provenance.kind == "publication" else None
    if isinstance(record, DerivedGold):
        counted = (
            f", {record.tweets_differ} tweets differ from the {entry.dataset_version} release"
            if record.tweets_differ is not None
            else ", tweets that differ from the release: not counted yet"
        )
        label = f"derived gold ({record.description}{counted})"
        return "derived-" + hashlib.sha256(label.encode()).hexdigest()[:8], label
    version = record.version if isinstance(record, ReleaseGold) else entry.dataset_version
    label = version if "release" in version else f"release {version}"
    return ("" if version == DATASETS[entry.dataset].version else slug(version)), label


@dataclass
class Row:
    entry: Entry
    sources: list[Entry] = field(default_factory=list)

    @property
    def rank_key(self) -> tuple:
        return (-self.entry.main.f1, self.entry.system, self.entry.id)


def board_key(entry: Entry) -> BoardKey:
    return (entry.task, entry.dataset, entry.split, ruler(entry), gold(entry)[0])


def _order(key: BoardKey) -> tuple:
    task, dataset, split, ruler_id, gold_id = key
    return (EVALUATOR_IDS.index(ruler_id), RANKED_TASK_NAMES.index(task), dataset, split, gold_id)


def boards(stored: Iterable[Stored]) -> dict[BoardKey, list[Row]]:
    """``{(task, dataset, split, ruler, gold id): ranked rows}``, this package's ruler first."""
    grouped: dict[BoardKey, list[Row]] = {}
    for s in stored:
        e = s.entry
        rows = grouped.setdefault(board_key(e), [])
        for row in rows:
            same = (row.entry.system, row.entry.variant, row.entry.results, row.entry.dataset_version)
            if same == (e.system, e.variant, e.results, e.dataset_version) and e.provenance.kind == "publication":
                row.sources.append(e)
                break
        else:
            rows.append(Row(e, [e]))
    return {
        key: sorted(rows, key=lambda r: r.rank_key) for key, rows in sorted(grouped.items(), key=lambda i: _order(i[0]))
    }


def variant_text(entry: Entry) -> str:
    v = entry.variant
    parts = [f"{name} {value}" for name, value in (("MNER", v.mner), ("VE", v.ve), ("VG", v.vg)) if value]
    text = ", ".join(parts)
    for label, value in (("encoder", v.text_encoder), ("LLM", v.llm), ("augmentation", v.augmentation)):
        if value:
            text += f"{'; ' if text else ''}{label}: {value}"
    return text


def origin_text(entry: Entry) -> str:
    """How a publication's figures came to its table (plain text): quoted from a paper, reproduced by its
    authors, and which of ruler and gold no source states."""
    p = entry.provenance
    if p.kind != "publication":
        return ""
    text = {"own": "", "reproduced": ", reproduced by the paper's authors", "quoted": f", quoted from {p.quoted_from}"}
    guessed = assumed(entry)
    return text[p.origin] + (
        f" ({' and '.join('ruler' if a == 'evaluator' else a for a in guessed)} assumed)" if guessed else ""
    )


def source_text(entries: list[Entry], *, markdown: bool = False) -> str:
    """Where the figures come from; ``markdown``: as Markdown (the texts escaped, the table linked)."""
    text = markdown_text if markdown else str
    out = []
    for e in entries:
        p = e.provenance
        links = "".join(
            f" \u00b7 {markdown_link(label, url)}"
            for label, url in (("paper", p.paper_url), ("code", p.code_url))
            if markdown and url
        )
        if p.kind == "publication":
            link = p.url or (f"https://arxiv.org/abs/{p.arxiv}" if p.arxiv else None)
            table = markdown_link(p.table, link) if markdown else p.table
            paper = f"{text(p.paper)}, " if p.paper else ""
            out.append(f"{paper}{table}, row \u201c{text(p.row)}\u201d{text(origin_text(e))}{links}")
        else:
            imported = f", imported from the release {text(p.release.file)}" if p.release else ""
            out.append(
                f"scored here {p.date} (sha256 {p.submission_sha256[:12]}, smner-bench "
                f"{text(p.smner_bench_version)}, match {p.match}{imported}){links}"
            )
    return "; ".join(out)


MISSING = "-"  # a figure the source does not give
UNDEFINED = "n/a"  # a figure of nothing: precision without predictions, recall without gold, F1 of neither


def _fmt(value: float | None, defined: bool = True) -> str:
    return MISSING if value is None else f"{value:.2f}" if defined else UNDEFINED


def figure_cells(figures: Figures) -> tuple[str, str, str]:
    """Precision, recall and F1 as printed: ``-`` where the source gives none, ``n/a`` where the figure is
    undefined by its counts (precision with no prediction, recall with no gold entity, F1 with neither), not
    0.00. A figure without counts (a paper's) is printed as it is.

    >>> figure_cells(Figures(precision=0.0, recall=0.0, f1=0.0, tp=0, pred=0, gold=4))
    ('n/a', '0.00', '0.00')
    """
    counted = figures.has_counts
    return (
        _fmt(figures.precision, not counted or bool(figures.pred)),
        _fmt(figures.recall, not counted or bool(figures.gold)),
        _fmt(figures.f1, not counted or bool(figures.pred) or bool(figures.gold)),
    )


def interval_text(entry: Entry) -> str:
    """``low-high`` of a scored entry's 95% bootstrap interval of its main F1; "" for a row without one (a
    paper's)."""
    i = entry.interval
    return "" if i is None else f"{i.low:.2f}-{i.high:.2f}"


INTERVAL_COLUMN = "F1 95% CI"


def columns(task: str) -> list[str]:
    return [
        "#",
        "system",
        "variant",
        "P",
        "R",
        "F1",
        INTERVAL_COLUMN,
        *(f"{t.upper()} F1" for t in SUBTASKS[task][1:]),
        "source",
    ]


def cells(rank: int, row: Row, *, markdown: bool = False) -> list[str]:
    """The row's cells as plain text, or as Markdown (every text escaped)."""
    e = row.entry
    text = markdown_text if markdown else str
    subs = [figure_cells(e.results[t])[2] if t in e.results else MISSING for t in SUBTASKS[e.task][1:]]
    return [
        str(rank),
        text(e.system),
        text(variant_text(e)),
        *figure_cells(e.main),
        interval_text(e),
        *subs,
        source_text(row.sources, markdown=markdown),
    ]


def ruler_label(ruler_id: str) -> str:
    spec = EVALUATORS[ruler_id]
    return f"{spec.id} ({spec.name}{', this package: the default view' if ruler_id == DEFAULT_RULER else ''})"


def board_title(key: BoardKey, rows: list[Row]) -> str:
    task, dataset, split, ruler_id, _ = key
    return (
        f"{task.upper()} on {DATASET_TITLES[dataset]}, {split} split; ruler {ruler_id}; gold: {gold(rows[0].entry)[1]}"
    )


def rulers_paragraph() -> str:
    """What each ruler counts, one paragraph (plain text; from the registry's EVALUATORS)."""
    parts = [
        f"{e.id} ({e.name}): {e.definition}; one gold row per {e.unit}; entities known by their {e.identity}; "
        f"region: {e.region}; source: {e.source}."
        for e in EVALUATORS.values()
    ]
    return (
        "Each table holds the rows of one ruler (the evaluator convention the figures were measured with) and "
        "one gold, and ranks count within a table only: figures of different rulers or golds are not comparable. "
        + " ".join(parts)
        + f" A paper's MNER row that names no ruler is ranked under {MNER_RULER} (an MNER F1 counts each gold entity "
        "once by span and type), marked as assumed; so is any ruler or gold no source states."
    )


GOLDS_PARAGRAPH = (
    "A table's gold is a release of the dataset (its version; figures of Twitter-GMNER printed before the "
    "dataset's corrections of 2023-07-21 are on v1), or a derived gold: a test file a paper's authors evaluated "
    "against that is not the release (with the number of tweets that differ from it, from smner-bench gold-diff, "
    "once counted). A row scored here is on the release whose checksum its entry records."
)


@dataclass(frozen=True)
class Figure:
    """One figure of a system that has several on a board (:func:`several_figures`)."""

    f1: str  # "57.48", or "57.75-67.06 in 14 rows"
    source: str  # plain text: paper, table, origin
    ruler: str
    gold: str


ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50}


def _table_order(table: str) -> tuple:
    """``Table VI`` before ``Table VIII`` before ``Table IX``; ``Table 2`` before ``Table 10``."""
    number = table.rsplit(" ", 1)[-1]
    if number.isdigit():
        return (int(number), table)
    if number and set(number) <= set(ROMAN):
        values = [ROMAN[c] for c in number]
        return (sum(-v if v < w else v for v, w in zip(values, [*values[1:], 0], strict=True)), table)
    return (10**9, table)


def several_figures(all_boards: dict[BoardKey, list[Row]]) -> list[tuple[str, str, list[Figure]]]:
    """The systems of which a paper quotes a figure while rows of another origin (the system's own paper, a
    reproduction, a submission scored here) of the same task and dataset split, under any ruler or gold, print
    others: ``(board title without ruler and gold, system, figures)``. The rows of one paper, origin, ruler and
    gold are summarised by their F1 range."""
    by_system: dict[tuple[str, str, str, str], list[tuple[BoardKey, Row]]] = {}
    for key, rows in all_boards.items():
        for row in rows:
            by_system.setdefault((*key[:3], row.entry.system), []).append((key, row))
    out = []
    for (task, dataset, split, system), found in sorted(by_system.items()):
        origins = {
            r.entry.provenance.origin if r.entry.provenance.kind == "publication" else "scored" for _, r in found
        }
        if "quoted" not in origins or origins == {"quoted"} or len({r.entry.main.f1 for _, r in found}) < 2:
            continue
        groups: dict[tuple[str, str, str, str], list[tuple[float, list[str], str]]] = {}
        for key, row in found:
            e = row.entry
            p = e.provenance
            paper = (p.paper or p.citation[:60]) if p.kind == "publication" else "scored here"
            origin = p.origin if p.kind == "publication" else "scored"
            guessed = " (assumed)" if "evaluator" in assumed(e) else ""
            tables = [s.provenance.table for s in row.sources if s.provenance.kind == "publication"]
            label = p.row if p.kind == "publication" else ""
            groups.setdefault((paper, origin, key[3] + guessed, gold(e)[1]), []).append((e.main.f1, tables, label))
        figures = []
        for (paper, origin, ruler_id, gold_label), grouped in groups.items():
            low, high = min(g[0] for g in grouped), max(g[0] for g in grouped)
            f1 = f"{low:.2f}" if len(grouped) == 1 else f"{low:.2f}-{high:.2f} in {len(grouped)} rows"
            tables = sorted({t for g in grouped for t in g[1]}, key=_table_order)
            named = tables[0] if len(tables) == 1 else "Tables " + ", ".join(t.removeprefix("Table ") for t in tables)
            if len(grouped) == 1 and len(tables) == 1:
                named += f", row \u201c{grouped[0][2]}\u201d"
            source = paper + (f", {named}" if tables else "") + ("" if origin in ("own", "scored") else f", {origin}")
            figures.append(Figure(f1, source, ruler_id, gold_label))
        title = f"{task.upper()} on {DATASET_TITLES[dataset]}, {split} split"
        out.append((title, system, sorted(figures, key=lambda f: f.f1)))
    return out


def figure_text(figure: Figure) -> str:
    """One figure with where it comes from; no parenthesis around the gold's label (which has its own)."""
    return f"{figure.f1}: {figure.source}; ruler {figure.ruler}; gold: {figure.gold}"


def terminal_table(key: BoardKey, rows: list[Row], width: int = 60) -> str:
    """The board as aligned text; only the source column is cut to ``width`` characters (names, variants and
    figures are printed whole)."""
    header = columns(key[0])
    body = [[terminal_text(c) for c in cells(i + 1, r)] for i, r in enumerate(rows)]
    body = [[*r[:-1], r[-1] if len(r[-1]) <= width else r[-1][: width - 1] + "\u2026"] for r in body]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [terminal_text(board_title(key, rows)), "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def markdown(all_boards: dict[BoardKey, list[Row]]) -> str:
    rulers = [r for r in EVALUATOR_IDS if any(key[3] == r for key in all_boards)]
    lines = [
        "# smner-bench leaderboard",
        "",
        "Generated by `smner-bench leaderboard render` from the entries in `leaderboard/entries/`; do not edit by",
        "hand. Figures are percentages; rows are ranked by F1 within a table. Every row names its source: a table of",
        "a publication (figures as printed; quoted or reproduced figures say so) or a submission scored here (its",
        "SHA-256).",
        "",
        "**Rulers.** " + markdown_text(rulers_paragraph()),
        "",
        "**Golds.** " + markdown_text(GOLDS_PARAGRAPH),
        "",
        "Rulers on this page: "
        + " \u00b7 ".join(
            f"[{r}](#ruler-{r})" + (" (this package's: the default view)" if r == DEFAULT_RULER else "") for r in rulers
        ),
        "",
    ]
    for ruler_id in rulers:
        lines += [
            f"## Ruler {ruler_id}",
            "",
            markdown_text(f"{ruler_label(ruler_id)}: {EVALUATORS[ruler_id].definition}."),
            "",
        ]
        for key, rows in all_boards.items():
            if key[3] != ruler_id:
                continue
            header = columns(key[0])
            lines += [
                f"### {markdown_text(board_title(key, rows))}",
                "",
                "| " + " | ".join(header) + " |",
                "|" + "|".join("---" for _ in header) + "|",
            ]
            for i, row in enumerate(rows):
                lines.append("| " + " | ".join(cells(i + 1, row, markdown=True)) + " |")
            lines.append("")
    several = several_figures(all_boards)
    if several:
        lines += [
            "## One system, several figures",
            "",
            "Where a paper quotes a figure of a system and other rows print other figures of it (its own paper, "
            "another version, a reproduction), every figure is on the board, each in the table of its ruler and gold:",
            "",
        ]
        for title, system, figures in several:
            lines.append(f"- {markdown_text(title)}, {markdown_text(system)}:")
            lines += [f"  - {markdown_text(figure_text(f))}" for f in figures]
        lines.append("")
    lines += [markdown_text(NOT_ON_THE_BOARD), ""]
    return "\n".join(lines)
