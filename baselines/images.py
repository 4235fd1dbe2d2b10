"""Tweet images on disk: ``<folder>/<image id>`` (the releases' ``71044.jpg``), read as RGB, and the one
per-image loop of the stages that look at them (:func:`per_image`)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from PIL import Image, UnidentifiedImageError

from smner_bench.benchmark.errors import DataFormatError

T = TypeVar("T")
R = TypeVar("R")


def image_file(folder: str | os.PathLike, image_id: str) -> Path:
    """The file of ``image_id`` (``71044.jpg``; a bare id gets ``.jpg``)."""
    return Path(folder) / (image_id if Path(image_id).suffix else f"{image_id}.jpg")


def open_rgb(folder: str | os.PathLike, image_id: str) -> Image.Image | None:
    """The image as RGB, or None when the tweet's image is not in ``folder`` (some release images are lost)."""
    path = image_file(folder, image_id)
    if not path.is_file():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataFormatError(f"image refused as a decompression bomb ({exc})"[:300], file=path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:  # what PIL's decoders raise
        raise DataFormatError(f"not a readable image ({exc})"[:300], file=path) from None


class ImageCache:
    """Decoded images by id, at most ``megabytes`` of pixels (least recently used dropped first): a split's
    images are read again each epoch without all of them being held in memory. Each DataLoader worker has its
    own. ``megabytes=0``: no cache."""

    def __init__(self, folder: str | os.PathLike, megabytes: float = 256) -> None:
        from collections import OrderedDict

        self.folder, self.limit = folder, int(megabytes * 2**20)
        self.images: OrderedDict[str, Image.Image | None] = OrderedDict()
        self.size = 0

    def __call__(self, image_id: str) -> Image.Image | None:
        if image_id in self.images:
            self.images.move_to_end(image_id)
            return self.images[image_id]
        image = open_rgb(self.folder, image_id)
        cost = 3 * image.width * image.height if image is not None else 0
        if cost <= self.limit:
            self.images[image_id] = image
            self.size += cost
            while self.size > self.limit:
                _, old = self.images.popitem(last=False)
                self.size -= 3 * old.width * old.height if old is not None else 0
        return image


class _Images:
    """``(image id, decoded image or None)`` by position: a map-style dataset for ``stream_images``."""

    def __init__(self, folder: str | os.PathLike, image_ids: list[str]) -> None:
        self.folder, self.image_ids = folder, image_ids

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, k: int):
        try:
            return self.image_ids[k], open_rgb(self.folder, self.image_ids[k])
        except DataFormatError as exc:  # raised again by the reader, not wrapped in a worker's traceback
            return self.image_ids[k], exc


def stream_images(folder: str | os.PathLike, image_ids, workers: int = 0):
    """``(image id, image or None)`` of each id in order, decoded ahead by ``workers`` DataLoader processes (0:
    here, one at a time); only a few images are in memory at once."""
    import torch

    ids = list(image_ids)
    if workers <= 0:
        found = (_Images(folder, ids)[k] for k in range(len(ids)))
    else:
        found = torch.utils.data.DataLoader(
            _Images(folder, ids), batch_size=None, shuffle=False, num_workers=workers, prefetch_factor=2
        )
    for image_id, image in found:
        if isinstance(image, DataFormatError):
            raise image
        yield image_id, image


def per_image(
    lines: Iterable[T],
    image_of: Callable[[T], str],
    folder: str | os.PathLike,
    answer: Callable[[Image.Image | None, T], R],
    *,
    needs: Callable[[T], bool] | None = None,
    workers: int = 0,
    desc: str | None = None,
) -> list[R]:
    """``answer(image, line)`` of each line, in order: the one per-image loop of VE, VG and SAM (image in,
    answers out). Only the lines that ``needs`` (default: all) have their image ``image_of(line)`` decoded,
    streamed ahead by ``workers`` processes (:func:`stream_images`); the others get ``None``, as does a line
    whose image is not in ``folder``. ``desc``: a progress bar with that name."""
    from tqdm import tqdm

    lines = list(lines)
    wanted = [needs is None or needs(line) for line in lines]
    streamed = stream_images(folder, [image_of(line) for line, w in zip(lines, wanted, strict=True) if w], workers)
    out = []
    for line, w in tqdm(
        zip(lines, wanted, strict=True),
        total=len(lines),
        desc=desc,
        disable=True if desc is None else None,  # None: not on a non-terminal (a log file)
        leave=False,
    ):
        out.append(answer(next(streamed)[1] if w else None, line))
    return out
