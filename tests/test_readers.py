"""Each raw-format reader alone, on small files written here: good input, and every malformed case."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from smner_bench.benchmark.errors import DataFormatError, MissingDataError
from smner_bench.loaders import (
    Report,
    align_knowledge,
    decode_rle,
    encode_rle,
    read_blip2_captions,
    read_captions,
    read_conll,
    read_knowledge,
    read_labelme,
    read_manual_annotations,
    read_mplug_descriptions,
    read_voc,
)

# --- CoNLL -----------------------------------------------------------------------------------------


def write(path, text, newline="\n"):
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


CONLL = "IMGID:1\nKevin\tB-PER\nDurant\tI-PER\nin\tO\nOakland\tB-LOC\n\nIMGID:O_2\nnothing\tO\nhere\tO\n\n"


def test_conll_reads_tweets_and_spans(tmp_path):
    tweets = read_conll(write(tmp_path / "t.txt", CONLL))
    assert [t.id for t in tweets] == ["1", "O_2"]
    assert tweets[0].tokens == ["Kevin", "Durant", "in", "Oakland"]
    assert tweets[0].spans == [(0, 2, "PER"), (3, 4, "LOC")]
    assert tweets[0].line == 1 and tweets[1].line == 7
    assert tweets[1].spans == []


def test_conll_crlf_and_missing_final_blank_line(tmp_path):
    tweets = read_conll(write(tmp_path / "t.txt", CONLL.rstrip("\n"), newline="\r\n"))
    assert tweets[1].tokens == ["nothing", "here"]
    assert tweets[0].tags == ["B-PER", "I-PER", "O", "B-LOC"]


def test_conll_reports_repairs_aliases_and_duplicates(tmp_path):
    text = "IMGID:7\nthe\tO\nBig\tI-MISC\nApple\tI-MISC\n\nIMGID:7\nx\tB-ORG\ny\tI-LOC\n\n"
    report = Report()
    tweets = read_conll(write(tmp_path / "t.txt", text), report)
    assert tweets[0].tags == ["O", "I-OTHER", "I-OTHER"]
    assert tweets[0].spans == [(1, 3, "OTHER")]
    assert tweets[1].spans == [(0, 1, "ORG"), (1, 2, "LOC")]
    assert report.counts() == {"bio-repair": 2, "duplicate-id": 1, "type-alias": 1}
    repair = report.of_kind("bio-repair")[0]
    assert repair.line == 3 and "I-OTHER" in repair.message and "'Big'" in repair.message
    assert report.of_kind("duplicate-id")[0].line == 6


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("IMGID:1\nKevin B-PER\n\n", 2, "expected 'token<TAB>tag'"),
        ("IMGID:1\nKevin\tB-PER\tx\n\n", 2, "2 tabs"),
        ("IMGID:1\nKevin\tB-DATE\n\n", 2, "unknown tag 'B-DATE'"),
        ("Kevin\tB-PER\n\n", 1, "before the first IMGID"),
        ("IMGID:1\n\nIMGID:2\na\tO\n", 1, "has no tokens"),
        ("IMGID:\na\tO\n", 1, "empty IMGID"),
        ("\n\n", None, "no tweet"),
        ("", None, "no tweet"),
    ],
)
def test_conll_malformed(tmp_path, text, line, needle):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataFormatError) as err:
        read_conll(path)
    assert needle in str(err.value)
    assert err.value.file == str(path) and err.value.line == line
    assert str(path) in str(err.value)


def test_conll_not_utf8_and_missing(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("IMGID:1\nZ\xfcrich\tB-LOC\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8"):
        read_conll(path)
    with pytest.raises(MissingDataError, match="split file not found"):
        read_conll(tmp_path / "nope.txt")


# --- VOC -------------------------------------------------------------------------------------------

VOC = """<annotation><filename>1.jpg</filename><size><width>600</width><height>400</height><depth>3</depth></size>
<object><name>Kevin Durant</name>
  <bndbox><xmin>10</xmin><ymin>20</ymin><xmax>110</xmax><ymax>220</ymax></bndbox></object>
<object><name>Kevin Durant</name>
  <bndbox><xmin>300.5</xmin><ymin>0</ymin><xmax>400</xmax><ymax>100</ymax></bndbox></object>
</annotation>"""


def test_voc_reads_size_and_boxes(tmp_path):
    ann = read_voc(write(tmp_path / "1.xml", VOC))
    assert (ann.filename, ann.width, ann.height) == ("1.jpg", 600, 400)
    assert [(o.name, o.box) for o in ann.objects] == [
        ("Kevin Durant", [10, 20, 110, 220]),
        ("Kevin Durant", [300.5, 0, 400, 100]),
    ]


def test_voc_without_size(tmp_path):
    ann = read_voc(write(tmp_path / "1.xml", "<annotation><size><width>0</width></size></annotation>"))
    assert ann.width is None and ann.height is None and ann.objects == []


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ("<annotation><object><name>x</name></annotation>", "unreadable XML", 1),
        ("<annotation>\n<object></object></annotation>", "has no <name>", None),
        ("<annotation><object><name>x</name></object></annotation>", "has no <bndbox>", None),
        (
            "<annotation><object><name>x</name><bndbox><xmin>a</xmin><ymin>0</ymin><xmax>1</xmax>"
            "<ymax>1</ymax></bndbox></object></annotation>",
            "is not a number",
            None,
        ),
        (
            "<annotation><object><name>x</name><bndbox><xmin>0</xmin></bndbox></object></annotation>",
            "has no <ymin>",
            None,
        ),
    ],
)
def test_voc_malformed(tmp_path, text, needle, line):
    path = write(tmp_path / "bad.xml", text)
    with pytest.raises(DataFormatError) as err:
        read_voc(path)
    assert needle in str(err.value) and str(path) in str(err.value)
    assert err.value.line == line


# --- labelme ---------------------------------------------------------------------------------------


def labelme(shapes, h=40, w=60):
    return {"version": "5.4.1", "shapes": shapes, "imageHeight": h, "imageWidth": w, "imagePath": "1.jpg"}


def shape(label, points, kind="polygon", group=None, mask=None):
    return {"label": label, "points": points, "group_id": group, "shape_type": kind, "flags": {}, "mask": mask}


def png_b64(array):
    buf = io.BytesIO()
    Image.fromarray((array * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_labelme_shapes_groups_and_rle(tmp_path):
    patch = np.zeros((5, 4), dtype=bool)
    patch[1:4, 1:3] = True
    shapes = [
        shape("A", [[2, 2], [11, 6]], "rectangle"),
        shape("B", [[30, 10], [40, 10], [40, 20]], "polygon", group=1),
        shape("B", [[50, 30], [55, 30], [55, 35], [50, 35]], "polygon", group=1),
        shape("B", [[20, 30], [23, 30]], "circle"),  # no group: a mask of its own
        shape("C", [[40, 30], [43, 34]], "mask", mask=png_b64(patch)),
        shape("A", [[0, 0], [5, 5]], "line"),
    ]
    report = Report()
    ann = read_labelme(write(tmp_path / "1.json", json.dumps(labelme(shapes))), report)
    assert (ann.width, ann.height) == (60, 40)
    assert [len(ann.masks[k]) for k in ("A", "B", "C")] == [1, 2, 1]
    a = decode_rle(ann.masks["A"][0])
    assert a.shape == (40, 60) and ann.masks["A"][0]["size"] == [40, 60]
    assert a[2:7, 2:12].all() and a.sum() == 5 * 10  # labelme's rectangle includes both corners
    group = decode_rle(ann.masks["B"][0])
    assert group[15, 39] and group[32, 52] and not group[32, 45]  # the union of the two polygons
    circle = decode_rle(ann.masks["B"][1])
    assert circle[30, 20] and circle[30, 23] and not circle[30, 25] and not circle[36, 20]
    c = decode_rle(ann.masks["C"][0])
    expected = np.zeros((40, 60), dtype=bool)
    expected[30:35, 40:44] = patch
    assert (c == expected).all()
    assert [q.kind for q in report.quirks] == ["mask-skipped-shape"]
    assert isinstance(ann.masks["A"][0]["counts"], str)


def test_rle_round_trip():
    m = np.zeros((7, 5), dtype=bool)
    m[1:3, 2:5] = True
    rle = encode_rle(m)
    assert rle["size"] == [7, 5] and (decode_rle(rle) == m).all()


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("{not json", "unreadable JSON"),
        ("[]", "expected a JSON object"),
        (json.dumps({"shapes": []}), "imageHeight and imageWidth"),
        (json.dumps(labelme([], h=0)), "not positive"),
        (json.dumps({"imageHeight": 4, "imageWidth": 4, "shapes": {}}), "'shapes' must be a list"),
        (json.dumps(labelme([shape("A", [[1, 1], [2, 2]])])), "at least 3 points"),
        (json.dumps(labelme([shape("A", [[1, 1], [2, 2], [3]])])), "list of [x, y]"),
        (json.dumps(labelme([shape("A", [[1, 1]], "rectangle")])), "expected 2 points"),
        (json.dumps(labelme([shape("A", [[1, 1], [2, 2]], "mask", mask="%%%")])), "not a base64 PNG"),
        (json.dumps(labelme([{"points": []}])), "string 'label'"),
    ],
)
def test_labelme_malformed(tmp_path, doc, needle):
    path = write(tmp_path / "bad.json", doc)
    with pytest.raises(DataFormatError) as err:
        read_labelme(path)
    assert needle in str(err.value) and str(path) in str(err.value)


# --- knowledge -------------------------------------------------------------------------------------


def knowledge_text(records):
    out = []
    for tokens, words in records:
        out += [f"{t}\tO" for t in tokens] + ["<EOS>\tX"] + [f"{w}\tX" for w in words] + [""]
    return "\r\n".join(out) + "\r\n"


def test_knowledge_zip_and_folder_align_by_tokens(tmp_path):
    records = [(["a", "b"], ["first", "one"]), (["c"], ["third"]), (["zzz"], ["stray"])]
    text = knowledge_text(records)
    with zipfile.ZipFile(tmp_path / "k.zip", "w") as zf:
        zf.writestr("release/valid.txt", text)
    folder = tmp_path / "k"
    folder.mkdir()
    write(folder / "dev.txt", text)
    for source in (tmp_path / "k.zip", folder):
        name, recs = read_knowledge(source, "validation")
        assert [r.knowledge for r in recs] == ["first one", "third", "stray"]
        assert recs[1].line == 7
        report = Report()
        tweets = [("t1", ["a", "b"], ["O", "O"]), ("t2", ["b"], ["O"]), ("t3", ["c"], ["B-PER"])]
        aligned = align_knowledge(tweets, recs, file=name, report=report)
        assert aligned == {"t1": "first one", "t3": "third"}  # t2 missing, not shifted
        assert report.counts() == {
            "knowledge-unaligned-tweet": 1,
            "knowledge-tags-differ": 1,
            "knowledge-unaligned-record": 1,
        }
        assert "t2" in report.of_kind("knowledge-unaligned-tweet")[0].message


def test_knowledge_of_another_dataset_is_refused(tmp_path):
    (tmp_path / "test.txt").write_text(knowledge_text([(["x"], ["k"]), (["y"], ["k"])]), encoding="utf-8")
    _, recs = read_knowledge(tmp_path, "test")
    tweets = [(str(i), [f"w{i}"], ["O"]) for i in range(4)]
    with pytest.raises(DataFormatError, match="only 0 of 4 tweets align"):
        align_knowledge(tweets, recs, file="k", report=Report())


def test_knowledge_malformed(tmp_path):
    write(tmp_path / "train.txt", "a\tO\nb\tO\n\n")
    with pytest.raises(DataFormatError, match="without an <EOS>") as err:
        read_knowledge(tmp_path, "train")
    assert err.value.line == 2
    write(tmp_path / "train.txt", "a O\n<EOS>\tX\n\n")
    with pytest.raises(DataFormatError, match="token<TAB>tag"):
        read_knowledge(tmp_path, "train")
    with pytest.raises(MissingDataError, match=r"no test\.txt"):
        read_knowledge(tmp_path, "test")
    with pytest.raises(MissingDataError, match="not found"):
        read_knowledge(tmp_path / "nope.zip", "test")
    write(tmp_path / "plain.txt", "x")
    with pytest.raises(DataFormatError, match="zip file or a folder"):
        read_knowledge(tmp_path / "plain.txt", "test")


# --- captions and manual annotations -----------------------------------------------------------------


def test_caption_formats(tmp_path):
    blip = write(tmp_path / "BLIP2_15.txt", "1.jpg :a dog on a couch\nO_2.jpg :two people\n")
    assert read_blip2_captions(blip) == {"1": "a dog on a couch", "O_2": "two people"}
    mplug = write(tmp_path / "mplug-owl_dev.txt", "imgid:1###A dog. \n\nIt sleeps.\nimgid:O_2###People.\n")
    assert read_mplug_descriptions(mplug) == {"1": "A dog. \n\nIt sleeps.", "O_2": "People."}
    captions, descriptions = read_captions([tmp_path])
    assert captions["1"] == "a dog on a couch" and descriptions["O_2"] == "People."
    write(tmp_path / "bad.txt", "1.jpg a dog\n")
    with pytest.raises(DataFormatError, match="expected '<image file> :<caption>'") as err:
        read_blip2_captions(tmp_path / "bad.txt")
    assert err.value.line == 1
    write(tmp_path / "bad2.txt", "stray text\nimgid:1###x\n")
    with pytest.raises(DataFormatError, match="before the first 'imgid:'"):
        read_mplug_descriptions(tmp_path / "bad2.txt")
    with pytest.raises(MissingDataError):
        read_captions([tmp_path / "nope.txt"])


def test_manual_annotations(tmp_path):
    write(tmp_path / "2017train.txt", "11\nNamed entities: 1. NBA (organization)\n22\nNone found\n", "\r\n")
    write(
        tmp_path / "2017train_GPT.txt",
        "11\n['NBA', 'ORG'], ['Harry Potter and the Sorcerer's Stone', 'MISC']\n22\nNone\n33\n['X', 'PER']\n",
        "\r\n",
    )
    report = Report()
    examples = read_manual_annotations(tmp_path, report)
    assert [e.id for e in examples] == ["11", "22", "33"]
    assert examples[0].entities == [("NBA", "ORG"), ("Harry Potter and the Sorcerer's Stone", "OTHER")]
    assert examples[0].analysis == "Named entities: 1. NBA (organization)"
    assert examples[1].entities == [] and examples[2].analysis is None
    assert report.counts() == {"manual-unpaired": 1}
    write(tmp_path / "2017train_GPT.txt", "11\n['NBA', 'DATE']\n", "\r\n")
    with pytest.raises(DataFormatError, match="unknown entity type 'DATE'"):
        read_manual_annotations(tmp_path)
