"""The static leaderboard site: one page per board (sortable table, provenance, plots) and an index.

Plots are matplotlib SVG files: precision/recall scatter of every board, the IoU-threshold sensitivity
curves of the entries that carry a sweep (scored submissions; the paper's Fig. 9) and per-type F1 bars of
the entries that carry per-type figures. Sorting is a few lines of plain JavaScript; no framework.
Every text of an entry is escaped for where it goes (:mod:`.escape`): HTML text and attributes, links to web
URLs only, plot labels never parsed as mathtext or TeX.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

from smner_bench.benchmark import __version__
from smner_bench.benchmark.cli_options import redact_command
from smner_bench.benchmark.safe_output import FOLDER_MODE, atomic_folder, write_bytes, write_text

from .entry import SUBTASKS
from .escape import PLOT_RC, html_text, plot_text, web_url
from .render import (
    DEFAULT_RULER,
    GOLDS_PARAGRAPH,
    NOT_ON_THE_BOARD,
    BoardKey,
    Row,
    board_title,
    boards,
    cells,
    columns,
    figure_text,
    gold,
    origin_text,
    ruler_label,
    rulers_paragraph,
    several_figures,
)
from .store import Stored

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.scored { background: #eef7ee; }
.meta { color: #555; } .plots img { max-width: 48%; margin: 1%; border: 1px solid #eee; }
"""

SORT_JS = """
document.querySelectorAll("table.board").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-sort") || a.cells[col].textContent;
        var y = b.cells[col].getAttribute("data-sort") || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? cmp : -cmp;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def page_name(key: BoardKey) -> str:
    """``<task>-<dataset>-<split>-<ruler>[-<gold id>].html``."""
    return "-".join(part for part in key if part) + ".html"


def _plots(key: BoardKey, rows: list[Row], folder: Path) -> list[tuple[str, str]]:
    """Write this board's SVG plots; returns (file name, caption) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(PLOT_RC), warnings.catch_warnings():
        # a name in a script the font lacks is drawn with boxes, without a warning per glyph on the console
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from", UserWarning)
        return _draw_plots(key, rows, folder)


def _draw_plots(key: BoardKey, rows: list[Row], folder: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    stem = page_name(key).removesuffix(".html")
    out = []

    def save(fig, kind: str, caption: str) -> tuple[str, str]:
        name = f"{stem}-{kind}.svg"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        plt.close(fig)
        write_bytes(folder / name, buffer.getvalue())
        return name, caption

    pr = [
        (r.entry.system, r.entry.main.precision, r.entry.main.recall)
        for r in rows
        if r.entry.main.precision is not None and r.entry.main.recall is not None
    ]
    if pr:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for i, (name, p, r) in enumerate(pr):
            ax.scatter(r, p, s=24)
            label = f"{i + 1}" if len(pr) > 6 else f"{i + 1}. {plot_text(name)}"  # ranks alone when crowded
            ax.annotate(label, (r, p), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("recall (%)")
        ax.set_ylabel("precision (%)")
        ax.set_title(f"Precision / recall: {key[0].upper()} on {key[1]}")
        ax.grid(alpha=0.3)
        out.append(save(fig, "pr", "Precision against recall of every row (numbers are ranks)."))
    swept = [r for r in rows if r.entry.sweep]
    if swept:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        handles, labels = [], []
        for r in swept:
            (line,) = ax.plot([p.threshold for p in r.entry.sweep], [p.f1 for p in r.entry.sweep], marker="o")
            handles.append(line)
            labels.append(plot_text(f"{r.entry.system} ({r.entry.id.rsplit('-', 1)[-1][:8]})"))
        ax.set_xlabel("IoU threshold")
        ax.set_ylabel(f"{key[0].upper()} F1 (%)")
        ax.set_title("Sensitivity to the IoU threshold")
        ax.grid(alpha=0.3)
        ax.legend(handles, labels, fontsize=7)  # given: a label starting with "_" is not dropped
        out.append(save(fig, "iou", "F1 against the IoU threshold (0.50:0.05:0.95) of the submissions scored here."))
    typed = [r for r in rows if r.entry.per_type]
    if typed:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        kinds = ["PER", "LOC", "ORG", "OTHER"]
        width = 0.8 / len(typed)
        handles, labels = [], []
        for i, r in enumerate(typed):
            values = [r.entry.per_type[k].f1 for k in kinds]
            handles.append(ax.bar([j + i * width for j in range(4)], values, width=width))
            labels.append(plot_text(r.entry.system))
        ax.set_xticks([j + 0.4 - width / 2 for j in range(4)], kinds)
        ax.set_ylabel(f"{key[0].upper()} F1 (%)")
        ax.set_title("F1 per entity type")
        ax.legend(handles, labels, fontsize=7)
        out.append(save(fig, "types", "F1 per entity type of the submissions scored here."))
    return out


def _source_html(row: Row) -> str:
    parts = []
    for e in row.sources:
        p = e.provenance
        if p.kind == "publication":
            label = html_text(f"{p.paper + ', ' if p.paper else ''}{p.table}, row \u201c{p.row}\u201d")
            link = web_url(p.url or (f"https://arxiv.org/abs/{p.arxiv}" if p.arxiv else ""))
            cite = html_text(p.citation)
            parts.append(
                (
                    f'<a href="{html_text(link)}" title="{cite}">{label}</a>'
                    if link
                    else f'<span title="{cite}">{label}</span>'
                )
                + html_text(origin_text(e))
            )
        else:
            parts.append(
                f'<span title="{html_text(redact_command(p.command))}">scored here {p.date}, sha256 '
                f"<code>{p.submission_sha256[:12]}</code>, smner-bench {html_text(p.smner_bench_version)}"
                f", match {p.match}"
                + (f", imported from the release <code>{html_text(p.release.file)}</code>" if p.release else "")
                + "</span>"
            )
    return "<br>".join(parts)


def _rulers_html() -> str:
    return (
        f'<p class="meta"><b>Rulers.</b> {html_text(rulers_paragraph())}</p>\n'
        f'<p class="meta"><b>Golds.</b> {html_text(GOLDS_PARAGRAPH)}</p>'
    )


def _siblings(key: BoardKey, all_boards: dict[BoardKey, list[Row]]) -> str:
    """Links to the same task and dataset split under the other rulers and golds."""
    links = [
        f'<a href="{page_name(k)}">{html_text(k[3])}, gold: {html_text(gold(rows[0].entry)[1])}</a>'
        for k, rows in all_boards.items()
        if k[:3] == key[:3] and k != key
    ]
    if not links:
        return ""
    joined = " \u00b7 ".join(links)
    return f'<p class="meta">The same board under other rulers or golds (not comparable): {joined}</p>'


def _page(key: BoardKey, rows: list[Row], plots: list[tuple[str, str]], all_boards: dict[BoardKey, list[Row]]) -> str:
    header = [*columns(key[0])[:-1], "gold", "split", "source"]
    numeric = {"#", "P", "R", "F1", *(f"{t.upper()} F1" for t in SUBTASKS[key[0]][1:])}
    head = "".join(f'<th data-col="{html_text(h)}">{html_text(h)}</th>' for h in header)
    body = []
    for i, row in enumerate(rows):
        values = [*cells(i + 1, row)[:-1], gold(row.entry)[1], row.entry.split]
        tds = "".join(
            f'<td class="num" data-sort="{"-1" if v == "-" else html_text(v)}">{html_text(v)}</td>'
            if h in numeric
            else f"<td>{html_text(v)}</td>"
            for h, v in zip(header[:-1], values, strict=True)
        )
        cls = ' class="scored"' if row.entry.provenance.kind == "scored" else ""
        body.append(f'<tr{cls} id="{html_text(row.entry.id)}">{tds}<td>{_source_html(row)}</td></tr>')
    figures = "".join(
        f'<figure><img src="plots/{html_text(n)}" alt="{html_text(c)}"><figcaption>{html_text(c)}</figcaption></figure>'
        for n, c in plots
    )
    title = board_title(key, rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html_text(title)}</title>
<link rel="stylesheet" href="style.css"></head>
<body><p><a href="index.html">smner-bench leaderboard</a></p>
<h1>{html_text(title)}</h1>
<p class="meta">Task <b>{key[0].upper()}</b>, dataset <b>{html_text(key[1])}</b>, split <b>{key[2]}</b>,
ruler <b>{html_text(ruler_label(key[3]))}</b>, gold <b>{html_text(gold(rows[0].entry)[1])}</b>,
IoU threshold 0.5. Figures in percent; click a column to sort. {len(rows)} rows.</p>
{_siblings(key, all_boards)}
{_rulers_html()}
<table class="board"><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<div class="plots">{figures}</div>
<p class="meta">Built by smner-bench {__version__}.</p>
<script>{SORT_JS}</script></body></html>
"""


def _index(all_boards: dict[BoardKey, list[Row]]) -> str:
    def board_list(ruler_id: str) -> str:
        items = []
        for key, rows in all_boards.items():
            if key[3] == ruler_id:
                best = rows[0].entry
                items.append(
                    f'<li><a href="{page_name(key)}">{html_text(board_title(key, rows))}</a>: {len(rows)} '
                    f"rows, best F1 {best.main.f1:.2f} ({html_text(best.system)})</li>"
                )
        return f"<ul>{''.join(items)}</ul>"

    others = [r for r in dict.fromkeys(k[3] for k in all_boards) if r != DEFAULT_RULER]
    sections = [f"<h2>Ruler {html_text(ruler_label(DEFAULT_RULER))}</h2>{board_list(DEFAULT_RULER)}"]
    sections += [f"<h2>Ruler {html_text(ruler_label(r))}</h2>{board_list(r)}" for r in others]
    several = "".join(
        f"<li>{html_text(title)}, <b>{html_text(system)}</b>: "
        + "; ".join(html_text(figure_text(f)) for f in figures)
        + "</li>"
        for title, system, figures in several_figures(all_boards)
    )
    if several:
        sections.append(
            "<h2>One system, several figures</h2><p>Where a paper quotes a figure of a system and other rows print "
            "other figures of it (its own paper, another version, a reproduction), every figure is on the board, "
            f"each in the table of its ruler and gold:</p><ul>{several}</ul>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>smner-bench leaderboard</title>
<link rel="stylesheet" href="style.css"></head><body>
<h1>smner-bench leaderboard</h1>
<p class="meta">MNER, GMNER and SMNER on Twitter-2015, Twitter-2017, Twitter-GMNER and Twitter-SMNER. Every row
has its provenance: a publication's table, or a submission scored here (its SHA-256). This package's ruler comes
first; the boards of the other rulers follow, each its own table.</p>
{_rulers_html()}
{"".join(sections)}
<p class="meta">{html_text(NOT_ON_THE_BOARD)}</p>
<p class="meta">Built by smner-bench {__version__}.</p></body></html>
"""


def build_site(stored: list[Stored], out: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Write the site to ``out``, replaced atomically as a whole (:func:`atomic_folder`: only a folder that
    smner-bench built as a site, or an empty one, is ever replaced; ``inputs`` such as the entries folder are
    refused); files 0644, folders 0755. Returns its path. One page per board (task, dataset split, ruler, gold);
    the index lists this package's ruler first, then the others."""
    with atomic_folder(out, "site", inputs=inputs) as tmp:
        (tmp / "plots").mkdir()
        os.chmod(tmp / "plots", FOLDER_MODE)
        write_text(tmp / "style.css", STYLE)
        all_boards = boards(stored)
        for key, rows in all_boards.items():
            plots = _plots(key, rows, tmp / "plots")
            write_text(tmp / page_name(key), _page(key, rows, plots, all_boards))
        write_text(tmp / "index.html", _index(all_boards))
    return Path(out).resolve()
