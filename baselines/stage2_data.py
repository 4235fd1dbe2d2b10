"""The training data of stage 2: the VE pairs and VG images of a dataset's train and dev splits, as
``baseline ve-train`` / ``vg-train`` (:func:`~.ve.train`, :func:`~.vg.train`, and anything else that trains VE or
VG) assemble them."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import partial

from smner_bench.benchmark.errors import MissingDataError
from smner_bench.loaders.captions import read_captions

from .ve import VeConfig, VEItem, read_expression_sets, ve_items
from .vg import VgConfig, VGImage, vg_images

ExpressionSets = Sequence[tuple[dict | None, Mapping | None]]


def training_sets(
    stage: str,
    ds: Mapping,
    images: str | os.PathLike,
    expression_sets: ExpressionSets = ((None, None),),
    captions: Sequence[str | os.PathLike] | None = None,
    *,
    max_train: int | None = None,
) -> tuple[list[VEItem] | list[VGImage], list[VEItem] | list[VGImage]]:
    """``(train, dev)`` of ``stage`` ("ve" or "vg") from ``ds["train"]`` and ``ds["validation"]``: the tweets whose
    image is in ``images``. Training holds every expression set (one per file and LLM, from
    ``read_expression_sets``; ``(None, None)``: "Entity (TYPE)"), each a separate example, cut to ``max_train``;
    dev uses the first. VE with ``captions`` (caption files or folders): the text is "caption. expression", the
    short caption where a tweet has both a caption and a description.
    :class:`MissingDataError` naming the folder when a split has no image there."""
    short = None
    if stage == "ve" and captions:
        caps, descriptions = read_captions(captions)
        short = {**descriptions, **caps}  # the short caption where both exist
    items = partial(ve_items, captions=short) if stage == "ve" else vg_images
    train = [x for _, found in expression_sets for x in items(ds["train"], images, found)][: max_train or None]
    dev = items(ds["validation"], images, expression_sets[0][1])
    for split, found in (("train", train), ("validation", dev)):
        if not found:
            example = next(iter(ds[split]), {}).get("image_id", "<image_id>")
            raise MissingDataError(
                f"no image of the {split} split's tweets{' with a box' if stage == 'vg' else ''} is in this "
                f"folder (expected files like {example})",
                file=images,
            )
    return train, dev


def training_data(
    config: VeConfig | VgConfig,
) -> tuple[list[VEItem] | list[VGImage], list[VEItem] | list[VGImage], list[dict]]:
    """``(train, dev, sources)`` of a VE or a VG run, after the checks made before anything
    long: the config's own rules, an output folder that may be written (:func:`check_folder`), the image folder.
    ``sources``: each expression set's ``{"file", "llm"}`` (none for "Entity (TYPE)"), what the metadata
    records. Sets torch's CPU threads (``config.threads``)."""
    import torch

    from smner_bench.benchmark.safe_output import check_folder
    from smner_bench.loaders import load

    config.check()
    check_folder(config.out, "model", inputs=config.inputs())  # refused before the long training
    if config.threads:
        torch.set_num_threads(config.threads)
    if not os.path.isdir(config.images):
        raise MissingDataError("image folder not found", file=config.images)
    ds = load(config.dataset, config.data_dir)
    # one set of expressions per file and LLM (the paper's augmented rows: each a separate example)
    sets = read_expression_sets(config.expressions, every_llm=True) if config.expressions else [(None, None)]
    stage = "ve" if isinstance(config, VeConfig) else "vg"
    captions = config.captions if isinstance(config, VeConfig) and config.caption else None
    train, dev = training_sets(stage, ds, config.images, sets, captions, max_train=config.max_train)
    return train, dev, [source for source, _ in sets if source is not None]
