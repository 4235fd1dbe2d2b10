"""MSEA (Multimodal Similar Example Awareness) and the heuristic prompt of PLIM (paper section IV-B).

Each tweet and each manual annotation gets a feature (default: the mean-pooled encoder states of the tweet's
text plus its image caption); each tweet's N most similar annotations by cosine (N = 5) are its in-context
examples; the prompt is the prompt head, then for each example and for the tweet a block

    Text: {Sentence}
    Image: {Image Description}
    Question: Comprehensively analyze the Text and the Image, which named entities and their corresponding
    types are included in the Text? Explain the reason for your judgment.
    Answer: {External Annotation}

with an empty answer for the tweet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PROMPT_HEAD = (
    "You are an expert in named entity recognition on social media. Given a tweet and a description of its image, "
    "find the named entities of the tweet and their types: person (PER), location (LOC), organization (ORG) or "
    "other (OTHER, e.g. events, products, works). Use the image only where it helps. Here are some examples."
)
QUESTION = (
    "Comprehensively analyze the Text and the Image, which named entities and their corresponding types are "
    "included in the Text? Explain the reason for your judgment."
)


@dataclass(frozen=True)
class Example:
    text: str
    image: str
    answer: str


def block(text: str, image: str, answer: str = "") -> str:
    return f"Text: {text}\nImage: {image}\nQuestion: {QUESTION}\nAnswer: {answer}".rstrip(" ")


def heuristic_prompt(examples: Sequence[Example], text: str, image: str) -> str:
    """The complete PLIM prompt: head, in-context examples, then the tweet with an empty answer."""
    parts = [PROMPT_HEAD, *(block(e.text, e.image, e.answer) for e in examples), block(text, image)]
    return "\n\n".join(parts)


def top_n(features: np.ndarray, annotated: np.ndarray, n: int = 5) -> np.ndarray:
    """For each row of ``features``, the indices of the ``n`` rows of ``annotated`` with the highest cosine
    similarity, best first (ties: the lower index first).

    >>> top_n(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [2.0, 0.1], [1.0, 1.0]]), n=2).tolist()
    [[1, 2]]
    """
    a = features / np.clip(np.linalg.norm(features, axis=1, keepdims=True), 1e-12, None)
    b = annotated / np.clip(np.linalg.norm(annotated, axis=1, keepdims=True), 1e-12, None)
    similarity = a @ b.T
    n = min(n, annotated.shape[0])
    return np.argsort(-similarity, axis=1, kind="stable")[:, :n]


def feature_text(text: str, image: str | None) -> str:
    """What the default feature encodes: the tweet's text, then its image caption."""
    return f"{text} {image}" if image else text
