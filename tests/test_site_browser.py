"""The leaderboard site in a real browser: headless Chromium (Debian's chromium + chromium-driver) loads the
pages from files, the DOM has the rows, a click on a column header sorts them; a screenshot is saved.

CI installs Chromium (.ci/run); elsewhere the test skips when Chromium is not installed, and fails in CI.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from smner_bench.leaderboard.render import boards
from smner_bench.leaderboard.site import build_site, page_name
from smner_bench.leaderboard.store import load_entries

from .conftest import IN_CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT_DIR = Path(os.environ.get("SMNER_BENCH_SCREENSHOTS", "build/screenshots"))


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        message = "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    stored = load_entries()
    out = build_site(stored, tmp_path_factory.mktemp("site") / "site")
    return out, boards(stored)


def column_values(driver, column: int) -> list[str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
    return [r.find_elements(By.TAG_NAME, "td")[column].text for r in rows]


def test_pages_rows_and_sorting(browser, site):
    from selenium.webdriver.common.by import By

    out, all_boards = site
    browser.get((out / "index.html").as_uri())
    links = browser.find_elements(By.CSS_SELECTOR, "li a")
    assert len(links) == len(all_boards)  # every board, this package's ruler first
    assert links[0].get_attribute("href").endswith("-smner-span.html")
    rulers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2")]
    assert rulers[0].startswith("Ruler smner-span") and any("unco-pairs" in r for r in rulers)
    # the GMNER board under the UnCo/MQSPN pair counting, on their derived gold: many systems, some F1 only
    key = next(k for k in all_boards if k[:4] == ("gmner", "gmner", "test", "unco-pairs"))
    browser.get((out / page_name(key)).as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
    assert len(rows) == len(all_boards[key])
    assert "split test" in browser.find_element(By.CSS_SELECTOR, "p.meta").text
    headers = [
        h.text.replace("\u25b2", "").replace("\u25bc", "").strip() for h in browser.find_elements(By.CSS_SELECTOR, "th")
    ]
    f1 = headers.index("F1")
    ranked = [float(v) for v in column_values(browser, f1)]
    assert ranked == sorted(ranked, reverse=True)  # the page comes ranked by F1
    header = browser.find_elements(By.CSS_SELECTOR, "th")[f1]
    header.click()
    ascending = [float(v) for v in column_values(browser, f1)]
    assert ascending == sorted(ranked)
    assert "sorted-asc" in header.get_attribute("class")
    header.click()
    assert [float(v) for v in column_values(browser, f1)] == sorted(ranked, reverse=True)
    system = headers.index("system")
    shown = column_values(browser, system)
    assert sorted(shown) == sorted(r.entry.system for r in all_boards[key])
    collated = "return arguments[0].slice().sort(function (a, b) { return a.localeCompare(b); });"
    expected = browser.execute_script(collated, shown)  # the page's comparator for text: localeCompare
    assert expected != shown  # the click has something to do
    browser.find_elements(By.CSS_SELECTOR, "th")[system].click()
    assert column_values(browser, system) == expected  # ascending, one order only
    browser.find_elements(By.CSS_SELECTOR, "th")[system].click()
    assert column_values(browser, system) == expected[::-1]  # then descending
    images = browser.find_elements(By.CSS_SELECTOR, ".plots img")
    assert images and all(browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
    links = browser.find_elements(By.CSS_SELECTOR, "table.board td a, table.board td span[title]")
    assert links  # provenance on every published row
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOT_DIR / "leaderboard-gmner.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def header_index(driver, name: str) -> int:
    from selenium.webdriver.common.by import By

    headers = [
        h.text.replace("\u25b2", "").replace("\u25bc", "").strip() for h in driver.find_elements(By.CSS_SELECTOR, "th")
    ]
    return headers.index(name)


def test_sorting_puts_rows_without_a_figure_last_in_both_directions(browser, site):
    from selenium.webdriver.common.by import By

    out, all_boards = site
    key = next(k for k in all_boards if k[:4] == ("gmner", "gmner", "test", "unco-pairs"))
    browser.get((out / page_name(key)).as_uri())
    p = header_index(browser, "P")
    assert "-" in column_values(browser, p)  # rows whose paper prints no precision
    for _ in range(2):  # ascending, then descending
        browser.find_elements(By.CSS_SELECTOR, "th")[p].click()
        values = column_values(browser, p)
        numbers = [v for v in values if v not in ("-", "n/a")]
        assert values[len(numbers) :] == ["-"] * (len(values) - len(numbers))  # every "-" after every figure
        assert numbers in (sorted(numbers, key=float), sorted(numbers, key=float, reverse=True))


def test_pr_labels_in_the_browser_are_the_table_ranks_inside_the_axes_and_apart(browser, site):
    """Each P/R scatter as the browser draws it: every label's box (the SVG group matplotlib wrote for it)
    lies inside the axes box, no two overlap, and the labels are the ranks of the table rows that print P and R."""
    from selenium.webdriver.common.by import By

    out, all_boards = site
    checked = 0
    for key in all_boards:
        plot = out / "plots" / (page_name(key).removesuffix(".html") + "-pr.svg")
        if not plot.exists():
            continue
        browser.get((out / page_name(key)).as_uri())
        ranked = [
            tr.find_elements(By.TAG_NAME, "td") for tr in browser.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
        ]
        p, r = header_index(browser, "P"), header_index(browser, "R")
        expected = {
            int(tds[0].text) for tds in ranked if tds[p].text not in ("-", "n/a") and tds[r].text not in ("-", "n/a")
        }
        browser.get(plot.as_uri())
        boxes = browser.execute_script(
            "var out = {}; document.querySelectorAll('[id^=pr-label-], #pr-axes').forEach(function (g) {"
            "  var b = g.getBoundingClientRect(); out[g.id] = [b.left, b.top, b.right, b.bottom]; }); return out;"
        )
        axes = boxes.pop("pr-axes")
        assert {int(name.rsplit("-", 1)[1]) for name in boxes} == expected, key
        for name, (x0, y0, x1, y1) in boxes.items():
            assert x1 > x0 and y1 > y0
            assert axes[0] <= x0 and x1 <= axes[2] and axes[1] <= y0 and y1 <= axes[3], (key, name)
        found = list(boxes.items())
        for i, (a, ba) in enumerate(found):
            for b, bb in found[i + 1 :]:
                assert ba[2] <= bb[0] or bb[2] <= ba[0] or ba[3] <= bb[1] or bb[3] <= ba[1], (key, a, b)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT_DIR / f"pr-{page_name(key).removesuffix('.html')}.png"))
        checked += 1
    assert checked >= 5


@pytest.fixture(scope="module")
def tweet_site(tmp_path_factory, sample_dir, hf_cache):
    """A board with one scored SMNER submission of the sample (four planted mistakes), its tweet page drawn on
    the sample's images."""
    import json

    from smner_bench.benchmark.gold import gold_from_rows
    from smner_bench.benchmark.submission import write_submission
    from smner_bench.leaderboard.browse import browse_pages
    from smner_bench.leaderboard.submit import submit
    from smner_bench.loaders import load_split
    from smner_bench.loaders.sample_predictions import sample_predictions

    from .test_leaderboard import PUBLISHED

    tmp = tmp_path_factory.mktemp("tweets")
    root = tmp / "entries"
    (root / "published").mkdir(parents=True)
    (root / "published" / "paper.yaml").write_text(json.dumps(PUBLISHED), encoding="utf-8")
    rows = load_split("smner", sample_dir, "test", cache_dir=hf_cache)
    gold = gold_from_rows(rows, dataset="smner", split="test", has_boxes=True, has_masks=True)
    lines, planted = sample_predictions(sample_dir)
    write_submission(tmp / "preds.jsonl", lines)
    (tmp / "meta.yaml").write_text("system: Demo\n")
    submit(tmp / "preds.jsonl", tmp / "meta.yaml", gold, command="smner-bench leaderboard submit ...",
           dataset_version="v2.0 (Twitter-SMNER)", root=root)  # fmt: skip
    stored = load_entries(root)
    write = browse_pages(stored, {("smner", "test"): gold}, images={"smner": sample_dir / "images"})
    return build_site(stored, tmp / "site", browse=write), planted


def test_the_tweet_page_lists_mistakes_first_with_a_legend_and_wrong_boxes_apart(browser, tweet_site):
    from selenium.webdriver.common.by import By

    site, planted = tweet_site
    browser.get((site / "smner-smner-test-smner-span.html").as_uri())
    browser.find_element(By.CSS_SELECTOR, "a.browse").click()
    assert "tweet by tweet" in browser.find_element(By.TAG_NAME, "h1").text
    tweets = browser.find_elements(By.CSS_SELECTOR, "section.tweet")
    mistakes = [int(t.get_attribute("data-mistakes")) for t in tweets]
    assert mistakes == sorted(mistakes, reverse=True) and mistakes[0] > 0 and mistakes[-1] == 0
    legend = browser.find_element(By.CSS_SELECTOR, "div.legend").text
    assert all(k in legend for k in ("PER", "ORG", "right entity, wrong box", "wrong entity or type", "missed"))

    def stroke(selector: str) -> tuple[str, str]:
        element = browser.find_element(By.CSS_SELECTOR, selector)
        style = "var s = getComputedStyle(arguments[0]); return [s.stroke, s.strokeDasharray];"
        box = browser.execute_script(
            "var b = arguments[0].getBoundingClientRect(); return [b.width, b.height];", element
        )
        assert box[0] > 0 and box[1] > 0  # drawn, not empty
        return tuple(browser.execute_script(style, element))

    shifted = f"#tweet-{planted['shifted box and mask']}"
    missed = f"#tweet-{planted['missed entity']}"
    wrong_box, gone = stroke(f"{shifted} rect.pred.wrong-box"), stroke(f"{missed} rect.gold.missed")
    assert wrong_box != gone and wrong_box[1] not in ("", "none") and gone[1] not in ("", "none")
    assert browser.find_elements(By.CSS_SELECTOR, f"{shifted} image")  # the sample's image under the boxes
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    browser.execute_script("document.querySelector(arguments[0]).scrollIntoView()", shifted)
    shot = SCREENSHOT_DIR / "tweets-wrong-box.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    browser.find_element(By.ID, "only-mistakes").click()  # the filter: perfect tweets hidden
    shown = [t for t in browser.find_elements(By.CSS_SELECTOR, "section.tweet") if t.is_displayed()]
    assert len(shown) == sum(1 for m in mistakes if m) < len(tweets)
