"""The static leaderboard site: one page per board (sortable table, provenance, plots) and an index.

Plots are matplotlib SVG files: precision/recall scatter of every board, the IoU-threshold sensitivity
curves of the entries that carry a sweep (scored submissions; the paper's Fig. 9) and per-type F1 bars of
the entries that carry per-type figures. Sorting is a few lines of plain JavaScript; no framework.
Every text of an entry is escaped for where it goes (:mod:`.escape`): HTML text and attributes, links to web
URLs only, plot labels never parsed as mathtext or TeX.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from smner_bench.benchmark import __version__
from smner_bench.benchmark.cli_options import redact_command
from smner_bench.benchmark.safe_output import FOLDER_MODE, atomic_folder, write_bytes, write_text

from .entry import SUBTASKS, Entry
from .escape import html_text, web_url
from .plots import Plot, draw_plots
from .render import (
    DATASET_TITLES,
    DEFAULT_RULER,
    GOLDS_PARAGRAPH,
    INTERVAL_COLUMN,
    MISSING,
    NOT_ON_THE_BOARD,
    UNDEFINED,
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
from .store import Stored, submission_copy

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.scored { background: #eef7ee; }
td.nowrap { white-space: nowrap; }
.meta { color: #555; }
.plots { display: flex; flex-wrap: wrap; gap: 2%; } .plots figure { width: 48%; margin: 1em 0; }
.plots img { width: 100%; border: 1px solid #eee; } figcaption { font-size: 13px; color: #555; }
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
        // a cell without a figure ("-", "n/a", no interval) goes last in either direction
        var ma = a.cells[col].hasAttribute("data-missing"), mb = b.cells[col].hasAttribute("data-missing");
        if (ma || mb) { return ma === mb ? 0 : (ma ? 1 : -1); }
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


def _links_html(entry: Entry, download: str | None, browse: str | None) -> str:
    """The row's links: the system's paper and code where its entry names them, the kept submission to
    download and the page that browses its tweets (scored rows)."""
    p = entry.provenance
    links = [
        f'<a class="{label}" href="{html_text(url)}">{label}</a>'
        for label, url in (("paper", p.paper_url), ("code", p.code_url))
        if url and web_url(url)
    ]
    if download:
        links.append(f'<a class="download" href="{html_text(download)}" download>submission (.jsonl.gz)</a>')
    if browse:
        links.append(f'<a class="browse" href="{html_text(browse)}">tweets</a>')
    return " \u00b7 ".join(links)


def _cell(header: str, value: str, numeric: set[str]) -> str:
    if header not in numeric:
        return f"<td>{html_text(value)}</td>"
    if value in (MISSING, UNDEFINED, ""):
        return f'<td class="num" data-missing="">{html_text(value)}</td>'
    number = value.split("-")[0]  # an interval sorts by its lower end
    return f'<td class="num nowrap" data-sort="{html_text(number)}">{html_text(value)}</td>'


def _page(
    key: BoardKey,
    rows: list[Row],
    plots: list[Plot],
    all_boards: dict[BoardKey, list[Row]],
    downloads: dict[str, str],
    browse: dict[str, str],
) -> str:
    header = [*columns(key[0])[:-1], "gold", "split", "links", "source"]
    numeric = {"#", "P", "R", "F1", INTERVAL_COLUMN, *(f"{t.upper()} F1" for t in SUBTASKS[key[0]][1:])}
    head = "".join(f'<th data-col="{html_text(h)}">{html_text(h)}</th>' for h in header)
    body = []
    for i, row in enumerate(rows):
        e = row.entry
        values = [*cells(i + 1, row)[:-1], gold(e)[1], e.split]
        tds = "".join(_cell(h, v, numeric) for h, v in zip(header[:-2], values, strict=True))
        links = _links_html(e, downloads.get(e.id), browse.get(e.id))
        cls = ' class="scored"' if e.provenance.kind == "scored" else ""
        body.append(f'<tr{cls} id="{html_text(e.id)}">{tds}<td>{links}</td><td>{_source_html(row)}</td></tr>')
    figures = "".join(
        f'<figure><img src="plots/{html_text(p.file)}" alt="{html_text(p.caption)}">'
        f"<figcaption>{html_text(p.caption)}</figcaption></figure>"
        for p in plots
    )
    title = board_title(key, rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html_text(title)}</title>
<link rel="stylesheet" href="style.css"></head>
<body><p><a href="index.html">smner-bench leaderboard</a></p>
<h1>{html_text(title)}</h1>
<p class="meta">Task <b>{key[0].upper()}</b>, dataset <b>{html_text(key[1])}</b>, split <b>{key[2]}</b>,
ruler <b>{html_text(ruler_label(key[3]))}</b>, gold <b>{html_text(gold(rows[0].entry)[1])}</b>,
IoU threshold 0.5. Figures in percent; click a column to sort ({MISSING} and {UNDEFINED} rows stay last).
{len(rows)} rows.</p>
<p class="meta">{MISSING}: the source gives no such figure; {UNDEFINED}: the figure is undefined (precision of no
prediction, recall of no gold entity). {html_text(INTERVAL_COLUMN)}: the 95% bootstrap interval of the F1 over the
split's tweets, for the submissions scored here (a paper's row prints no per-tweet counts, so it has none).</p>
{_siblings(key, all_boards)}
<table class="board"><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<div class="plots">{figures}</div>
<details class="rulers"><summary>What every ruler and gold counts</summary>
{_rulers_html()}
</details>
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
                    f"rows, best F1 {best.main.f1:.2f}: {html_text(best.system)}</li>"
                )
        return f"<ul>{''.join(items)}</ul>"

    others = [r for r in dict.fromkeys(k[3] for k in all_boards) if r != DEFAULT_RULER]
    sections = [f"<h2>Ruler {html_text(ruler_label(DEFAULT_RULER))}</h2>{board_list(DEFAULT_RULER)}"]
    sections += [f"<h2>Ruler {html_text(ruler_label(r))}</h2>{board_list(r)}" for r in others]
    several = "".join(
        f"<li>{html_text(title)}, <b>{html_text(system)}</b>:<ul>"
        + "".join(f"<li>{html_text(figure_text(f))}</li>" for f in figures)
        + "</ul></li>"
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


def _kept_copies(stored: list[Stored], folder: Path) -> dict[str, str]:
    """Copy the kept submission of every scored entry (its gzip copy, checked by the store when it was read)
    into ``folder``; ``{entry id: its path relative to the site}``. An entry imported from a release keeps no
    copy (the release is its copy) and gets no download."""
    out = {}
    for s in stored:
        e = s.entry
        if e.provenance.kind != "scored" or e.provenance.release is not None:
            continue
        name = submission_copy(s.file).name
        write_bytes(folder / name, submission_copy(s.file).read_bytes())
        out[e.id] = f"{folder.name}/{name}"
    return out


def build_site(
    stored: list[Stored],
    out: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    browse: Callable[[Path, dict[str, str]], dict[str, str]] | None = None,
) -> Path:
    """Write the site to ``out``, replaced atomically as a whole (:func:`atomic_folder`: only a folder that
    smner-bench built as a site, or an empty one, is ever replaced; ``inputs`` such as the entries folder are
    refused); files 0644, folders 0755. Returns its path. One page per board (task, dataset split, ruler, gold);
    the index lists this package's ruler first, then the others. The kept submissions are copied into
    ``submissions/`` and linked from their rows; ``browse(site folder, {entry id: board page})`` writes the pages
    that browse the tweets of scored entries (:func:`.browse.browse_pages`) and returns ``{entry id: page}``,
    linked from their rows."""
    with atomic_folder(out, "site", inputs=inputs) as tmp:
        for folder in ("plots", "submissions"):
            (tmp / folder).mkdir()
            os.chmod(tmp / folder, FOLDER_MODE)
        write_text(tmp / "style.css", STYLE)
        downloads = _kept_copies(stored, tmp / "submissions")
        all_boards = boards(stored)
        board_of = {r.entry.id: page_name(key) for key, rows in all_boards.items() for r in rows}
        pages = browse(tmp, board_of) if browse is not None else {}
        for key, rows in all_boards.items():
            stem = page_name(key).removesuffix(".html")
            plots = draw_plots(stem, key[0], DATASET_TITLES[key[1]], rows, tmp / "plots")
            write_text(tmp / page_name(key), _page(key, rows, plots, all_boards, downloads, pages))
        write_text(tmp / "index.html", _index(all_boards))
    return Path(out).resolve()
