"""The published leaderboard entries transcribe their source tables faithfully: RiVEG (IEEE TMM 2025).

``leaderboard/entries/published/riveg-tmm2025.yaml`` holds every row of Tables V, VI, VIII and IX of Li et al.,
"Advancing Grounded Multimodal Named Entity Recognition via LLM-Based Reformulation and Box-Based Segmentation".
These tests check the file against the schema and against the tables' own arithmetic: F1 = 2PR/(P+R), rows the
paper repeats across tables, and the printed improvement rows of Table VI (which are differences, not entries).
Every other YAML file of ``leaderboard/entries/published/`` (one per paper) gets the schema, id and F1 checks too.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from smner_bench.benchmark.registry import EVALUATOR_IDS
from smner_bench.leaderboard.entry import Entry, Figures, ReleaseGold

ROOT = Path(__file__).resolve().parents[1]
RIVEG = ROOT / "leaderboard" / "entries" / "published" / "riveg-tmm2025.yaml"
PREFIX = "riveg-tmm2025/"
TOL = 0.011  # percentages printed with two decimals: 0.01 plus rounding

# rows counted in the paper, x the boards each row gives
EXPECTED_COUNTS = {
    # Table V: 24 rows (14 BERT-base † rows, 10 XLM-RoBERTa-large ⋄ rows) x 2 datasets (Twitter-2015, Twitter-2017)
    ("Table V", "twitter2015"): 24,
    ("Table V", "twitter2017"): 24,
    # Table VI: 10 rows (△ and △† are differences, not rows) x GMNER; 7 of them also have EES/SMNER figures
    # (UMT-RCNN-EVG, UMT-VinVL-EVG and UMGF-VinVL-EVG print "-")
    ("Table VI", "gmner"): 10,
    ("Table VI", "smner"): 7,
    # Table VIII: 9 rows (H-Index baseline + 4 w/o augmentation + 4 with augmentation) x GMNER and SMNER
    ("Table VIII", "gmner"): 9,
    ("Table VIII", "smner"): 9,
    # Table IX: 9 rows (H-Index baseline + 2 w/o augmentation + 2 with + 4 w/o auxiliary knowledge) x GMNER and SMNER
    ("Table IX", "gmner"): 9,
    ("Table IX", "smner"): 9,
}
TABLE_SEGMENT = {"Table V": "tablev", "Table VI": "tablevi", "Table VIII": "tableviii", "Table IX": "tableix"}

# (entry id, subtask) whose printed F1 is not 2PR/(P+R) of the printed P and R: kept as printed, with notes
KNOWN_F1_EXCEPTIONS = {
    ("riveg-tmm2025/tablev/bert/r-gcn/twitter2015", "mner"): "R-GCN [18] in Table V: P 73.95, R 76.18 give 75.05, "
    "the table prints F1 75.00",
    ("riveg-tmm2025/tablev/bert/r-gcn/twitter2017", "mner"): "R-GCN [18] in Table V: P 86.72, R 87.53 give 87.12, "
    "the table prints F1 87.11",
}

# rows the paper prints more than once (row ids without the trailing /<dataset>): identical figures everywhere
SAME_ROWS = {
    "H-Index": ["tablevi/h-index", "tableviii/baseline-h-index", "tableix/baseline-h-index"],
    "RiVEG XLMR": [
        "tablevi/rivegxlmr-ours",
        "tableviii/chatgpt/plim-ofalarge-ve-ofalarge-vg",
        "tableix/chatgpt/plimxlmr-ofalarge-ve-ofalarge-vg",
    ],
    "RiVEG† XLMR": [
        "tablevi/riveg-aug-xlmr-ours",
        "tableviii/mix/plim-ofalarge-ve-ofalarge-vg",
        "tableix/mix/plimxlmr-ofalarge-ve-ofalarge-vg",
    ],
    "RiVEG BERT": ["tablevi/rivegbert-ours", "tableix/chatgpt/plimbert-ofalarge-ve-ofalarge-vg"],
    "RiVEG† BERT": ["tablevi/riveg-aug-bert-ours", "tableix/mix/plimbert-ofalarge-ve-ofalarge-vg"],
}

# Table VI's improvement rows over H-Index, as printed: GMNER, MNER, EEG, EES, SMNER (P, R, F1 each)
DELTA = (8.93, 10.01, 9.47, 5.43, 4.13, 4.78, 7.07, 8.17, 7.61, 5.99, 6.94, 6.46, 7.86, 8.79, 8.32)
DELTA_DAGGER = (10.86, 10.43, 10.65, 6.34, 6.06, 6.21, 9.07, 8.60, 8.83, 7.84, 7.29, 7.57, 9.64, 9.14, 9.39)


@pytest.fixture(scope="module")
def raw() -> list:
    return yaml.safe_load(RIVEG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def entries(raw) -> dict[str, Entry]:
    return {entry.id: entry for entry in map(Entry.model_validate, raw)}


def _id(row: str, dataset: str) -> str:
    return f"{PREFIX}{row}/{dataset}"


def _fifteen(entries: dict[str, Entry], row: str) -> tuple[Figures, ...]:
    """A GMNER-table row as printed: GMNER, MNER, EEG (from its gmner entry), EES, SMNER (from its smner entry)."""
    gmner, smner = entries[_id(row, "gmner")].results, entries[_id(row, "smner")].results
    return gmner["gmner"], gmner["mner"], gmner["eeg"], smner["ees"], smner["smner"]


def _numbers(figures: tuple[Figures, ...]) -> list[float]:
    return [value for f in figures for value in (f.precision, f.recall, f.f1)]


def test_schema_ids_and_counts(raw, entries):
    assert isinstance(raw, list)
    for item in raw:
        Entry.model_validate(item)
    ids = [item["id"] for item in raw]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert len(entries) == len(raw)
    counts = Counter((e.provenance.table, e.dataset) for e in entries.values())
    assert dict(counts) == EXPECTED_COUNTS
    assert len(entries) == 101
    for entry in entries.values():
        prov = entry.provenance
        assert prov.kind == "publication"
        assert prov.citation.endswith("IEEE Transactions on Multimedia, 2025.")
        assert "Advancing Grounded Multimodal Named Entity Recognition" in prov.citation
        parts = entry.id.split("/")
        assert parts[0] == PREFIX.rstrip("/") and parts[1] == TABLE_SEGMENT[prov.table], entry.id
        assert parts[-1] == entry.dataset, entry.id
        assert (entry.split, entry.iou) == ("test", 0.5)
        expected_version = {"mner": "UMT release", "gmner": "v2.0", "smner": "v2.0 (Twitter-SMNER)"}[entry.task]
        assert entry.dataset_version == expected_version
        assert "△" not in prov.row, "improvement rows are differences, not entries"


def _f1_failures(entries: dict[str, Entry]) -> list[tuple]:
    """The figures whose printed F1 is not 2PR/(P+R) of the printed P and R (within TOL), known exceptions
    apart; a known exception must still be inconsistent and say in its notes that it is kept as printed."""
    failures = []
    for entry in entries.values():
        for task, figures in entry.results.items():
            if figures.precision is None or figures.recall is None:
                assert figures.precision is None and figures.recall is None, entry.id
                continue
            p, r = figures.precision, figures.recall
            consistent = abs(2 * p * r / (p + r) - figures.f1) <= TOL
            if (entry.id, task) in KNOWN_F1_EXCEPTIONS:
                # a typo (or different averaging) in the source table: kept as printed, so it must still fail
                reason = KNOWN_F1_EXCEPTIONS[entry.id, task]
                assert not consistent, f"{entry.id} {task} is no longer an exception: {reason}"
                assert entry.notes and "kept as printed" in entry.notes, entry.id
            elif not consistent:
                failures.append((entry.id, task, p, r, figures.f1, round(2 * p * r / (p + r), 3)))
    return failures


def test_f1_is_harmonic_mean_of_precision_and_recall(entries):
    assert {key[0] for key in KNOWN_F1_EXCEPTIONS} <= set(entries)
    assert not _f1_failures(entries)


# --- every published file, not only RiVEG's: a new paper's YAML is covered as soon as it is added ----------

PUBLISHED_FILES = sorted(RIVEG.parent.glob("*.yaml"))


def test_published_files_are_listed_and_ids_unique_across_them():
    assert RIVEG in PUBLISHED_FILES
    ids = [item["id"] for path in PUBLISHED_FILES for item in yaml.safe_load(path.read_text(encoding="utf-8"))]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]


@pytest.mark.parametrize("path", PUBLISHED_FILES, ids=lambda p: p.name)
def test_every_published_file_transcribes_its_paper_consistently(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(raw, list) and raw, f"{path.name}: a non-empty YAML list of entries"
    entries = {item["id"]: Entry.model_validate(item) for item in raw}
    assert len(entries) == len(raw), f"{path.name}: duplicate ids"
    for entry in entries.values():
        # ids are <file stem>/<table>/.../<dataset>; every figure is a publication's, with its table and row
        assert entry.id.startswith(path.stem + "/") and entry.id.split("/")[-1] == entry.dataset, entry.id
        assert entry.provenance.kind == "publication" and entry.digest is None, entry.id
        assert entry.provenance.citation and entry.provenance.table and entry.provenance.row, entry.id
    assert not _f1_failures(entries)


def test_rows_repeated_across_tables_agree(entries):
    for name, rows in SAME_ROWS.items():
        first, *others = rows
        for row in others:
            for dataset in ("gmner", "smner"):
                assert entries[_id(row, dataset)].results == entries[_id(first, dataset)].results, (name, row)
                assert entries[_id(row, dataset)].system == entries[_id(first, dataset)].system, (name, row)


def test_gmner_and_smner_entries_of_a_row_share_its_mner_figures(entries):
    for entry in entries.values():
        if entry.task == "smner":
            twin = entries[entry.id.removesuffix("/smner") + "/gmner"]
            assert twin.provenance.row == entry.provenance.row
            assert twin.results["mner"] == entry.results["mner"], entry.id


def test_variants_from_the_same_set_have_the_same_mner_results(entries):
    # Table VIII's caption; the sets are Table VI's RiVEG XLMR (w/o augmentation) and RiVEG† XLMR (Mix)
    sets = {
        "chatgpt": (entries[_id("tablevi/rivegxlmr-ours", "gmner")], (84.80, 84.23, 84.51)),
        "mix": (entries[_id("tablevi/riveg-aug-xlmr-ours", "gmner")], (85.71, 86.16, 85.94)),
    }
    seen = Counter()
    for entry in entries.values():
        parts = entry.id.split("/")
        if parts[1] == "tableviii" and parts[2] in sets:
            reference, printed = sets[parts[2]]
            assert entry.results["mner"] == reference.results["mner"], entry.id
            mner = entry.results["mner"]
            assert (mner.precision, mner.recall, mner.f1) == printed, entry.id
            seen[parts[2]] += 1
    assert seen == {"chatgpt": 8, "mix": 8}  # 4 rows per set x GMNER and SMNER
    # Table IX, w/o auxiliary knowledge: augmenting only VE and VG leaves the MNER module's figures unchanged
    for encoder in ("bert", "xlmr"):
        plain = _id(f"tableix/no-aux-knowledge/{encoder}-crf-ofalarge-ve-ofalarge-vg", "gmner")
        augmented = _id(f"tableix/no-aux-knowledge/{encoder}-crf-ofa-aug-large-ve-ofa-aug-large-vg", "gmner")
        assert entries[plain].results["mner"] == entries[augmented].results["mner"]


@pytest.mark.parametrize(
    ("riveg", "printed"),
    [("tablevi/rivegxlmr-ours", DELTA), ("tablevi/riveg-aug-xlmr-ours", DELTA_DAGGER)],
    ids=["delta", "delta-dagger"],
)
def test_improvement_rows_are_riveg_xlmr_minus_h_index(entries, riveg, printed):
    ours = _numbers(_fifteen(entries, riveg))
    h_index = _numbers(_fifteen(entries, "tablevi/h-index"))
    assert len(printed) == len(ours) == 15
    for column, (a, b, delta) in enumerate(zip(ours, h_index, printed, strict=True)):
        assert abs((a - b) - delta) <= TOL, (riveg, column, a, b, delta)


def test_repaired_extraction_damage():
    # the PDF text prints Table V's XLMRlarge-CRF⋄ Twitter-2017 recall as "90.2 3"; Table VII's
    # "w/o Auxiliary Knowledge" row repeats the same figures: 88.46 90.23 89.34
    entries = {e["id"]: e for e in yaml.safe_load(RIVEG.read_text(encoding="utf-8"))}
    figures = entries[_id("tablev/xlmr/xlmrlarge-crf-text-only", "twitter2017")]["results"]["mner"]
    assert figures == {"precision": 88.46, "recall": 90.23, "f1": 89.34}


# --- every published figure is the paper's: each row parsed from the papers' text (../shared/papers) --------------
#
# The entries of MQSPN (Table 1) and UnCo (Table 2) were typed from these files, and RiVEG's from its paper: here
# every figure of every published entry is compared with the row of the paper's text that its provenance names
# (row label, whitespace ignored), so a typo anywhere fails.

NUMBER = r"(?:-|[+-]?\d+\.\d\d\*?)"
# (entry's paper file stem) -> the paper text file; the layout of a printed row: which figures are where
PAPER_FILES = {
    "riveg-tmm2025": "riveg-tmm2025.txt",
    "mqspn-aaai2025": "mqspn-aaai2025-results.txt",
    "unco-2025": "unco-2025.txt",
}
RIVEG_DAMAGE = {
    "90.2 3": "90.23"
}  # the PDF text's split of Table V's XLMRlarge-CRF recall (test_repaired_extraction_damage)


def _label(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("\u2663", "")


@pytest.fixture(scope="module")
def papers(data_root) -> Path:
    """The papers' text files next to the real data (../shared/papers)."""
    for folder in (data_root.parent / "papers", ROOT.parent / "shared" / "papers"):
        if all((folder / name).is_file() for name in PAPER_FILES.values()):
            return folder
    pytest.fail(f"the papers' text files {sorted(PAPER_FILES.values())} are not next to {data_root}")


def riveg_rows(text: str) -> list[tuple[str, list[str]]]:
    """Every line ending in at least 3 figures, with its label: the text since the previous such line (labels
    wrap over lines in the PDF text)."""
    for damaged, repaired in RIVEG_DAMAGE.items():
        text = text.replace(damaged, repaired)
    rows, label = [], ""
    for line in text.splitlines():
        m = re.fullmatch(rf"(.*?)((?:\s+{NUMBER}){{3,}})\s*", " " + line)
        if m is None:
            label += line
            continue
        rows.append((_label(label + m.group(1)), [t.rstrip("*") for t in m.group(2).split()]))
        label = ""
    return rows


def mqspn_rows(text: str) -> list[tuple[str, list[str]]]:
    """Table 1's HTML rows: the label cell before nine figures (the conversion wrote the club suit as "$", "+")."""
    table = text.split("--- Table 1 ---")[1].split("--- Table 2 ---")[0]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", table):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr)
        figures = [c for c in cells if re.fullmatch(r"\d+\.\d\d", c)]
        if len(figures) == 9:
            rows.append((_label(cells[cells.index(figures[0]) - 1]).rstrip("$+"), figures))
    return rows


def unco_rows(text: str) -> list[tuple[str, list[str]]]:
    """Table 2's rows: a label and six figures (Twitter-GMNER, then Twitter-FMNERG GMNER, MNER, EEG F1); a "-w/"
    row belongs to the MLLM row above it ("<MLLM> / -w/ ..."); the dagger lines stand alone."""
    body = text[text.index("GPT4o (Hurstetal.,2024)") : text.index("Table2:Comparisons")]
    rows, base = [], ""
    for line in body.splitlines():
        if not line.strip() or line.strip() == "\u2020":
            continue
        m = re.fullmatch(rf"(.*?)((?:\s+{NUMBER}){{6}})\s*", line)
        assert m, f"unco-2025.txt, Table 2: not a row: {line!r}"
        label = _label(m.group(1))
        base = base if label.startswith("-w") else label
        rows.append((f"{base}/{label}" if label.startswith("-w") else label, m.group(2).split()))
    return rows


PARSERS = {"riveg-tmm2025": riveg_rows, "mqspn-aaai2025": mqspn_rows, "unco-2025": unco_rows}


def printed(entry: Entry) -> dict[int, str]:
    """The entry's figures at their positions in its printed row, as printed (two decimals, "-" for none)."""

    def three(f: Figures | None, pr: bool = True) -> list[str]:
        fmt = [f.precision, f.recall, f.f1] if f is not None else [None, None, None]
        return [("-" if v is None else f"{v:.2f}") for v in (fmt if pr else fmt[2:])]

    r, stem = entry.results, entry.id.split("/")[0]
    if stem == "unco-2025":
        assert all(f.precision is None and f.recall is None for f in r.values()), entry.id  # F1 only
        return dict(enumerate(three(r.get(t), pr=False)[0] for t in ("gmner", "mner", "eeg")))
    if entry.provenance.table == "Table V":
        start = {"twitter2015": 0, "twitter2017": 3}[entry.dataset]
        return dict(enumerate(three(r["mner"]), start))
    if entry.task == "gmner":
        return dict(enumerate(three(r["gmner"]) + three(r["mner"]) + three(r["eeg"])))
    return dict(enumerate(three(r["mner"]) + [None] * 3 + three(r["ees"]) + three(r["smner"]), 3))


def mismatches(entries: list[Entry], rows: list[tuple[str, list[str]]]) -> list[str]:
    """The entries whose figures are not those of a printed row with their label."""
    out = []
    for entry in entries:
        want = {k: v for k, v in printed(entry).items() if v is not None}
        candidates = [figures for label, figures in rows if label.endswith(_label(entry.provenance.row))]
        if not candidates:
            out.append(f"{entry.id}: no row {entry.provenance.row!r} in the paper")
        elif not any(all(k < len(c) and c[k] == v for k, v in want.items()) for c in candidates):
            out.append(f"{entry.id}: {want} is in no row {entry.provenance.row!r} of the paper ({candidates})")
    return out


def _entries(path: Path) -> list[Entry]:
    return [Entry.model_validate(item) for item in yaml.safe_load(path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("stem", sorted(PAPER_FILES))
def test_every_published_figure_is_the_papers(papers, stem):
    assert {p.stem for p in PUBLISHED_FILES} == set(PAPER_FILES)  # a new paper's file needs its parser here
    rows = PARSERS[stem]((papers / PAPER_FILES[stem]).read_text(encoding="utf-8"))
    entries = _entries(RIVEG.parent / f"{stem}.yaml")
    assert rows and entries
    assert mismatches(entries, rows) == []
    # a typo is caught: each figure changed by one digit makes its entry a mismatch
    entry = entries[len(entries) // 2]
    f1 = entry.main.f1
    typo = entry.model_copy(
        update={"results": {**entry.results, entry.task: entry.main.model_copy(update={"f1": round(f1 + 0.1, 2)})}}
    )
    assert [m.split(":")[0] for m in mismatches([typo], rows)] == [entry.id]


def test_unco_rows_left_out_repeat_mqspn_table_1(papers):
    """UnCo Table 2's rows of the pipeline systems, H-Index and MQSPN are not entries: they print MQSPN Table 1's
    (Yu et al.'s) F1, which the board has with precision and recall."""
    unco = dict(unco_rows((papers / PAPER_FILES["unco-2025"]).read_text(encoding="utf-8")))
    mqspn = dict(mqspn_rows((papers / PAPER_FILES["mqspn-aaai2025"]).read_text(encoding="utf-8")))
    same = {
        "GVATT-OD-EVG(Luetal.,2018a)": "GVATT-RCNN-EVG",
        "UMT-OD-EVG(Yuetal.,2020)": "UMT-RCNN-EVG",
        "UMGF-OD-EVG(Zhangetal.,2021a)": "UMGF-VinVL-EVG",
        "ITA-OD-EVG(Wangetal.,2022b)": "ITA-VinVL-EVG",
        "MMT5/BARTMNER-OD-EVG(Yuetal.,2023)": "BARTMNER-VinVL-EVG",
        "H-Index(Yuetal.,2023)": "H-Index",
        "MQSPN(Tangetal.,2025)": "MQSPN(Ours)",
    }
    for row, theirs in same.items():
        assert unco[row][:3] == [mqspn[theirs][k] for k in (2, 5, 8)], row
    ids = {e.provenance.row for e in _entries(RIVEG.parent / "unco-2025.yaml")}
    assert not {_label(i) for i in ids} & set(same)


def test_the_field_on_the_board_names_ruler_gold_and_origin():
    by_file = {p.stem: _entries(p) for p in PUBLISHED_FILES}
    for entries in by_file.values():
        for e in entries:
            p = e.provenance
            if e.task in ("gmner", "smner"):
                assert p.evaluator in EVALUATOR_IDS and p.gold is not None, e.id
            assert (p.origin == "quoted") == (p.quoted_from is not None), e.id
            assert p.paper, e.id
    mqspn = {e.provenance.row: e for e in by_file["mqspn-aaai2025"]}
    assert len(mqspn) == 10 and Counter(e.provenance.origin for e in mqspn.values()) == {
        "quoted": 7,
        "reproduced": 2,
        "own": 1,
    }
    ours = mqspn["MQSPN (Ours)"].provenance
    assert (ours.evaluator, ours.gold.kind) == ("unco-pairs", "derived") and not ours.assumed
    for club in ("MNER-QG\u2663", "TIGER\u2663"):  # reproduced by the MQSPN authors: the paper says so, not how
        p = mqspn[club].provenance
        assert p.origin == "reproduced" and set(p.assumed) == {"evaluator", "gold"}, club
        assert "reproduced by the MQSPN authors" in mqspn[club].notes
    for e in mqspn.values():
        if e.provenance.origin == "quoted":  # from Yu et al. (2023a): H-Index's metric, printed before v2.0
            assert "Yu" in e.provenance.quoted_from and e.provenance.evaluator == "hindex-candidates"
            assert e.provenance.gold == ReleaseGold(version="v1"), e.id
    unco = {e.system if e.provenance.origin == "quoted" else e.id: e for e in by_file["unco-2025"]}
    quoted = {k for k, e in unco.items() if e.provenance.origin == "quoted"}
    assert quoted == {"TIGER", "GMDA", "GEM", "RiVEG"} and len(unco) == 18
    for system in quoted:
        assert unco[system].provenance.quoted_from and unco[system].provenance.table == "Table 2"
    own = [e for e in unco.values() if e.provenance.origin == "own"]
    assert len(own) == 14 and {e.provenance.evaluator for e in own} == {"unco-pairs"}
    assert {e.provenance.gold.kind for e in own} == {"derived"}
    # one system, two figures: TIGER as MQSPN reproduced it and as UnCo quotes it; RiVEG's conference version
    assert (mqspn["TIGER\u2663"].main.f1, unco["TIGER"].main.f1) == (56.63, 57.48)
    conference = unco["RiVEG"].results
    journal = next(e for e in by_file["riveg-tmm2025"] if e.id == _id("tablevi/rivegbert-ours", "gmner")).results
    assert [conference[t].f1 for t in ("gmner", "mner", "eeg")] == [journal[t].f1 for t in ("gmner", "mner", "eeg")]
    assert "conference version" in unco["RiVEG"].provenance.quoted_from


def test_the_derived_gold_counts_the_tweets_that_differ_from_the_release(data_root):
    """The MQSPN/UnCo authors' test file (../shared/data/peer-gold) differs from the v2.0 release in the tweets its
    entries say: counted here on its own (an entity once per box there, end inclusive, MISC for OTHER)."""
    import json

    from smner_bench.loaders import load_gold

    gold = {t.id: t for t in load_gold("gmner", "test", data_dir=data_root / "twitter-gmner" / "v2.0").tweets}
    differ = 0
    for item in json.loads((data_root / "peer-gold" / "unco_twitter_gmner_gt.json").read_text(encoding="utf-8")):
        tweet = gold[item["image_id"].removesuffix(".jpg")]
        theirs: dict[tuple, set] = {}
        for e in item["gt_entities"]:
            boxes = theirs.setdefault((e["start"], e["end"] + 1, e["entity_type"].replace("MISC", "OTHER")), set())
            boxes.update([tuple(map(float, e["region_box"]))] if e["region_box"] else [])
        ours = {(e.start, e.end, e.type): {tuple(map(float, b)) for b in e.boxes} for e in tweet.entities}
        differ += item["tokens"] != tweet.tokens or theirs != ours
    derived = [
        e for p in PUBLISHED_FILES for e in _entries(p) if e.provenance.gold and e.provenance.gold.kind == "derived"
    ]
    assert len(derived) == 3 + 14  # MQSPN's own and reproduced rows, UnCo's own rows
    assert {e.provenance.gold.tweets_differ for e in derived} == {differ} and differ == 44
