"""Reader of the LLM-knowledge releases of PGIM/RiVEG and their alignment to the tweets.

A release is a zip file or a folder holding ``train.txt``, ``valid.txt`` (or ``dev.txt``) and
``test.txt``: CoNLL without IMGID lines where each tweet's ``token<TAB>tag`` lines are followed by a
line ``<EOS><TAB>X`` and the knowledge text, one whitespace token per line tagged ``X``; a blank line
ends a record. Records follow the dataset's order but some tweets are missing, so records are aligned
to tweets by their tokens, never by position.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark import registry
from smner_bench.benchmark.errors import DataFormatError, MissingDataError

from .quirks import QuirkReport
from .rawfile import MAX_TEXT_BYTES, check_file, decode_utf8, present, read_text

# A split's file names are the registry's (a dataset release's); only the preference differs: PGIM's and RiVEG's
# knowledge releases name the validation split valid.txt (all three of theirs), so valid.txt wins over dev.txt
# when a release holds both, and the synthetic sample writes valid.txt.
SPLIT_FILES = {
    split: tuple(sorted(names, key=lambda name: name != "valid.txt")) for split, names in registry.SPLIT_FILES.items()
}
MIN_ALIGNED = 0.5  # below this share of aligned tweets the release belongs to another dataset


@dataclass
class KnowledgeRecord:
    tokens: list[str]
    tags: list[str]
    knowledge: str
    line: int  # 1-based line of the record's first token


def _read_member(zf: zipfile.ZipFile, source: Path, member: str) -> bytes:
    info = zf.getinfo(member)
    name = f"{source}!{member}"
    if info.file_size > MAX_TEXT_BYTES:
        raise DataFormatError(f"unpacks to {info.file_size} bytes, more than the limit of {MAX_TEXT_BYTES}", file=name)
    with zf.open(info) as f:  # the header may lie: read at most one byte more than the limit
        data = f.read(info.file_size + 1)
        if len(data) > info.file_size:
            data += f.read(MAX_TEXT_BYTES + 1 - len(data))
    if len(data) > MAX_TEXT_BYTES:
        raise DataFormatError(f"unpacks to more than {MAX_TEXT_BYTES} bytes", file=name)
    return data


def _read_text(source: Path, split: str, report: QuirkReport | None) -> tuple[str, str]:
    """(display name, text) of a split's file inside a zip or a folder."""
    names = SPLIT_FILES[split]
    if not present(source):
        raise MissingDataError("knowledge release not found", file=source)
    if os.path.isdir(source):
        for name in names:
            if present(source / name):
                return str(source / name), read_text(source / name, "knowledge file", report)
        raise MissingDataError(f"no {' or '.join(names)} for split {split!r} in the knowledge release", file=source)
    check_file(source, "knowledge release", MAX_TEXT_BYTES)
    if not zipfile.is_zipfile(source):
        raise DataFormatError("a knowledge release must be a zip file or a folder", file=source)
    try:
        with zipfile.ZipFile(source) as zf:
            members = {Path(m).name: m for m in zf.namelist() if not m.endswith("/")}
            for name in names:
                if name in members:
                    display = f"{source}!{members[name]}"

                    def on_bom(display=display) -> None:
                        if report is not None:
                            report.add("utf8-bom", display, 1, "UTF-8 byte-order mark at the start (removed)")

                    return display, decode_utf8(_read_member(zf, source, members[name]), display, on_bom)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        raise DataFormatError(f"damaged zip file ({type(exc).__name__}: {str(exc)[:100]})", file=source) from None
    raise MissingDataError(f"no {' or '.join(names)} for split {split!r} in the knowledge release", file=source)


def knowledge_text(records: Iterable[tuple[Sequence[str], Sequence[str], str]]) -> str:
    """The text of one split file of a release from ``(tokens, tags, knowledge)`` records, as
    :func:`read_knowledge` reads it: the tweet's lines, ``<EOS>``, the knowledge one word per line, a blank line."""
    return "".join(
        "".join(f"{tok}\t{tag}\n" for tok, tag in zip(tokens, tags, strict=True))
        + "<EOS>\tX\n"
        + "".join(f"{word}\tX\n" for word in knowledge.split())
        + "\n"
        for tokens, tags, knowledge in records
    )


def read_knowledge(
    source: str | Path, split: str, report: QuirkReport | None = None
) -> tuple[str, list[KnowledgeRecord]]:
    """The records of one split of a knowledge release, and the name of the file they came from.

    Errors name the file (``release.zip!train.txt`` inside a zip) and the line; a byte-order mark goes
    to ``report`` as ``utf8-bom``; zip members are read up to the text-size limit only.
    """
    source = Path(source)
    name, text = _read_text(source, split, report)
    records: list[KnowledgeRecord] = []
    tokens: list[str] = []
    tags: list[str] = []
    words: list[str] = []
    in_knowledge = False
    start = 0
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            if tokens or words:
                if not in_knowledge:
                    raise DataFormatError("record without an <EOS> line", file=name, line=lineno - 1)
                records.append(KnowledgeRecord(tokens, tags, " ".join(words), start))
            tokens, tags, words, in_knowledge = [], [], [], False
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataFormatError(f"expected 'token<TAB>tag', got {line[:60]!r}", file=name, line=lineno)
        if not tokens and not in_knowledge:
            start = lineno
        if in_knowledge:
            words.append(parts[0])
        elif parts[0] == "<EOS>":
            in_knowledge = True
        else:
            tokens.append(parts[0])
            tags.append(parts[1].strip())
    if tokens or words:
        if not in_knowledge:
            raise DataFormatError("record without an <EOS> line", file=name, line=start)
        records.append(KnowledgeRecord(tokens, tags, " ".join(words), start))
    if not records:
        raise DataFormatError("no knowledge record in this file", file=name)
    return name, records


def align_knowledge(
    tweets: Sequence[tuple[str, Sequence[str], Sequence[str]]],
    records: Sequence[KnowledgeRecord],
    *,
    file: str,
    report: QuirkReport,
) -> dict[str, str]:
    """Map tweet id -> knowledge text by token equality, in order.

    ``tweets`` are ``(id, tokens, tags)`` in dataset order. Tweets with equal tokens take the records
    with those tokens in order. Unaligned tweets and records, and aligned records whose tags differ
    (MISC and OTHER count as equal), are reported. Raises :class:`DataFormatError` when fewer than half
    of the tweets align: the release then belongs to another dataset or split.
    """
    by_tokens: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
    for i, rec in enumerate(records):
        by_tokens[tuple(rec.tokens)].append(i)
    used = [False] * len(records)
    aligned: dict[str, str] = {}
    for tweet_id, tokens, tags in tweets:
        queue = by_tokens.get(tuple(tokens))
        if not queue:
            report.add("knowledge-unaligned-tweet", file, None, f"no record with the tokens of tweet {tweet_id}")
            continue
        i = queue.popleft()
        used[i] = True
        aligned[tweet_id] = records[i].knowledge
        if [t.replace("MISC", "OTHER") for t in records[i].tags] != list(tags):
            report.add("knowledge-tags-differ", file, records[i].line, f"tags differ from tweet {tweet_id}")
    for i, rec in enumerate(records):
        if not used[i]:
            report.add("knowledge-unaligned-record", file, rec.line, f"matches no tweet: {' '.join(rec.tokens)[:80]!r}")
    if tweets and len(aligned) < MIN_ALIGNED * len(tweets):
        raise DataFormatError(
            f"only {len(aligned)} of {len(tweets)} tweets align with this knowledge file: "
            "is it the release of another dataset or split?",
            file=file,
        )
    return aligned
