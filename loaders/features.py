"""The ``datasets`` features of the data model (docs/design.md, "Data model"), declared once."""

from __future__ import annotations

from datasets import ClassLabel, Features, Image, List, Value

from smner_bench.benchmark.tags import TAG_NAMES

OPTIONAL_TEXT_FIELDS = ("knowledge", "caption", "description")

ENTITY = {
    "start": Value("int32"),
    "end": Value("int32"),
    "text": Value("string"),
    "type": Value("string"),
    "groundable": Value("bool"),
    "boxes": List(List(Value("float32"), length=4)),
    "masks": List({"size": List(Value("int32"), length=2), "counts": Value("string")}),
}


def build_features(optional: tuple[str, ...] = ()) -> Features:
    """Features of every config; ``optional`` adds string columns among :data:`OPTIONAL_TEXT_FIELDS`."""
    unknown = set(optional) - set(OPTIONAL_TEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown optional fields {sorted(unknown)}")
    fields = {
        "id": Value("string"),
        "tokens": List(Value("string")),
        "ner_tags": List(ClassLabel(names=list(TAG_NAMES))),
        "image": Image(),
        "image_id": Value("string"),
        "width": Value("int32"),
        "height": Value("int32"),
        "entities": List(ENTITY),
    }
    fields.update({name: Value("string") for name in OPTIONAL_TEXT_FIELDS if name in optional})
    return Features(fields)
