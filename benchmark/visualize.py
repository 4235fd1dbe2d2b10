"""Draw gold against predictions for a tweet: the text with entities coloured by type, the gold boxes and
masks on the left, the predicted ones on the right, each prediction marked correct (green) or wrong (red).

``smner-bench show --dataset gmner --split test --id 71044 [--predictions p.jsonl] [--images DIR] -o out.png``;
``--errors N`` draws the N tweets with the most errors (wrong predictions + missed gold) into one sheet.
Without ``--images`` the image is a blank canvas of the image's size.

Bounded: an image (or blank canvas) larger than :data:`MAX_PIXELS` is refused before it is decoded or
allocated; a mask is decoded only when its RLE size equals the image's (and its counts are not absurdly
long); a box must be finite and within :data:`BOX_MARGIN` image sizes around the image. Refusals are exit 1
naming the file (or the tweet and entity). :func:`draw` makes the picture from a :class:`~.gold.Gold`; the
command (:mod:`smner_bench.cli.scoring`) writes it with the safe-output rules.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from .arguments import arg
from .errors import DataFormatError, UsageError
from .gold import Gold, GoldTweet
from .regions import decode_rle, rle_problem
from .scoring import Scorer
from .submission import Prediction, read_submission

TYPE_COLOURS = {"PER": (31, 119, 180), "LOC": (44, 160, 44), "ORG": (255, 127, 14), "OTHER": (148, 103, 189)}
CORRECT, WRONG = (0, 170, 0), (214, 0, 0)
BLANK = (255, 255, 255)
DEFAULT_SIZE = (640, 480)
MASK_ALPHA = 0.45
PANEL_WIDTH = 480  # each image panel is scaled to this width
MAX_PANEL_HEIGHT = 4 * PANEL_WIDTH  # a very tall image is squeezed to this height
MAX_PIXELS = 40_000_000  # the largest image or mask decoded (a 40-megapixel photo)
BOX_MARGIN = 1.0  # a box may reach one image size beyond each border (generous; the scorer clips nothing)
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def _font(size: int = 14) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


class Refused(DataFormatError):
    """A picture, mask or box the visualizer will not decode or draw (exit 1)."""


def check_mask(rle: object, size: tuple[int, int], where: str) -> None:
    """Refuse, before decoding, a mask that is not an RLE of ``size`` = (height, width)."""
    if not isinstance(rle, dict) or not isinstance(rle.get("counts"), str):
        raise Refused(f"{where}: the mask is not a COCO RLE with string counts")
    shape = rle.get("size")
    if not (isinstance(shape, list) and len(shape) == 2 and all(type(v) is int and v > 0 for v in shape)):
        raise Refused(f"{where}: the mask's size is not [height, width] in pixels")
    if shape[0] * shape[1] > MAX_PIXELS:
        raise Refused(f"{where}: a mask of {shape[0]}x{shape[1]} pixels is more than {MAX_PIXELS} pixels")
    if tuple(shape) != tuple(size):
        raise Refused(f"{where}: the mask's size {shape} differs from the image's [{size[0]}, {size[1]}]")
    if len(rle["counts"]) > 2 * shape[0] * shape[1] + 64 or not rle["counts"].isascii():
        raise Refused(f"{where}: the mask's counts are not a compressed RLE of its size")
    problem = rle_problem({"size": shape, "counts": rle["counts"]})  # decoding only what pycocotools reads safely
    if problem is not None:
        raise Refused(f"{where}: the mask's counts are not a compressed RLE of its size ({problem})")


def check_box(box: object, size: tuple[int, int], where: str) -> None:
    """Refuse a box that is not four finite numbers within :data:`BOX_MARGIN` image sizes of the image."""
    height, width = size
    if not (isinstance(box, (list, tuple, np.ndarray)) and len(box) == 4):
        raise Refused(f"{where}: the box is not [x1, y1, x2, y2]")
    values = [float(v) for v in box]
    if not all(math.isfinite(v) for v in values):
        raise Refused(f"{where}: the box {values} has a non-finite coordinate")
    low_x, high_x = -BOX_MARGIN * width, (1 + BOX_MARGIN) * width
    low_y, high_y = -BOX_MARGIN * height, (1 + BOX_MARGIN) * height
    x1, y1, x2, y2 = values
    if not (low_x <= x1 <= high_x and low_x <= x2 <= high_x and low_y <= y1 <= high_y and low_y <= y2 <= high_y):
        raise Refused(f"{where}: the box {values} lies far outside the {width}x{height} image")


def _canvas_size(tweet: GoldTweet) -> tuple[int, int]:
    size = tweet.mask_size
    width, height = (size[1], size[0]) if size else DEFAULT_SIZE
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise Refused(f"tweet {tweet.id}: the image size {width}x{height} is not a size in pixels")
    if width * height > MAX_PIXELS:
        raise Refused(f"tweet {tweet.id}: an image of {width}x{height} pixels is more than {MAX_PIXELS} pixels")
    return width, height


def _base_image(tweet: GoldTweet, images: Path | None) -> Image.Image:
    if images is not None:
        path = images / f"{tweet.id}.jpg"
        if path.is_file():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(path) as image:
                        if image.width * image.height > MAX_PIXELS:
                            raise Refused(
                                f"an image of {image.width}x{image.height} pixels is more than {MAX_PIXELS} pixels",
                                file=path,
                            )
                        return image.convert("RGB")
            except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise Refused(f"not a readable image ({str(exc)[:120]})", file=path) from None
            except OSError as exc:
                raise Refused(f"the image cannot be decoded ({str(exc)[:120]})", file=path) from None
    return Image.new("RGB", _canvas_size(tweet), BLANK)


def check_items(items: list[tuple[str, list, list, tuple | None, str]], image: Image.Image) -> None:
    """Check every box and mask of (type, boxes, masks, mark, label) items against ``image`` before drawing."""
    size = (image.height, image.width)
    for _, boxes, masks, _, label in items:
        for box in boxes:
            check_box(box, size, label)
        for mask in masks:
            check_mask(mask, size, label)


def _overlay(image: Image.Image, mask: np.ndarray, colour: tuple[int, int, int]) -> None:
    if mask.shape != (image.height, image.width):  # checked before decoding (check_mask)
        return
    pixels = np.asarray(image).astype(np.float64)
    pixels[mask] = (1 - MASK_ALPHA) * pixels[mask] + MASK_ALPHA * np.asarray(colour)
    image.paste(Image.fromarray(pixels.round().astype(np.uint8)))


def _regions(image: Image.Image, items: list[tuple[str, list, list, tuple | None, str]]) -> Image.Image:
    """Draw (type, boxes, masks, mark colour, label) items on a copy of ``image``; each box and mask is
    checked (:func:`check_items`) before anything is decoded."""
    check_items(items, image)
    image = image.copy()
    for kind, _, masks, _, _ in items:
        for m in masks:
            _overlay(image, decode_rle(m), TYPE_COLOURS[kind])
    draw = ImageDraw.Draw(image)
    line = max(2, round(image.width / 240))
    for kind, boxes, _, mark, _ in items:
        for box in boxes:
            draw.rectangle([float(v) for v in box], outline=TYPE_COLOURS[kind], width=line)
            if mark is not None:
                x, y = float(box[0]), float(box[1])
                draw.rectangle([x, y, x + 6 * line, y + 6 * line], fill=mark)
    return image


def _scale(image: Image.Image) -> Image.Image:
    height = min(MAX_PANEL_HEIGHT, max(1, round(image.height * PANEL_WIDTH / image.width)))
    return image.resize((PANEL_WIDTH, height))


def _text_lines(
    tweet: GoldTweet, spans: list[tuple[int | None, int | None, str, str, tuple | None]], font, width: int
) -> list[list[tuple[str, tuple, tuple | None]]]:
    """Words with their colour (entity type or black) and mark, wrapped to ``width`` pixels."""
    colour_of: dict[int, tuple] = {}
    mark_of: dict[int, tuple | None] = {}
    for start, end, kind, _, mark in spans:
        if start is None:
            continue
        for i in range(start, end):  # type: ignore[arg-type]
            colour_of[i] = TYPE_COLOURS[kind]
        mark_of[end - 1] = mark  # type: ignore[operator]
    lines: list[list] = [[]]
    used = 0
    for i, token in enumerate(tweet.tokens):
        w = font.getlength(token + " ")
        if used + w > width and lines[-1]:
            lines.append([])
            used = 0
        lines[-1].append((token, colour_of.get(i, (0, 0, 0)), mark_of.get(i)))
        used += w + (10 if i in mark_of else 0)
    return lines


def _panel_text(
    draw: ImageDraw.ImageDraw, x: int, y: int, title: str, tweet: GoldTweet, spans, font, missed: tuple = ()
) -> int:
    draw.text((x, y), title, fill=(0, 0, 0), font=font)
    y += 20
    for words in _text_lines(tweet, spans, font, PANEL_WIDTH):
        cx = x
        for token, colour, mark in words:
            draw.text((cx, y), token, fill=colour, font=font)
            cx += font.getlength(token + " ")
            if mark is not None:
                draw.rectangle([cx - 4, y + 4, cx + 4, y + 12], fill=mark)
                cx += 10
        y += 18
    unplaced = [s for s in spans if s[0] is None]  # text-only predictions
    for _, _, kind, text, mark in unplaced:
        draw.text((x, y), f"{text} ({kind})", fill=TYPE_COLOURS[kind], font=font)
        if mark is not None:
            draw.rectangle([x - 12, y + 4, x - 4, y + 12], fill=mark)
        y += 18
    for e in missed:
        draw.text((x, y), f"missed: {e.text} ({e.type})", fill=WRONG, font=font)
        y += 18
    return y


def render_tweet(
    tweet: GoldTweet,
    predictions: list[Prediction] | None,
    verdicts: dict[int, bool],
    images: Path | None,
    matched_gold: set[int] | None = None,
    source: str = "predictions",
) -> Image.Image:
    """One tweet: gold on the left, predictions on the right (or the gold alone). ``source`` names the
    prediction file in messages."""
    font = _font()
    base = _base_image(tweet, images)
    gold_items = [
        (e.type, e.boxes.tolist(), e.masks, None, f"tweet {tweet.id}: gold entity {e.text[:40]!r}")
        for e in tweet.entities
    ]
    panels = [
        (
            "gold",
            _scale(_regions(base, gold_items)),
            [(e.start, e.end, e.type, e.text, None) for e in tweet.entities],
            (),
        )
    ]
    if predictions is not None:
        items, spans = [], []
        for p in predictions:
            mark = CORRECT if verdicts.get(p.order) else WRONG
            label = f"{source}: tweet {tweet.id}: predicted entity {(p.text or '')[:40]!r}"
            items.append((p.type, [p.box] if p.box else [], [p.mask] if p.mask else [], mark, label))
            spans.append((p.start, p.end, p.type, p.text, mark))
        missed = tuple(e for e in tweet.entities if matched_gold is not None and e.index not in matched_gold)
        panels.append(("predicted", _scale(_regions(base, items)), spans, missed))
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_height = max(_panel_text(scratch, 0, 8, "", tweet, spans, font, missed) for _, _, spans, missed in panels)
    height = max(p[1].height for p in panels) + text_height + 18
    sheet = Image.new("RGB", (len(panels) * (PANEL_WIDTH + 20) + 10, height), BLANK)
    draw = ImageDraw.Draw(sheet)
    for i, (title, picture, spans, missed) in enumerate(panels):
        x = 10 + i * (PANEL_WIDTH + 20)
        _panel_text(draw, x, 8, f"{title} - tweet {tweet.id}", tweet, spans, font, missed)
        sheet.paste(picture, (x, text_height + 8))
    return sheet


def _by_tweet(predictions: list[Prediction]) -> dict[int, list[Prediction]]:
    out: dict[int, list[Prediction]] = {}
    for p in predictions:
        out.setdefault(p.tweet, []).append(p)
    return out


def _verdicts(gold: Gold, path: str | None, iou: float, match: str | None):
    """(predictions by tweet, {prediction order: correct}, matched gold indices, errors per tweet) for the
    most specific task the file supports."""
    if path is None:
        return None, {}, None, None
    sub = read_submission(path, gold, allow_missing=True)
    scorer = Scorer.build(sub, gold)
    table = scorer.matches(None, match, iou)
    correct = {p: True for p, _ in table.pairs()}
    matched = {g for _, g in table.pairs()}
    tp, pred, golds = scorer.per_tweet(table.task, table.match, iou)
    return _by_tweet(sub.predictions), correct, matched, (pred - tp) + (golds - tp)


def contact_sheet(panels: list[Image.Image], columns: int = 2) -> Image.Image:
    rows = [panels[i : i + columns] for i in range(0, len(panels), columns)]
    width = max(sum(p.width for p in row) for row in rows)
    height = sum(max(p.height for p in row) for row in rows)
    sheet = Image.new("RGB", (width, height), BLANK)
    y = 0
    for row in rows:
        x = 0
        for p in row:
            sheet.paste(p, (x, y))
            x += p.width
        y += max(p.height for p in row)
    return sheet


def draw(
    gold: Gold,
    *,
    predictions: str | os.PathLike | None = None,
    images: str | os.PathLike | None = None,
    tweet_id: str | None = None,
    errors: int | None = None,
    iou: float = 0.5,
    match: str | None = None,
) -> tuple[Image.Image | None, list[str]]:
    """The picture of one tweet (``tweet_id``) or the contact sheet of the ``errors`` tweets with the most errors
    (wrong predictions plus missed gold; needs ``predictions``): gold on the left, the predictions on the right,
    each marked right or wrong under ``match`` and ``iou``; and the ids of the tweets drawn. The picture is None
    when ``errors`` is asked and no tweet has one."""
    if (tweet_id is None) == (errors is None):
        raise UsageError(f"give one of {arg('tweet_id')} and {arg('errors')}")
    folder = Path(images) if images is not None else None
    if folder is not None and not folder.is_dir():
        raise UsageError(f"image folder not found: {folder}")
    by_tweet, verdicts, matched, counts = _verdicts(gold, None if predictions is None else str(predictions), iou, match)
    if tweet_id is not None:
        tweet = gold.by_id.get(tweet_id)
        if tweet is None:
            raise UsageError(f"no tweet {tweet_id!r} in {gold.name}")
        chosen = [tweet]
    else:
        if counts is None:
            raise UsageError(f"{arg('errors')} needs {arg('predictions')}")
        order = np.argsort(-counts, kind="stable")[:errors]
        chosen = [gold.tweets[i] for i in order if counts[i] > 0]
        if not chosen:
            return None, []
    source = Path(predictions).name if predictions is not None else "predictions"
    drawn = [None if by_tweet is None else by_tweet.get(t.index, []) for t in chosen]
    pairs = zip(chosen, drawn, strict=True)
    pictures = [render_tweet(t, d, verdicts, folder, matched, source=source) for t, d in pairs]
    return (pictures[0] if len(pictures) == 1 else contact_sheet(pictures)), [t.id for t in chosen]


def picture_format(output: str | os.PathLike) -> str:
    """The image format a picture's file name asks for (``.png``, ``.jpg``), or a usage error."""
    fmt = FORMATS.get(Path(output).suffix.lower())
    if fmt is None:
        raise UsageError(f"-o {output}: give a .png or .jpg file name")
    return fmt


def picture_bytes(picture: Image.Image, output: str | os.PathLike) -> bytes:
    """The picture encoded in the format its file name says."""
    buffer = io.BytesIO()
    picture.save(buffer, format=picture_format(output))
    return buffer.getvalue()
