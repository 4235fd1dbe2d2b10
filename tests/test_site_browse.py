"""The site's tweet pages (the prediction visualizer as HTML): every tweet of a scored entry, mistakes first, with a
legend; "right entity, wrong box" apart from "missed"; images when a folder is given, blank canvases otherwise."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest

from smner_bench.benchmark.errors import UsageError
from smner_bench.benchmark.gold import gold_from_rows
from smner_bench.benchmark.submission import write_submission
from smner_bench.cli import main
from smner_bench.leaderboard.browse import BOX_STYLE, MISSED, WRONG_BOX, browse_pages
from smner_bench.leaderboard.site import build_site
from smner_bench.leaderboard.store import load_entries
from smner_bench.leaderboard.submit import submit
from smner_bench.loaders import load_split

from .test_leaderboard import entries_folder
from .test_site_board import _submit


@pytest.fixture
def gold(smner_gold):
    return smner_gold


@pytest.fixture
def root(tmp_path):
    return entries_folder(tmp_path)


@pytest.fixture
def scored(tmp_path, gold, root, sample_dir):
    from smner_bench.loaders.sample_predictions import sample_predictions

    lines, planted = sample_predictions(sample_dir)
    _submit(tmp_path, gold, root, lines, "Demo")
    return planted


def sections(page: str) -> list[tuple[str, int, str]]:
    """(tweet id, mistakes, html) of each tweet section, in page order."""
    found = re.findall(r'<section class="tweet" id="tweet-([^"]+)" data-mistakes="(\d+)">(.*?)</section>', page, re.S)
    return [(t, int(n), body) for t, n, body in found]


def test_tweet_pages_list_mistakes_first_and_draw_wrong_boxes_apart(tmp_path, gold, root, scored, sample_dir):
    stored = load_entries(root)
    write = browse_pages(stored, {("smner", "test"): gold}, images={"smner": sample_dir / "images"})
    site = build_site(stored, tmp_path / "site", browse=write)
    board = (site / "smner-smner-test-smner-span.html").read_text(encoding="utf-8")
    link = re.search(r'<a class="browse" href="(tweets/[^"]+\.html)">tweets</a>', board).group(1)
    page = (site / link).read_text(encoding="utf-8")
    found = sections(page)
    assert [t for t, _, _ in found] and len(found) == len(gold.tweets)
    counts = [n for _, n, _ in found]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0 and counts[-1] == 0  # mistakes first
    by_id = {t: (n, body) for t, n, body in found}
    shifted = by_id[scored["shifted box and mask"]]
    assert shifted[0] == 1  # one mistake: the right entity with a wrong box, not also a missed entity
    assert '<li class="wrong-box">' in shifted[1] and "right entity, wrong box" in shifted[1]
    assert f'class="pred {WRONG_BOX}"' in shifted[1] and f'stroke="{BOX_STYLE[WRONG_BOX][0]}"' in shifted[1]
    assert '<li class="missed">' not in shifted[1]
    missed = by_id[scored["missed entity"]]
    assert '<li class="missed">' in missed[1] and f'stroke="{BOX_STYLE[MISSED][0]}"' in missed[1]
    assert BOX_STYLE[WRONG_BOX] != BOX_STYLE[MISSED]
    wrong_type = by_id[scored["wrong type"]]
    assert '<li class="wrong">' in wrong_type[1] and '<li class="missed">' in wrong_type[1]
    legend = page[page.index('<div class="legend">') : page.index("</div>", page.index('<div class="legend">'))]
    for text in ("PER", "LOC", "ORG", "OTHER", "right", "right entity, wrong box", "wrong entity or type", "missed"):
        assert text in legend
    # the images were given: each tweet's picture is its image, copied into the site
    image = re.search(r'<image href="\.\./(images/smner/[^"]+\.jpg)"', shifted[1]).group(1)
    assert (site / image).read_bytes() == (sample_dir / "images" / image.rsplit("/", 1)[1]).read_bytes()


def test_without_images_the_boxes_are_drawn_on_a_blank_canvas_of_the_image_size(
    tmp_path, gold, root, scored, sample_dir
):
    stored = load_entries(root)
    site = build_site(stored, tmp_path / "site", browse=browse_pages(stored, {("smner", "test"): gold}))
    page = next((site / "tweets").glob("*.html")).read_text(encoding="utf-8")
    assert '<image href="../' not in page and not (site / "images").exists()
    tweet = gold.by_id[scored["shifted box and mask"]]
    body = dict((t, b) for t, _, b in sections(page))[tweet.id]
    h, w = tweet.mask_size
    assert f'<svg class="picture" viewBox="0 0 {w} {h}"' in body
    assert f'<rect class="canvas" x="0" y="0" width="{w}" height="{h}"' in body
    # masks are drawn as masks (a translucent layer each, gold in its type's colour, predictions by verdict), not
    # only as their bounding boxes: each layer's opaque pixels are exactly its mask
    from PIL import Image

    from smner_bench.benchmark.regions import decode_rle
    from smner_bench.loaders.sample_predictions import sample_predictions

    layers = re.findall(r'<image class="(gold-mask|pred-mask [a-z-]+)" href="data:image/png;base64,([^"]+)"', body)

    def opaque(data: str) -> bytes:
        alpha = np.array(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))[..., 3]
        return np.packbits(alpha > 0).tobytes()

    def bits(mask) -> bytes:
        return np.packbits(decode_rle(mask)).tobytes()

    lines, _ = sample_predictions(sample_dir)
    predicted = [e["mask"] for e in next(x for x in lines if x["id"] == tweet.id)["entities"] if e.get("mask")]
    assert sorted(opaque(d) for c, d in layers if c == "gold-mask") == sorted(
        bits(m) for e in tweet.entities for m in e.masks
    )
    assert sorted(opaque(d) for c, d in layers if c.startswith("pred-mask")) == sorted(bits(m) for m in predicted)
    assert f"pred-mask {WRONG_BOX}" in {c for c, _ in layers}


def test_a_gold_other_than_the_scored_one_is_refused(tmp_path, gold, root, scored, sample_dir, hf_cache):
    rows = load_split("smner", sample_dir, "test", cache_dir=hf_cache)
    other = gold_from_rows(rows.select(range(len(rows) - 1)), dataset="smner", split="test", has_boxes=True,
                           has_masks=True)  # fmt: skip
    stored = load_entries(root)
    with pytest.raises(UsageError, match=r"not the one .* was scored on"):
        build_site(stored, tmp_path / "site", browse=browse_pages(stored, {("smner", "test"): other}))
    assert not (tmp_path / "site").exists()  # nothing half-built is left


def test_build_command_makes_the_tweet_pages_and_names_bad_options(tmp_path, root, scored, sample_dir, capsys):
    out = tmp_path / "site"
    common = ["leaderboard", "build", "--out", str(out), "--entries", str(root)]
    assert main([*common, "--data-dir", f"smner={sample_dir}", "--images", f"smner={sample_dir / 'images'}"]) == 0
    assert len(list((out / "tweets").glob("*.html"))) == 1 and list((out / "images" / "smner").glob("*.jpg"))
    assert main([*common, "--data-dir", f"twitter2016={sample_dir}"]) == 2
    assert "--data-dir 'twitter2016=" in capsys.readouterr().err
    assert main([*common, "--images", f"smner={sample_dir / 'images'}"]) == 2
    err = capsys.readouterr().err
    assert "--images draws the tweets of the pages that --data-dir or --gold" in err and "Traceback" not in err


def test_a_hostile_system_name_is_text_on_the_tweet_page(tmp_path, gold, root, sample_dir):
    from smner_bench.loaders.sample_predictions import sample_predictions

    lines, _ = sample_predictions(sample_dir)
    name = '<script>alert(1)</script> "x" <img src=y onerror=z>'
    _submit(tmp_path, gold, root, lines, "Demo")
    meta = tmp_path / "Demo.yaml"
    meta.write_text(f"system: {json.dumps(name)}\n")
    other = [dict(line, entities=[]) if i == 0 else line for i, line in enumerate(lines)]  # another submission
    write_submission(tmp_path / "other.jsonl", other)
    submit(tmp_path / "other.jsonl", meta, gold, command="c", dataset_version="v2.0 (Twitter-SMNER)", root=root)
    stored = load_entries(root)
    site = build_site(stored, tmp_path / "site", browse=browse_pages(stored, {("smner", "test"): gold}))
    pages = list((site / "tweets").glob("*.html"))
    assert len(pages) == 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.count("<script") == 1 and "<img" not in text and "onerror=z>" not in text
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in p.read_text(encoding="utf-8") for p in pages)
