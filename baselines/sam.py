"""The SAM box-to-mask adapter: turns any GMNER submission into an SMNER submission (paper section IV-C).

Shaped like segment-anything's ``SamPredictor``: one ``set_image`` per image (the expensive embedding), then all
the boxes of that image decoded in one ``predict_torch`` call. ``multimask_output`` is off by default; on, the
mask with the highest predicted IoU is kept. Masks are COCO RLE of the image's size; an entity whose box is
``null`` ("not in the image") gets ``mask: null``.

``dtype`` (fp32, bf16, fp16): SAM's weights stay float32 (its prompt encoder casts box coordinates to float32
and multiplies them with its own weights, so bf16 weights would fail); bf16/fp16 run the image encoder and the
mask decoder under ``torch.autocast``, which is where the time goes.

Command: ``smner-bench masks --predictions gmner.jsonl --images DIR --sam-checkpoint P --model-type vit_h
-o smner.jsonl``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError, first_problem
from smner_bench.benchmark.io import json_lines
from smner_bench.benchmark.regions import encode_rle
from smner_bench.benchmark.submission import LineIn

from .choices import SAM_MODEL_TYPES
from .dtype import inference_autocast, resolve_dtype, to_numpy
from .loading import read_text_file

MODEL_TYPES = SAM_MODEL_TYPES


def load_predictor(checkpoint: str | os.PathLike, model_type: str = "vit_h", device: str = "cpu"):
    """A ``SamPredictor`` over a local checkpoint (segment-anything's ``sam_model_registry``; ``tiny`` is the
    smoke-test architecture of :func:`smner_bench.baselines.tiny.tiny_sam`)."""
    from segment_anything import SamPredictor, sam_model_registry

    from .loading import load_state, load_torch_weights

    if model_type not in MODEL_TYPES:
        raise UsageError(f"unknown SAM model type {model_type!r} (expected {', '.join(MODEL_TYPES)})")
    if not Path(checkpoint).is_file():
        raise MissingDataError("SAM checkpoint not found", file=checkpoint)
    what = f"a SAM {model_type} checkpoint"
    state = load_torch_weights(checkpoint, what)  # read before the (large) model is built
    if model_type == "tiny":
        from .tiny import tiny_sam

        sam = tiny_sam()
    else:
        sam = sam_model_registry[model_type](checkpoint=None)
    load_state(sam, state, checkpoint, what)
    return SamPredictor(sam.to(device).eval())


class BoxToMask:
    """Masks for the boxes of one image at a time, reusing the image embedding for all its boxes."""

    def __init__(self, predictor, *, multimask: bool = False, dtype: str | None = "fp32") -> None:
        resolve_dtype(dtype, str(predictor.device))  # refused before any image is read
        self.predictor, self.multimask, self.dtype = predictor, multimask, dtype

    def masks(self, image: np.ndarray, boxes: Sequence[Sequence[float]]) -> list[dict]:
        """COCO RLE masks (image size) for ``boxes`` ([x1, y1, x2, y2] in pixels) on an RGB ``(h, w, 3)`` array."""
        import torch

        if not len(boxes):
            return []
        with torch.no_grad(), inference_autocast(self.dtype, str(self.predictor.device)):
            self.predictor.set_image(image)
            tensor = torch.as_tensor(np.asarray(boxes, dtype=np.float32), device=self.predictor.device)
            transformed = self.predictor.transform.apply_boxes_torch(tensor, image.shape[:2])
            masks, scores, _ = self.predictor.predict_torch(
                point_coords=None, point_labels=None, boxes=transformed, multimask_output=self.multimask
            )
        best = scores.float().argmax(dim=1).cpu() if self.multimask else torch.zeros(len(boxes), dtype=torch.long)
        chosen = to_numpy(masks.cpu()[torch.arange(len(boxes)), best])
        return [encode_rle(m) for m in chosen]


def read_gmner_lines(path: str | os.PathLike) -> list[dict]:
    """The lines of a GMNER submission, checked against the submission models (every entity needs ``box``)."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("prediction file not found", file=path)
    lines = []
    for lineno, obj in json_lines(read_text_file(path, "prediction file"), file=path):
        try:
            parsed = LineIn.model_validate(obj)
        except ValidationError as exc:
            field, message = first_problem(exc)
            raise DataFormatError(message, file=path, line=lineno, field=field) from None
        for k, e in enumerate(parsed.entities):
            if "box" not in e.model_fields_set:
                raise DataFormatError(
                    "a GMNER submission gives 'box' (or null) on every entity",
                    file=path,
                    line=lineno,
                    field=f"entities[{k}].box",
                )
        lines.append({"id": parsed.id, "line": lineno, "entities": obj["entities"]})
    if not lines:
        raise DataFormatError("empty file: expected one JSON object per tweet", file=path)
    return lines


def add_masks(
    lines: list[dict],
    images: str | os.PathLike,
    adapter: BoxToMask,
    *,
    image_ids: Mapping[str, str] | None = None,
    progress: bool = False,
    workers: int = 0,
) -> list[dict]:
    """Each entity gets ``mask``: SAM's mask for its box, or null when its box is null. The image of a tweet is
    ``<images>/<image_ids[id]>`` (default ``<id>.jpg``), decoded ahead by ``workers`` DataLoader processes."""
    from .images import image_file, per_image

    def image_of(line: dict) -> str:
        return (image_ids or {}).get(line["id"], line["id"])

    def boxed(line: dict) -> list[int]:
        return [i for i, e in enumerate(line["entities"]) if e.get("box") is not None]

    def masked(image, line: dict) -> dict:
        entities = [dict(e, mask=None) for e in line["entities"]]
        chosen = boxed(line)
        if chosen:
            path = image_file(images, image_of(line))
            if image is None:
                where = f" (line {line['line']})" if "line" in line else ""
                raise MissingDataError(f"no image for tweet {line['id']}{where}, which has boxes", file=path)
            pixels = np.asarray(image)
            h, w = pixels.shape[:2]
            for i in chosen:
                x1, y1, x2, y2 = entities[i]["box"]
                if not (0 <= x1 < x2 <= w + 1 and 0 <= y1 < y2 <= h + 1):
                    raise DataFormatError(
                        f"box {entities[i]['box']} does not fit the {w}x{h} image",
                        line=line.get("line"),
                        field=f"entities[{i}].box",
                        file=path,
                    )
            for i, rle in zip(chosen, adapter.masks(pixels, [entities[i]["box"] for i in chosen]), strict=True):
                entities[i]["mask"] = rle
        return {"id": line["id"], "entities": entities}

    return per_image(
        lines,
        image_of,
        images,
        masked,
        needs=lambda line: bool(boxed(line)),
        workers=workers,
        desc="SAM" if progress else None,
    )
