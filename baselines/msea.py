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

The example pool (:func:`smner_bench.baselines.knowledge.example_pool`) holds the manual annotations minus every
tweet of the evaluated dataset's dev and test splits; a tweet never retrieves itself (same id or same
:func:`normalized_text`). Tweets are encoded in batches of one fixed shape per length bucket
(``knowledge.tweet_features``): a tweet's features depend on its text alone, bit for bit, so a prompt does not
depend on which other tweets share its batch or its shard.
"""

from __future__ import annotations

import re
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
    id: str = ""  # the annotated tweet's id


_URL = re.compile(r"https?:\S*(?:\s+co/\S+)?")  # Twitter-GMNER splits some links: "http://t. co/cB5PlzTLFG"
_NOT_WORD = re.compile(r"[\W_]+")


def normalized_text(text: str) -> str:
    """What makes two tweets the same tweet across datasets: lower case, links dropped, only letters and digits
    (Twitter-GMNER writes Twitter-2015's ``@redbullESPORTS`` as ``@ redbullESPORTS`` and drops the links).

    >>> normalized_text("RT @cnni : Pope Francis http://t. co/cB5PlzTLFG @Pontifex")
    'rtcnnipopefrancispontifex'
    """
    return _NOT_WORD.sub("", _URL.sub(" ", text.lower()))


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


def rank(features: np.ndarray, annotated: np.ndarray, n: int, excluded: np.ndarray | None = None) -> list[list[int]]:
    """:func:`top_n` where ``excluded[i, j]`` (a boolean matrix) keeps example ``j`` out of row ``i``'s choice:
    each row gets its ``n`` best allowed examples (fewer when fewer are allowed).

    >>> rank(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [2.0, 0.1], [1.0, 1.0]]), 2, np.array([[0, 1, 0]], bool))
    [[2, 0]]
    """
    if annotated.shape[0] == 0 or n == 0:
        return [[] for _ in range(features.shape[0])]
    order = top_n(features, annotated, annotated.shape[0])
    if excluded is None:
        return [row[:n].tolist() for row in order]
    return [[int(j) for j in row if not excluded[i, j]][:n] for i, row in enumerate(order)]


def feature_text(text: str, image: str | None) -> str:
    """What the default feature encodes: the tweet's text, then its image caption."""
    return f"{text} {image}" if image else text
