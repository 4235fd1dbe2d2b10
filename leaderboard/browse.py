"""Pages of the site that browse a scored entry's tweets: the prediction visualizer as HTML.

One page per scored entry whose gold is given (``leaderboard build --data-dir DATASET=DIR``): every tweet of the
split, those with mistakes first (most mistakes first), each with its text (gold entities coloured by type), its
predictions and missed gold entities marked by verdict, and for a grounded task (GMNER, SMNER) a picture: the
image when an image folder is given (copied into the site), else a blank canvas of the image's size, with the
gold and predicted boxes (a mask as a translucent layer in its colour, outlined by its bounding box). Verdicts come
from the scorer's match tables under the entry's ruler (match mode) and IoU threshold:

- right: the prediction is a true positive of the entry's task;
- right entity, wrong box: not one, but a true positive of MNER (the entity and its type are right; its box or
  mask is not, or says "not in the image" where the gold has one, or the reverse) - drawn apart from "missed";
- wrong: neither (a spurious entity, a wrong type or boundary);
- missed: a gold entity that no prediction found, not even without its region.

The page is plain HTML and inline SVG with a legend and one line of JavaScript (the "only tweets with mistakes"
filter); every text is escaped (:func:`.escape.html_text`).
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.gold import Gold, GoldTweet
from smner_bench.benchmark.registry import TASKS
from smner_bench.benchmark.safe_output import FOLDER_MODE, write_bytes, write_text
from smner_bench.benchmark.scoring import Scorer
from smner_bench.benchmark.submission import Prediction, read_submission
from smner_bench.benchmark.visualize import DEFAULT_SIZE, MAX_PIXELS, TYPE_COLOURS

from .escape import html_text
from .render import DATASET_TITLES
from .store import Stored, submission_copy

FOLDER = "tweets"
RIGHT, WRONG_BOX, WRONG, MISSED, FOUND = "right", "wrong-box", "wrong", "missed", "found"
GLYPHS = {RIGHT: "\u2714", WRONG_BOX: "\u25a1", WRONG: "\u2718", MISSED: "\u2205"}  # the marks of the lists
VERDICT_TEXT = {
    RIGHT: "right",
    WRONG_BOX: "right entity, wrong box",
    WRONG: "wrong entity or type",
    MISSED: "missed",
    FOUND: "found",
}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
.meta { color: #555; }
.legend span.key { display: inline-block; margin: 0 1em 0.3em 0; }
.legend svg { vertical-align: middle; margin-right: 0.3em; }
section.tweet { border-top: 1px solid #ddd; padding: 0.5em 0; display: flex; gap: 1.5em; }
section.tweet .text { flex: 1; } section.tweet h2 { font-size: 15px; margin: 0 0 0.3em 0; }
.ent { border-bottom: 3px solid; padding: 0 1px; }
.PER { border-color: #1f77b4; } .LOC { border-color: #2ca02c; } .ORG { border-color: #ff7f0e; }
.OTHER { border-color: #9467bd; }
li.right::marker { content: "\\2714  "; color: #00aa00; } li.wrong::marker { content: "\\2718  "; color: #d60000; }
li.wrong-box::marker { content: "\\25A1  "; color: #c000c0; } li.missed::marker { content: "\\2205  "; color: #d60000; }
li.right { color: #006400; } li.wrong { color: #b00000; } li.wrong-box { color: #900090; }
.mark { font-weight: bold; margin-right: 0.2em; }
li.missed { color: #b00000; font-style: italic; }
.hide-perfect section.tweet[data-mistakes="0"] { display: none; }
"""
FILTER_JS = (
    'document.getElementById("only-mistakes").addEventListener("change", function (e) {'
    ' document.body.classList.toggle("hide-perfect", e.target.checked); });'
)
# how each verdict's box is stroked: colour, dash pattern ("" solid)
BOX_STYLE = {
    RIGHT: ("#00aa00", ""),
    WRONG_BOX: ("#c000c0", "8 5"),  # apart from every type's colour and from "wrong" and "missed"
    WRONG: ("#d60000", ""),
    MISSED: ("#d60000", "2 4"),
}


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


@dataclass
class Verdicts:
    """The verdict of every prediction (by its order in the file) and of every gold entity (by index)."""

    predictions: dict[int, str]
    gold: dict[int, str]


def verdicts(scorer: Scorer, task: str, match: str, iou: float) -> Verdicts:
    """Right / right entity, wrong box / wrong for predictions, found / wrong box / missed for gold entities,
    from the match tables of ``task`` and (for a grounded task) MNER."""
    main = scorer.matches(task, match, iou).pairs()
    entity = scorer.matches("mner", match, iou).pairs() if TASKS[task].region is not None else main
    right_pred, right_gold = {p for p, _ in main}, {g for _, g in main}
    entity_pred, entity_gold = {p for p, _ in entity}, {g for _, g in entity}
    preds = {
        p.order: RIGHT if p.order in right_pred else WRONG_BOX if p.order in entity_pred else WRONG
        for p in scorer.submission.predictions
    }
    golds = {
        e.index: FOUND if e.index in right_gold else WRONG_BOX if e.index in entity_gold else MISSED
        for e in scorer.gold.entities
    }
    return Verdicts(preds, golds)


def _mask_box(mask: dict) -> list[float]:
    from pycocotools import mask as mask_utils

    x, y, w, h = (float(v) for v in mask_utils.toBbox({"size": mask["size"], "counts": mask["counts"].encode()}))
    return [x, y, x + w, y + h]


def _mask_overlay(mask: dict, colour: str, cls: str, title: str) -> str:
    """A mask as a translucent layer of ``colour`` over the picture: an SVG image holding a two-colour PNG (a data
    URL; its transparent index is the background)."""
    import base64

    from PIL import Image

    from smner_bench.benchmark.regions import decode_rle

    bitmap = decode_rle(mask)
    layer = Image.frombytes("P", (bitmap.shape[1], bitmap.shape[0]), bitmap.astype("uint8").tobytes())
    layer.putpalette([0, 0, 0, *(int(colour[i : i + 2], 16) for i in (1, 3, 5))])
    buffer = io.BytesIO()
    layer.save(buffer, format="PNG", transparency=0, optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<image class="{cls}" href="data:image/png;base64,{data}" x="0" y="0" width="{bitmap.shape[1]}" '
        f'height="{bitmap.shape[0]}" opacity="0.4"><title>{html_text(title)}</title></image>'
    )


def _legend(grounded: bool) -> str:
    def swatch(colour: str, dash: str = "", fill: str = "none") -> str:
        return (
            f'<svg width="28" height="14"><rect x="2" y="2" width="24" height="10" fill="{fill}" stroke="{colour}" '
            f'stroke-width="2.5" stroke-dasharray="{dash}"/></svg>'
        )

    types = "".join(
        f'<span class="key">{swatch(_hex(c), fill=_hex(c))}{kind}</span>' for kind, c in TYPE_COLOURS.items()
    )
    marks = "".join(
        f'<span class="key {v}"><span class="mark" style="color: {BOX_STYLE[v][0]}">{GLYPHS[v]}</span>'
        f"{swatch(BOX_STYLE[v][0], BOX_STYLE[v][1]) if grounded else ''}{html_text(VERDICT_TEXT[v])}</span>"
        for v in (RIGHT, WRONG_BOX, WRONG, MISSED)
        if grounded or v != WRONG_BOX
    )
    boxes = (
        "; in the picture, gold boxes are drawn thin in their type's colour, predicted boxes thick by verdict, a "
        "missed gold box dotted red"
        if grounded
        else ""
    )
    return (
        f'<div class="legend"><p class="meta">Entity types (underlined in the text{", gold boxes" if grounded else ""})'
        f':</p>{types}<p class="meta">Verdicts (the marks before each prediction and missed gold entity{boxes}):'
        f"</p>{marks}</div>"
    )


def _tweet_text(tweet: GoldTweet) -> str:
    starts = {e.start: e for e in tweet.entities}
    words, i = [], 0
    while i < len(tweet.tokens):
        e = starts.get(i)
        if e is not None and e.end > i:
            span = html_text(" ".join(tweet.tokens[e.start : e.end]))
            words.append(f'<span class="ent {e.type}" title="{e.type}">{span}</span>')
            i = e.end
        else:
            words.append(html_text(tweet.tokens[i]))
            i += 1
    return " ".join(words)


def _region_text(p: Prediction, grounded: bool) -> str:
    if p.box is not None:
        return " [" + ", ".join(f"{v:.0f}" for v in p.box) + "]" + (" with a mask" if p.mask is not None else "")
    if p.mask is not None:
        return " [a mask]"
    return " [not in the image]" if grounded else ""


def _picture(tweet: GoldTweet, preds: list[Prediction], v: Verdicts, image: str | None, size: tuple[int, int]) -> str:
    width, height = size
    line = max(2.0, width / 200)
    parts = [
        f'<image href="{html_text(image)}" x="0" y="0" width="{width}" height="{height}"/>'
        if image
        else f'<rect class="canvas" x="0" y="0" width="{width}" height="{height}" fill="#f2f2f2"/>'
    ]

    def rect(box, colour: str, stroke: float, dash: str, cls: str, title: str) -> str:
        x1, y1, x2, y2 = (float(b) for b in box)
        return (
            f'<rect class="{cls}" x="{x1:.1f}" y="{y1:.1f}" width="{max(x2 - x1, 0):.1f}" '
            f'height="{max(y2 - y1, 0):.1f}" '
            f'fill="none" stroke="{colour}" stroke-width="{stroke:.1f}" stroke-dasharray="{dash}">'
            f"<title>{html_text(title)}</title></rect>"
        )

    for e in tweet.entities:  # masks first, under every outline: gold in its type's colour, predictions by verdict
        for m in e.masks:
            parts.append(_mask_overlay(m, _hex(TYPE_COLOURS[e.type]), "gold-mask", f"gold mask: {e.text} ({e.type})"))
    for p in preds:
        if p.mask is not None:
            verdict = v.predictions[p.order]
            title = f"predicted mask: {p.text} ({p.type}), {VERDICT_TEXT[verdict]}"
            parts.append(_mask_overlay(p.mask, BOX_STYLE[verdict][0], f"pred-mask {verdict}", title))
    for e in tweet.entities:
        verdict = v.gold[e.index]
        regions = [*e.boxes.tolist(), *(_mask_box(m) for m in e.masks)]
        for box in regions:
            colour, dash = BOX_STYLE[MISSED] if verdict == MISSED else (_hex(TYPE_COLOURS[e.type]), "")
            parts.append(rect(box, colour, line, dash, f"gold {verdict}", f"gold: {e.text} ({e.type}), {verdict}"))
    for p in preds:
        verdict = v.predictions[p.order]
        colour, dash = BOX_STYLE[verdict]
        for box in ([p.box] if p.box else []) + ([_mask_box(p.mask)] if p.mask else []):
            title = f"predicted: {p.text} ({p.type}), {VERDICT_TEXT[verdict]}"
            parts.append(rect(box, colour, 2 * line, dash, f"pred {verdict}", title))
    return (
        f'<svg class="picture" viewBox="0 0 {width} {height}" width="320" preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-label="tweet {html_text(tweet.id)}">{"".join(parts)}</svg>'
    )


def _size(tweet: GoldTweet) -> tuple[int, int]:
    size = tweet.mask_size
    return (size[1], size[0]) if size else DEFAULT_SIZE


def _image(tweet: GoldTweet, images: Path | None, site: Path, dataset: str) -> tuple[str | None, tuple[int, int]]:
    """The tweet's image copied into the site (its path from the tweet page, and its size), or None and the
    annotated size when there is no image folder or no image of the tweet."""
    if images is None:
        return None, _size(tweet)
    path = images / f"{tweet.id}.jpg"
    if not path.is_file():
        return None, _size(tweet)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:  # the header only: the size
            width, height = picture.size
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"{path}: not a readable image ({str(exc)[:120]})") from None
    if width * height > MAX_PIXELS:
        raise UsageError(f"{path}: an image of {width}x{height} pixels is more than {MAX_PIXELS} pixels")
    folder = site / "images" / dataset
    if not folder.is_dir():
        folder.mkdir(parents=True)
        os.chmod(folder, FOLDER_MODE)
        os.chmod(folder.parent, FOLDER_MODE)
    write_bytes(folder / path.name, path.read_bytes())
    return f"../images/{dataset}/{path.name}", (width, height)


def tweet_page(
    stored: Stored,
    scorer: Scorer,
    *,
    board_page: str,
    site: Path,
    images: Path | None = None,
) -> str:
    """The HTML of the page that browses ``stored``'s tweets, scored by ``scorer`` (its submission on its gold)."""
    e = stored.entry
    gold = scorer.gold
    match = e.provenance.match if e.provenance.kind == "scored" else "span"
    v = verdicts(scorer, e.task, match, e.iou)
    grounded = TASKS[e.task].region is not None
    by_tweet: dict[int, list[Prediction]] = {}
    for p in scorer.submission.predictions:
        by_tweet.setdefault(p.tweet, []).append(p)

    def mistakes(t: GoldTweet) -> int:  # predictions not right, and gold entities missed (a wrong box counts once)
        wrong = sum(v.predictions[p.order] != RIGHT for p in by_tweet.get(t.index, []))
        return wrong + sum(v.gold[g.index] == MISSED for g in t.entities)

    counted = [(mistakes(t), t) for t in gold.tweets]
    ordered = sorted(counted, key=lambda c: (-c[0], c[1].index))
    sections = []
    for n, t in ordered:
        preds = by_tweet.get(t.index, [])
        items = [
            f'<li class="{v.predictions[p.order]}">{html_text(p.text)} ({p.type}){_region_text(p, grounded)}: '
            f"{html_text(VERDICT_TEXT[v.predictions[p.order]])}</li>"
            for p in preds
        ]
        items += [
            f'<li class="{MISSED}">{html_text(g.text)} ({g.type}): missed</li>'
            for g in t.entities
            if v.gold[g.index] == MISSED
        ]
        listed = f"<ul>{''.join(items)}</ul>" if items else '<p class="meta">no entity, none predicted</p>'
        picture = ""
        if grounded:
            image, size = _image(t, images, site, gold.dataset)
            picture = _picture(t, preds, v, image, size)
        label = "no mistake" if n == 0 else f"{n} mistake{'s' if n > 1 else ''}"
        sections.append(
            f'<section class="tweet" id="tweet-{html_text(t.id)}" data-mistakes="{n}"><div class="text">'
            f"<h2>tweet {html_text(t.id)}: {label}</h2><p>{_tweet_text(t)}</p>{listed}</div>{picture}</section>"
        )
    with_mistakes = sum(1 for n, _ in counted if n)
    dataset = DATASET_TITLES.get(gold.dataset, gold.dataset)
    title = f"{e.system}: {e.task.upper()} on {dataset}, {gold.split} split, tweet by tweet"
    sha = e.provenance.submission_sha256[:12] if e.provenance.kind == "scored" else ""
    pictures = (
        "Pictures: the tweet's image where the build was given an image folder, else a blank canvas of its size."
        if grounded
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html_text(title)}</title>
<style>{STYLE}</style></head>
<body><p><a href="../index.html">smner-bench leaderboard</a> &gt; <a href="../{html_text(board_page)}">the board</a></p>
<h1>{html_text(title)}</h1>
<p class="meta">{len(gold.tweets)} tweets, {with_mistakes} with mistakes (listed first, most mistakes first), matched
with --match {html_text(match)} at IoU {e.iou}: {e.main.tp} of {e.main.pred} predictions right, {e.main.gold} gold
entities. Submission SHA-256 <code>{html_text(sha)}</code>. {pictures}</p>
{_legend(grounded)}
<p><label><input type="checkbox" id="only-mistakes"> only tweets with mistakes</label></p>
{chr(10).join(sections)}
<script>{FILTER_JS}</script></body></html>
"""


def page_of(stored: Stored) -> str:
    """The page's path in the site: ``tweets/<entry file name>.html``."""
    return f"{FOLDER}/{stored.file.stem}.html"


def _submission_bytes(stored: Stored, gold: Gold, release_root: str | os.PathLike | None) -> bytes:
    prov = stored.entry.provenance
    if prov.release is not None:
        from .releases import release_submission

        return release_submission(prov.release, release_root, gold)
    with gzip.open(submission_copy(stored.file), "rb") as f:
        return f.read()


def browse_pages(
    stored: list[Stored],
    golds: dict[tuple[str, str], Gold],
    *,
    images: dict[str, Path] | None = None,
    release_root: str | os.PathLike | None = None,
) -> Callable[[Path, dict[str, str]], dict[str, str]]:
    """The writer :func:`.site.build_site` calls with the site folder and ``{entry id: its board's page}``: for
    every scored entry whose ``(dataset, split)`` ``golds`` holds, score its kept copy (or its release, imported
    again from below ``release_root``) on that gold and write its page, with the images of ``images[dataset]``
    when given; returns ``{entry id: page path}``. A gold other than the one the entry was scored on (another
    checksum) is a usage error naming both."""

    def write(site: Path, board_pages: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in stored:
            e = s.entry
            gold = golds.get((e.dataset, e.split))
            if e.provenance.kind != "scored" or gold is None:
                continue
            if gold.checksum() != e.provenance.dataset_checksum:
                raise UsageError(
                    f"the gold given for {e.dataset} ({gold.name}) is not the one {e.id} was scored on "
                    "(its checksum differs): give the release the board's entries were scored on"
                )
            data = _submission_bytes(s, gold, release_root)
            submission = read_submission(io.BytesIO(data), gold, name=e.provenance.submission_file, task=e.task)
            scorer = Scorer.build(submission, gold)
            folder = site / FOLDER
            if not folder.is_dir():
                folder.mkdir()
                os.chmod(folder, FOLDER_MODE)
            page = page_of(s)
            board = board_pages.get(e.id, "index.html")
            images_dir = (images or {}).get(e.dataset)
            write_text(site / page, tweet_page(s, scorer, board_page=board, site=site, images=images_dir))
            out[e.id] = page
        return out

    return write
