"""Published pages: entry text is shown as text on every page and plot, never as markup (issue 19, class B).

System names, variants, a publication's table and row, its citation and notes come from submitters. Before,
``leaderboard render`` wrote them into the Markdown board as they were (raw HTML, ``[x](javascript:...)``
links, a ``\\|`` that closed a table cell), and a system name with ``$...$`` was parsed by matplotlib's
mathtext: a bad expression stopped ``leaderboard build`` for the whole board (exit 3).

Here a board of hostile entries (published ones on every board kind, scored ones through ``submit``) is
rendered, built and shown: exit 0; the Markdown table keeps its cells and shows every name literally; the
HTML pages hold no markup but the site's own (checked with the standard library's HTML parser); the plots
are well-formed SVG without scripts or links; URLs other than web links are refused and never linked.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import warnings
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from pydantic import ValidationError

from smner_bench.benchmark.registry import DATASETS, EVALUATOR_IDS
from smner_bench.cli import main
from smner_bench.leaderboard.entry import Entry, Publication
from smner_bench.leaderboard.escape import markdown_link, markdown_text, plot_text, web_url
from smner_bench.leaderboard.render import Row, boards, cells, source_text, terminal_table
from smner_bench.leaderboard.site import SORT_JS
from smner_bench.leaderboard.store import load_entries

from .test_leaderboard_integrity import _reseal, lines, submit_with_meta  # noqa: F401 (lines: a fixture)

HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "A | B \\| C",
    "$x^2$ and $\\frac{$",  # a mathtext error
    "C:\\dir\\ end\\",
    "</script><img src=x onerror=alert(1)>",
    "\" onmouseover=\"alert(1)\" '",
    "**b** _i_ `c` ~~s~~ &amp; <!-- x",
    "![i](https://evil.example/x.png) <https://evil.example> $$",
]
SCORED_NAMES = ["$\\sqrt{$ <b>bold</b>", "_hidden | [y](data:text/html,1)"]
NOTES = "line one <img src=x onerror=alert(1)>\n| a | b |\n[x](javascript:alert(1)) $x^2$"
BOARD_KINDS = [(task, d.name, d.version) for d in DATASETS.values() for task in d.boards]


def published(i: int, name: str, *, quoted: bool = True) -> dict:
    """A published entry of hostile text on the i-th kind of board: quoted (from a paper named by hostile text) or
    the paper's own figure (another F1: the page lists the system's several figures); its ruler the i-th
    convention, its gold (on a grounded board) a derived gold named by hostile text."""
    task, dataset, version = BOARD_KINDS[i % len(BOARD_KINDS)]
    precision = 50.0 + i if quoted else 40.0 + i
    gold = {"kind": "derived", "description": name} if task != "mner" else {"kind": "release", "version": version}
    return {
        "id": f"hostile/{i}/{'quoted' if quoted else 'own'}/{task}/{dataset}",
        "system": name,
        "variant": {"mner": name, "llm": "<i>llm</i> | $y$"},
        "task": task,
        "dataset": dataset,
        "dataset_version": version,
        "results": {task: {"precision": precision, "recall": 50.0, "f1": round(100 * precision / (precision + 50), 2)}},
        "provenance": {
            "kind": "publication",
            "citation": "A <b>paper</b>\n\" onmouseover=\"alert(1)",
            "paper": name,
            "url": f"https://example.org/paper_{i}?q=(a)[b]&c=$d$",
            "table": f"Table {name}",
            "row": name,
            "evaluator": EVALUATOR_IDS[i % len(EVALUATOR_IDS)],
            "gold": gold,
            **({"origin": "quoted", "quoted_from": NOTES} if quoted else {}),
        },
        "notes": NOTES,
    }


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory, sample_dir, lines):  # noqa: F811
    """Entries of hostile text (read only): published ones on every kind of board, two scored here."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    root = tmp_path / "entries"
    (root / "published").mkdir(parents=True)
    entries = [published(i, name, quoted=q) for i, name in enumerate(HOSTILE_NAMES) for q in (True, False)]
    (root / "published" / "hostile.yaml").write_text(json.dumps(entries), encoding="utf-8")
    for k, name in enumerate(SCORED_NAMES):
        mine = [dict(line, entities=[]) if i == k else line for i, line in enumerate(lines)]  # two submissions
        meta = f"system: {json.dumps(name)}\nvariant: {{llm: {json.dumps(name)}}}\nnotes: {json.dumps(NOTES)}\n"
        assert submit_with_meta(meta, tmp_path, sample_dir, root, mine, name=f"s{k}") == 0
    return root


# --- Markdown ------------------------------------------------------------------------------------------------


def unescaped(text: str, char: str) -> list[int]:
    """Positions of ``char`` not escaped by a backslash (an even number of backslashes before it)."""
    out = []
    for m in re.finditer(re.escape(char), text):
        run = len(text[: m.start()]) - len(text[: m.start()].rstrip("\\"))
        if run % 2 == 0:
            out.append(m.start())
    return out


def split_row(line: str) -> list[str]:
    cuts = unescaped(line, "|")
    return [line[a + 1 : b].strip() for a, b in itertools.pairwise(cuts)]


def unescape(cell: str) -> str:
    """CommonMark: a backslash before ASCII punctuation stands for the punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", cell)


# the link of each hostile publication's table to its URL (the one markup an entry's text may be in), as text
OUR_LINKS = {
    f"[{markdown_text(table)}](<https://example.org/paper_{i}?q=(a)[b]&c=$d$>)": markdown_text(table)
    for i, table in enumerate(f"Table {name}" for name in HOSTILE_NAMES)
}


def without_our_links(cell: str) -> str:
    for link, text in OUR_LINKS.items():
        cell = cell.replace(link, text)
    return cell


def check_markdown(md: str) -> None:
    """Every table row keeps its cells; no character of an entry's text is markup (each is escaped) but the
    link of a publication's table to its URL; every system name is shown as written."""
    header, systems = None, set()
    for line in md.splitlines():
        if not line.startswith("|") or set(line) <= {"|", "-"}:
            continue
        row = split_row(line)
        if row[0] == "#":
            header = row
            continue
        assert len(row) == len(header), line  # no cell added or lost
        systems.add(unescape(row[1]))
        text = " ".join([*row[:-1], without_our_links(row[-1])])
        for char in "<>[]`*_~$&":
            assert not unescaped(text, char), (char, line)
    assert set(HOSTILE_NAMES) | set(SCORED_NAMES) <= systems
    for line in md.splitlines():
        if line.startswith(("#", "- ")):  # the headings (the board's title, its gold) and the several figures
            assert not any(unescaped(line, char) for char in "<>[]`*_~$&|"), line
    several = [line for line in md.splitlines() if line.startswith("- ")]
    assert len(several) == len(HOSTILE_NAMES), several  # each name quoted and printed again by its paper


def test_markdown_board_shows_hostile_names_as_text(hostile_root, tmp_path, capsys):
    md = tmp_path / "LB.md"
    assert main(["leaderboard", "render", "-o", str(md), "--entries", str(hostile_root)]) == 0
    check_markdown(md.read_text(encoding="utf-8"))
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(hostile_root)]) == 0
    out = capsys.readouterr().out
    assert all(name[:40] in out for name in SCORED_NAMES)  # the terminal shows the names as they are


def test_markdown_escaping_round_trips():
    for text in [*HOSTILE_NAMES, *SCORED_NAMES, "a\\", "\\\\|", "| x |"]:
        escaped = markdown_text(text)
        assert unescape(escaped) == text and not unescaped(escaped, "|") and not unescaped(escaped, "<")
    assert markdown_text("two\nlines\r\tand\u2028more\x1b") == "two lines  and\\\\u2028more\\\\x1b"  # shown, escaped


# --- HTML ----------------------------------------------------------------------------------------------------


class Page(HTMLParser):
    """Every tag, attribute, script body and text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    def handle_comment(self, data):
        raise AssertionError(f"a comment in the page: {data!r}")


SITE_TAGS = {"html", "head", "meta", "title", "link", "body", "p", "a", "h1", "h2", "b", "table", "thead", "tbody",
             "tr", "th", "td", "br", "code", "span", "div", "figure", "img", "figcaption", "script", "ul",
             "li", "details", "summary"}  # fmt: skip


def check_page(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert {tag for tag, _ in page.tags} <= SITE_TAGS
    assert page.scripts in ([], [SORT_JS])  # the sorting script, whole: no name closed it or added one
    assert all(a["src"].startswith("plots/") for tag, a in page.tags if tag == "img")
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "a":
            assert re.fullmatch(
                r"https://example\.org/paper_\d\?q=\(a\)\[b\]&c=\$d\$|[a-z0-9-]+\.html"
                r"|submissions/[a-z0-9_.-]+\.jsonl\.gz|tweets/[a-z0-9_.-]+\.html",  # kept copies, tweet pages
                attrs["href"],
            )
    return page


def test_site_pages_and_plots_hold_no_markup_of_entries(hostile_root, tmp_path):
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--out", str(site), "--entries", str(hostile_root)]) == 0
    shown = []
    for path in sorted(site.glob("*.html")):
        page = check_page(path.read_text(encoding="utf-8"))
        shown += page.text
        titles = [a.get("title") for _, a in page.tags if a.get("title")]
        assert all(t == "A <b>paper</b>\n\" onmouseover=\"alert(1)" for t in titles if t.startswith("A "))
    assert set(HOSTILE_NAMES) | set(SCORED_NAMES) <= set(shown)  # each name is one cell's text, as written
    plots = sorted((site / "plots").glob("*.svg"))
    assert {p.name.rsplit("-", 1)[-1] for p in plots} == {"pr.svg", "iou.svg", "types.svg"}
    for plot in plots:
        svg = plot.read_text(encoding="utf-8")
        elements = list(ET.fromstring(svg).iter())  # well-formed: the names are escaped text (in comments)
        assert not {e.tag.rsplit("}", 1)[-1] for e in elements} & {"script", "a", "foreignObject", "iframe"}
        for e in elements:
            assert all(v.startswith("#") for k, v in e.attrib.items() if k.endswith("href")), plot.name
            assert not any(k.startswith("on") for k in e.attrib), plot.name
    legend = (site / "plots" / "smner-smner-test-smner-span-iou.svg").read_text(encoding="utf-8")
    assert "_hidden | [y](data:text/html,1)" in legend  # drawn, not dropped as a private "_" label
    scatter = "".join(p.read_text(encoding="utf-8") for p in plots if p.name.endswith("-pr.svg"))
    assert "$x^2$ and $\\frac{$" not in scatter  # points are labelled with the table's ranks, names are in the table


# --- red team: fields the model leaves free, the user's matplotlibrc, scripts the font lacks -------------------


def test_control_and_bidi_characters_of_a_resealed_version_reach_no_page_or_terminal(hostile_root, tmp_path, capsys):
    """A scored entry's smner-bench version is free text (a forger reseals the digest): an escape sequence that
    clears the terminal, or a right-to-left override, is shown as its escape on every medium."""
    root = tmp_path / "entries"
    shutil.copytree(hostile_root, root)
    entry = next((root / "scored").glob("*.json"))
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["provenance"]["smner_bench_version"] = "0.1\x1b[2J\x1b]0;owned\x07\u202e|<b>"
    _reseal(data)
    entry.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert main(["leaderboard", "show", "--task", "smner", "--entries", str(root)]) == 0
    assert main(["leaderboard", "render", "-o", str(tmp_path / "LB.md"), "--entries", str(root)]) == 0
    assert main(["leaderboard", "build", "--out", str(tmp_path / "site"), "--entries", str(root)]) == 0
    out, err = capsys.readouterr()
    md = (tmp_path / "LB.md").read_text(encoding="utf-8")
    page = (tmp_path / "site" / "smner-smner-test-smner-span.html").read_text(encoding="utf-8")
    key = ("smner", "smner", "test", "smner-span", "")
    wide = terminal_table(key, boards(load_entries(root))[key], width=400)  # the version not cut off
    assert "smner-bench 0.1\\x1b[2J\\x1b]0;owned\\x07\\u202e|<b>" in wide
    for text in (out, err, md, page, wide):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "0.1\\\\x1b\\[2J" in md and "0.1\\x1b[2J\\x1b]0;owned\\x07\\u202e|&lt;b&gt;" in page
    check_markdown(md)


def test_plots_are_drawn_without_tex_and_without_glyph_warnings(hostile_root, tmp_path, monkeypatch):
    """A matplotlibrc with ``text.usetex: True`` sent the names to LaTeX (absent here: exit 3); a name in a script
    the font lacks printed one warning per glyph with the site's source line."""
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "text.usetex", True)
    root = tmp_path / "entries"
    shutil.copytree(hostile_root, root)
    name = "\u6a21\u578b \U0001F680 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 50% #1 {x} ~ ^"  # CJK, emoji, Arabic
    more = [published(len(HOSTILE_NAMES), name)]
    (root / "published" / "more.yaml").write_text(json.dumps(more, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["leaderboard", "build", "--out", str(tmp_path / "site"), "--entries", str(root)]) == 0
    assert not [w for w in caught if "Glyph" in str(w.message)]
    assert matplotlib.rcParams["text.usetex"] is True  # the user's setting, untouched after the build


# --- URLs and the escaping helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "https://arxiv.org@evil.example/",
        "https://x.org/a b",
        'https://x.org/"onmouseover="x',
        "https://x.org/\\",
        "//evil.example/x",
        "https:/x",
        "ftp://x.org/f",
    ],
)
def test_links_other_than_web_urls_are_refused_and_never_linked(url):
    with pytest.raises(ValidationError, match="http"):
        Publication(citation="c", url=url, table="Table 1", row="r")
    assert web_url(url) is None
    assert "](" not in markdown_link("Table 1", url)
    # an entry that skipped validation (built in code) is still not linked, on the board and on the site
    entry = Entry.model_validate(published(0, "S")).model_copy(
        update={"provenance": Publication.model_construct(citation="c", url=url, table="Table 1", row="r")}
    )
    row = Row(entry, [entry])
    assert "](" not in source_text([entry], markdown=True) and "](" not in cells(1, row, markdown=True)[-1]
    from smner_bench.leaderboard.site import _source_html

    assert "<a " not in _source_html(row)


def test_plot_labels_are_never_mathtext():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for name in ["$x^2$", "$\\frac{$", "\\$", "a$b", "$$", "$\\sqrt{$ <b>"]:
        label = plot_text(name)
        fig, ax = plt.subplots()
        text = ax.annotate(label, (0, 0))
        assert text._preprocess_math(label) == (name, False)  # shown as written, no mathtext
        fig.savefig(__import__("io").BytesIO(), format="svg")
        plt.close(fig)
