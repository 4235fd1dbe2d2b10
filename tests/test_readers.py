"""Each raw-format reader alone, on small files written here: good input, and every malformed case."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from smner_bench.benchmark.errors import DataFormatError, MissingDataError
from smner_bench.benchmark.regions import decode_rle, encode_rle
from smner_bench.loaders import (
    QuirkReport,
    align_knowledge,
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
    report = QuirkReport()
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
        ("<annotation>\n<object></object></annotation>", "has no <name>", 2),
        ("<annotation><object><name>x</name></object></annotation>", "has no <bndbox>", 1),
        (
            "<annotation><object><name>x</name><bndbox><xmin>a</xmin><ymin>0</ymin><xmax>1</xmax>"
            "<ymax>1</ymax></bndbox></object></annotation>",
            "<xmin> of <object> #1 ('x') is 'a', expected a finite number",
            1,
        ),
        (
            "<annotation><object><name>x</name><bndbox><xmin>0</xmin></bndbox></object></annotation>",
            "has no <ymin>",
            1,
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
    report = QuirkReport()
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
        report = QuirkReport()
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
        align_knowledge(tweets, recs, file="k", report=QuirkReport())


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


def test_knowledge_zip_with_two_members_of_the_split_name_is_refused(tmp_path):
    """a/train.txt and b/train.txt (or one name twice): which is the split? An error naming both, never the last."""
    one = knowledge_text([(["a"], ["k"])])
    release = tmp_path / "k.zip"
    with zipfile.ZipFile(release, "w") as zf:
        zf.writestr("a/train.txt", one)
        zf.writestr("b/train.txt", knowledge_text([(["b"], ["other"])]))
        zf.writestr("test.txt", one)
    with pytest.raises(DataFormatError, match=r"two members are named train\.txt: 'a/train\.txt' and 'b/train\.txt'"):
        read_knowledge(release, "train")
    assert [r.knowledge for r in read_knowledge(release, "test")[1]] == ["k"]  # the other splits are unambiguous
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("train.txt", one)
        zf.writestr("train.txt", one)
    with pytest.raises(DataFormatError, match=r"'train\.txt' and 'train\.txt'"):
        read_knowledge(twice, "train")


def test_knowledge_is_read_a_line_at_a_time(tmp_path):
    """A zip member of 1 MiB of blank lines cost its bytes, its text and a list of a million lines at once (a
    255 MiB one took 6 GB): it is read in blocks, in a bounded memory whatever its length."""
    import tracemalloc

    release = tmp_path / "blank.zip"
    with zipfile.ZipFile(release, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("train.txt", b"\n" * (1 << 20) + b"a\tO\n<EOS>\tX\nk\tX\n")
    tracemalloc.start()
    try:
        _, records = read_knowledge(release, "train")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert records[0].line == (1 << 20) + 1 and records[0].knowledge == "k"
    assert peak < 2 << 20, peak  # (before: 9.5 MB, growing with the file: 38 MB for 4 MiB)


RECORD = "a\tO\n<EOS>\tX\n\n"


@pytest.mark.parametrize(
    ("limit", "value", "content", "needle"),
    [
        ("MAX_TWEET_TOKENS", 3, "a\tO\n" * 4 + "<EOS>\tX\n", ":4: the record has more than 3 tokens"),
        ("MAX_KNOWLEDGE_CHARS", 5, "a\tO\n<EOS>\tX\nabc\tX\nde\tX\n", ":4: the record's knowledge is longer than 5"),
        ("MAX_KNOWLEDGE_RECORDS", 2, RECORD * 3, ":7: more than 2 records"),
        ("MAX_KNOWLEDGE_BYTES", 1000, RECORD[:-1] + "k\tX\n" * 500, "unpacks to 2012 bytes, more than the limit"),
        ("MAX_ZIP_UNPACKED_BYTES", 16, RECORD, "members unpack to 17 bytes in all, more than the limit of 16"),
        ("MAX_ZIP_MEMBERS", 1, RECORD, "holds 2 members, more than the limit of 1"),
        ("MAX_ZIP_DIRECTORY_BYTES", 100, RECORD, r"its directory has 111 bytes, more than the limit of 100 \(at most"),
    ],
)
def test_knowledge_limits_name_the_file_and_line(tmp_path, monkeypatch, limit, value, content, needle):
    from smner_bench.loaders import knowledge

    monkeypatch.setattr(knowledge, limit, value)
    release = tmp_path / "k.zip"
    with zipfile.ZipFile(release, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("train.txt", content)
        zf.writestr("labels.txt", "PER\n")
    with pytest.raises(DataFormatError, match=needle) as err:
        read_knowledge(release, "train")
    assert str(release) in str(err.value)


def test_knowledge_lines_over_the_line_limit_and_lying_zip_headers(tmp_path, monkeypatch):
    from smner_bench.loaders import rawfile

    monkeypatch.setattr(rawfile, "MAX_LINE_BYTES", 100)
    (tmp_path / "train.txt").write_bytes(b"a\tO\n<EOS>\tX\n" + b"k" * 150_000 + b"\tX\n")
    with pytest.raises(DataFormatError, match="line longer than 100 bytes") as err:
        read_knowledge(tmp_path, "train")
    assert err.value.line == 3
    lines = rawfile.text_lines(io.BytesIO(b"x" * 99 + b"\n" + b"y" * 99 + b"\n" + b"z"), "f", 1000)
    assert [(n, len(t)) for n, t in lines] == [(1, 99), (2, 99), (3, 1)]  # (the limit counts the newline)
    with pytest.raises(DataFormatError, match="has more than 150 bytes"):
        list(rawfile.text_lines(io.BytesIO(b"ab\n" * 60), "f", 150))


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
    report = QuirkReport()
    examples = read_manual_annotations(tmp_path, report)
    assert [e.id for e in examples] == ["11", "22", "33"]
    assert examples[0].entities == [("NBA", "ORG"), ("Harry Potter and the Sorcerer's Stone", "OTHER")]
    assert examples[0].analysis == "Named entities: 1. NBA (organization)"
    assert examples[1].entities == [] and examples[2].analysis is None
    assert report.counts() == {"manual-unpaired": 1}
    write(tmp_path / "2017train_GPT.txt", "11\n['NBA', 'DATE']\n", "\r\n")
    with pytest.raises(DataFormatError, match="unknown entity type 'DATE'"):
        read_manual_annotations(tmp_path)


# --- hostile raw files (issue 10, class 4) -------------------------------------------------------------


def voc_doc(box, size=(600, 400)):
    w, h = size
    x1, y1, x2, y2 = box
    return (
        f"<annotation>\n<size><width>{w}</width><height>{h}</height></size>\n<object><name>A</name>\n"
        f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>\n"
        "</annotation>\n"
    )


@pytest.mark.parametrize(
    ("box", "needle"),
    [
        (("nan", 0, 10, 10), "'nan', expected a finite number"),
        ((0, "inf", 10, 10), "'inf', expected a finite number"),
        ((0, 0, "-inf", 10), "'-inf', expected a finite number"),
        ((0, 0, "1e999", 10), "'1e999', expected a finite number"),
        ((0, 0, "0x10", 10), "expected a finite number"),
        ((50, 0, 10, 10), "inverted or empty"),
        ((10, 10, 10, 20), "inverted or empty"),
        ((10, 10, 10.00000001, 20), "inverted or empty"),  # equal once stored as float32
        ((-5, 0, 10, 10), "outside the 600x400 image"),
        ((0, 0, 602, 10), "outside the 600x400 image"),
        ((0, 0, 10, 1e9), "outside the 600x400 image"),
        ((600.5, 0, 601, 10), "empty once clipped"),
    ],
)
def test_voc_impossible_boxes_are_errors(tmp_path, box, needle):
    path = write(tmp_path / "1.xml", voc_doc(box))
    with pytest.raises(DataFormatError) as err:
        read_voc(path)
    assert needle in str(err.value)
    assert err.value.file == str(path) and err.value.line == 4 and err.value.exit_code == 1


def test_voc_box_within_one_pixel_is_clipped_and_reported(tmp_path):
    report = QuirkReport()
    ann = read_voc(write(tmp_path / "1.xml", voc_doc((-0.5, 0, 600.5, 401))), report)
    assert ann.objects[0].box == [0.0, 0.0, 600.0, 400.0] and ann.objects[0].line == 3
    [quirk] = report.quirks
    assert quirk.kind == "xml-box-clipped" and quirk.line == 4 and "[0.0, 0.0, 600.0, 400.0]" in quirk.message
    # checked against the image's own size when it is given (the size published with the example)
    with pytest.raises(DataFormatError, match="outside the 300x200 image"):
        read_voc(tmp_path / "1.xml", image_size=(300, 200))
    # without any size, only the size limit bounds a box
    no_size = "<annotation><object><name>A</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>{}</xmax><ymax>5</ymax>"
    no_size += "</bndbox></object></annotation>"
    assert read_voc(write(tmp_path / "2.xml", no_size.format(15000))).objects[0].box == [0, 0, 15000, 5]
    with pytest.raises(DataFormatError, match="size limit of 20000"):
        read_voc(write(tmp_path / "3.xml", no_size.format(1e30)))


@pytest.mark.parametrize(
    ("width", "needle"),
    [
        ("inf", "<width> of <size> is 'inf', expected a finite number"),
        ("nan", "expected a finite number"),
        ("abc", "expected a finite number"),
        ("-600", "expected a whole number of pixels"),
        ("600.5", "expected a whole number of pixels"),
        ("100000", "more than the limit of 20000"),
    ],
)
def test_voc_bad_size_is_an_error_with_file_and_line(tmp_path, width, needle):
    path = write(tmp_path / "1.xml", voc_doc((0, 0, 10, 10)).replace("<width>600</width>", f"<width>{width}</width>"))
    with pytest.raises(DataFormatError) as err:
        read_voc(path)
    assert needle in str(err.value) and err.value.file == str(path) and err.value.line == 2
    assert err.value.field == "width"
    # 20000 x 20000 is within each side but over the pixel limit
    path = write(tmp_path / "2.xml", voc_doc((0, 0, 10, 10), size=(20000, 20000)))
    with pytest.raises(DataFormatError, match="more than 64000000 pixels"):
        read_voc(path)


def test_voc_paths_that_are_not_readable_xml_files(tmp_path):
    folder = tmp_path / "folder.xml"
    folder.mkdir()
    loop = tmp_path / "loop.xml"
    loop.symlink_to(loop)
    dangling = tmp_path / "dangling.xml"
    dangling.symlink_to(tmp_path / "nowhere")
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    binary = tmp_path / "binary.xml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    laughs = tmp_path / "laughs.xml"
    laughs.write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa">]><annotation>&a;</annotation>')
    deep = tmp_path / "deep.xml"
    deep.write_text("<annotation>" + "<a>" * 1000 + "</a>" * 1000 + "</annotation>")
    other = tmp_path / "other.xml"
    other.write_text("<html><object/></html>")
    cases = [
        (folder, "is a folder"),
        (loop, "symbolic link loop"),
        (dangling, "broken symbolic link"),
        (fifo, "not a regular file"),
        (binary, "unreadable XML"),
        (laughs, "DOCTYPE"),
        (deep, "nested deeper than 64"),
        (other, "expected <annotation>"),
    ]
    for path, needle in cases:
        with pytest.raises(DataFormatError) as err:
            read_voc(path)
        assert needle in str(err.value) and err.value.file == str(path), path


def test_labelme_absurd_size_fails_before_any_allocation(tmp_path):
    import tracemalloc

    doc = labelme([shape("A", [[1, 1], [5, 1], [5, 5]])], h=100000, w=100000)
    path = write(tmp_path / "big.json", json.dumps(doc))
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match="exceeds the limits") as err:
            read_labelme(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000 and err.value.field == "imageWidth"
    # within the limits, but not the image's size: refused before drawing
    path = write(tmp_path / "other.json", json.dumps(labelme([shape("A", [[1, 1], [5, 1], [5, 5]])], h=4000, w=4000)))
    with pytest.raises(DataFormatError, match="4000x4000 differs from the image's size 60x40"):
        read_labelme(path, expected_size=(60, 40))


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (labelme([shape("A", [[1, 1], [5, 1], [500, 5]])]), "outside the 60x40 image"),
        (labelme([shape("A", [[-3, 1], [5, 1], [5, 5]])]), "outside the 60x40 image"),
        (labelme([shape("A", [[1, 1], [5, 1]] + [[3, 3]] * 10001)]), "more than 10000"),
        (labelme([shape("A", [[1, 1], [True, 1], [5, 5]])]), "list of [x, y] numbers"),
        (labelme([shape("A", [[1, 1], ["2", 1], [5, 5]])]), "list of [x, y] numbers"),
        (labelme([shape("A", [[60.5, 0], [61, 0], [61, 40]])]), "covers no pixel"),
        (labelme([shape("A", [[1, 1], [2, 2]])] * 1001), "more than 1000"),
        (labelme([shape("A", [[0, 0], [1, 1]], "mask", mask=png_b64(np.ones((50, 70), dtype=bool)))]), "larger than"),
        ({**labelme([]), "imageWidth": "60"}, "whole number of pixels"),
        ({**labelme([]), "imageWidth": True}, "whole number of pixels"),
        ({**labelme([]), "imageWidth": 1e400}, "whole number of pixels"),
    ],
)
def test_labelme_hostile_shapes(tmp_path, doc, needle):
    path = write(tmp_path / "bad.json", json.dumps(doc))
    with pytest.raises(DataFormatError) as err:
        read_labelme(path)
    assert needle in str(err.value) and err.value.file == str(path)


def test_labelme_hostile_json(tmp_path):
    for name, text in {
        "deep.json": "[" * 100000 + "]" * 100000,
        "digits.json": '{"imageWidth": ' + "9" * 5000 + "}",
        "latin1.json": '{"x": "\xe9"}',
    }.items():
        path = tmp_path / name
        path.write_bytes(text.encode("latin-1"))
        with pytest.raises(DataFormatError) as err:
            read_labelme(path)
        assert err.value.file == str(path) and len(str(err.value)) < 400
    report = QuirkReport()
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(labelme([])).encode())
    assert read_labelme(path, report).masks == {} and report.counts() == {"utf8-bom": 1}


def _png_declaring(width, height):
    """A PNG whose header declares width x height (no pixel data): what a decompression bomb looks like."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
    )


def test_image_bombs_damage_and_folders_are_named(tmp_path):
    from smner_bench.loaders.rawfile import image_size

    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(good, format="JPEG")
    assert image_size(good) == (64, 48)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(_png_declaring(100000, 100000))
    wide = tmp_path / "wide.jpg"
    wide.write_bytes(_png_declaring(30000, 10))
    many = tmp_path / "many.jpg"
    many.write_bytes(_png_declaring(9000, 9000))
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    for path, needle in [
        (truncated, "unreadable image"),
        (text, "unreadable image"),
        (bomb, "decompression bomb"),
        (wide, "exceeds the limits"),
        (many, "exceeds the limits"),
        (folder, "is a folder"),
    ]:
        with pytest.raises(DataFormatError) as err:
            image_size(path)
        assert needle in str(err.value) and err.value.file == str(path) and len(str(err.value)) < 500, path


def test_conll_bom_odd_and_bad_tokens(tmp_path):
    report = QuirkReport()
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + CONLL.encode())
    assert [t.id for t in read_conll(path, report)] == ["1", "O_2"]
    assert [(q.kind, q.line) for q in report.quirks] == [("utf8-bom", 1)]

    report = QuirkReport()
    tweets = read_conll(write(tmp_path / "odd.txt", "IMGID:1\nit\tO\n\xa0\tO\n\x92\tO\n\n"), report)
    assert tweets[0].tokens == ["it", "\xa0", "\x92"]  # kept as released
    assert [(q.kind, q.line) for q in report.quirks] == [("odd-token", 3), ("odd-token", 4)]

    for text, line, needle in [
        ("IMGID:1\nNew York\tB-LOC\n", 2, "contains a space"),
        ("IMGID:1\n\tO\n", 2, "is empty"),
        ("IMGID:1\na\x00b\tO\n", 2, "control character"),
        ("IMGID:1\na\rb\tO\n", 2, "control character"),
        ("IMGID:1\n" + "x" * 600 + "\tO\n", 2, "longer than 500"),
        ("IMGID:1\na\tO\n\nIMGID:../../etc/passwd\nb\tO\n", 4, "not a plain file name"),
        ("IMGID:.hidden\nb\tO\n", 1, "not a plain file name"),
        ("IMGID:a b\nb\tO\n", 1, "not a plain file name"),
        ("IMGID:1\na\t" + "B-" * 10000 + "\n", 2, "unknown tag"),
    ]:
        path = write(tmp_path / "bad.txt", text)
        with pytest.raises(DataFormatError) as err:
            read_conll(path)
        assert needle in str(err.value) and err.value.line == line and len(str(err.value)) < 400, text[:30]

    path = tmp_path / "latin1.txt"
    path.write_bytes(b"IMGID:1\nok\tO\nZ\xfcrich\tB-LOC\n")
    with pytest.raises(DataFormatError, match=r"not UTF-8 text .* column 2") as err:
        read_conll(path)
    assert err.value.line == 3


def test_other_text_readers_name_file_and_line(tmp_path):
    bad = b"1.jpg :fine\n2.jpg :caf\xe9\n"
    (tmp_path / "cap.txt").write_bytes(bad)
    with pytest.raises(DataFormatError, match="not UTF-8") as err:
        read_blip2_captions(tmp_path / "cap.txt")
    assert err.value.line == 2
    report = QuirkReport()
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfimgid:1###x\n")
    assert read_mplug_descriptions(tmp_path / "bom.txt", report) == {"1": "x"}
    assert report.counts() == {"utf8-bom": 1}

    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "2017train.txt").write_bytes(b"11\r\nanalysis \xff\r\n")
    (manual / "2017train_GPT.txt").write_bytes(b"11\r\nNone\r\n")
    with pytest.raises(DataFormatError, match="not UTF-8") as err:
        read_manual_annotations(manual)
    assert err.value.line == 2 and err.value.file.endswith("2017train.txt")
    (manual / "2017train.txt").write_bytes(b"11\r\nanalysis\r\n")
    (manual / "2017train_GPT.txt").write_bytes(b"11\r\n" + b"['a', 'PER'], " * 3000 + b"\r\n")
    with pytest.raises(DataFormatError, match="limit 20000"):
        read_manual_annotations(manual)

    release = tmp_path / "k.zip"
    with zipfile.ZipFile(release, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("test.txt", b"\xef\xbb\xbfa\tO\n<EOS>\tX\nk\tX\n\nb\tO\n<EOS>\tX\n\xff\tX\n\n")
    with pytest.raises(DataFormatError, match="not UTF-8") as err:
        read_knowledge(release, "test")
    assert err.value.line == 7 and err.value.file == f"{release}!test.txt"
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(release.read_bytes()[:-30])
    with pytest.raises(DataFormatError, match="zip"):
        read_knowledge(damaged, "test")
    folder = tmp_path / "kfolder"
    folder.mkdir()
    (folder / "test.txt").mkdir()
    with pytest.raises(DataFormatError, match="is a folder"):
        read_knowledge(folder, "test")


def test_assembled_release_names_bad_per_tweet_files(tmp_path):
    from smner_bench.loaders.assemble import Sources, iter_examples
    from smner_bench.loaders.configs import config_info

    for sub in ("xml", "masks", "images"):
        (tmp_path / sub).mkdir()
    write(tmp_path / "train.txt", "IMGID:1\nKevin\tB-PER\n\n")
    Image.new("RGB", (60, 40)).save(tmp_path / "images" / "1.jpg", format="JPEG")

    def run():
        sources = Sources(config_info("smner"), tmp_path, image_dir=tmp_path / "images")
        return list(iter_examples(sources, "train", QuirkReport()))

    assert run()[0]["width"] == 60
    (tmp_path / "xml" / "1.xml").mkdir()
    with pytest.raises(DataFormatError, match="is a folder") as err:
        run()
    assert err.value.file == str(tmp_path / "xml" / "1.xml")
    (tmp_path / "xml" / "1.xml").rmdir()
    (tmp_path / "xml" / "1.xml").symlink_to(tmp_path / "xml" / "1.xml")
    with pytest.raises(DataFormatError, match="symbolic link loop"):
        run()
    (tmp_path / "xml" / "1.xml").unlink()
    write(tmp_path / "xml" / "1.xml", voc_doc((0, 0, 50, 39)).replace("<name>A</name>", "<name>Kevin</name>"))
    # the VOC <size> says 600x400 but the image is 60x40: boxes are checked against the image, a quirk says so
    report = QuirkReport()
    example = next(
        iter_examples(Sources(config_info("gmner"), tmp_path, image_dir=tmp_path / "images"), "train", report)
    )
    assert example["entities"][0]["boxes"] == [[0, 0, 50, 39]] and report.counts() == {"xml-size": 1}
    write(tmp_path / "xml" / "1.xml", voc_doc((0, 0, 500, 39)).replace("<name>A</name>", "<name>Kevin</name>"))
    with pytest.raises(DataFormatError, match="outside the 60x40 image"):
        list(
            iter_examples(
                Sources(config_info("gmner"), tmp_path, image_dir=tmp_path / "images"), "train", QuirkReport()
            )
        )
    (tmp_path / "xml" / "1.xml").unlink()
    write(tmp_path / "masks" / "1.json", json.dumps(labelme([shape("Kevin", [[1, 1], [9, 1], [9, 9]])], h=400, w=600)))
    with pytest.raises(DataFormatError, match="600x400 differs from the image's size 60x40"):
        run()
    (tmp_path / "masks" / "1.json").unlink()
    (tmp_path / "images" / "1.jpg").write_bytes(_png_declaring(100000, 100000))
    with pytest.raises(DataFormatError, match="decompression bomb") as err:
        run()
    assert err.value.file == str(tmp_path / "images" / "1.jpg")
    (tmp_path / "train.txt").unlink()
    (tmp_path / "train.txt").mkdir()
    with pytest.raises(DataFormatError, match="split file is a folder"):
        run()


# --- benchmark.io: the JSON / JSON Lines readers and the SHA-256 helpers every part uses ------------------


def test_json_errors_name_the_file_and_line(tmp_path):
    from smner_bench.benchmark.io import json_lines, parse_json

    assert parse_json('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    with pytest.raises(DataFormatError, match=r"^x\.json:3: not JSON \(Expecting value, column 6\)$"):
        parse_json("[\n 1,\n  2, ]", file="x.json")
    with pytest.raises(DataFormatError, match=r"^x\.json: not JSON \(nested too deeply\)$"):
        parse_json("[" * 100_000 + "]" * 100_000, file="x.json")
    with pytest.raises(DataFormatError, match=r"^x\.json:7: unreadable JSON \(ValueError: .*digits"):
        parse_json("1" * 5000, file="x.json", line=7, problem="unreadable JSON")
    text = '{"id": 1}\n\n  \n[2]\n{"id": 3}'
    assert list(json_lines(text, file="p.jsonl")) == [(1, {"id": 1}), (4, [2]), (5, {"id": 3})]
    with pytest.raises(DataFormatError, match=r"^p\.jsonl:2: not JSON \(Expecting value, column 1\)$"):
        list(json_lines(text, file="p.jsonl", skip_blank=False))
    with pytest.raises(DataFormatError, match=r"^p\.jsonl:2: not JSON \(Expecting value, column 4\); rerun$"):
        list(json_lines("{}\n[1,\n{}", file="p.jsonl", hint="; rerun"))


def test_sha256_helpers(tmp_path):
    import gzip
    import hashlib
    import io

    from smner_bench.benchmark.io import sha256_file, sha256_stream

    data = bytes(range(256)) * 9000  # more than one block
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    with gzip.open(io.BytesIO(gzip.compress(data))) as stream:
        assert sha256_file(tmp_path / "f") == sha256_stream(stream)
    assert sha256_stream(io.BytesIO(data), limit=len(data)) == hashlib.sha256(data).hexdigest()
    with pytest.raises(ValueError, match=f"more than {len(data) - 1} bytes"):
        sha256_stream(io.BytesIO(data), limit=len(data) - 1)
