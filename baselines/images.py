"""Tweet images on disk: ``<folder>/<image id>`` (the releases' ``71044.jpg``), read as RGB."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from smner_bench.benchmark.errors import DataFormatError


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
