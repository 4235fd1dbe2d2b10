"""Reader of the LLM-knowledge releases of PGIM/RiVEG and their alignment to the tweets.

A release is a zip file or a folder holding ``train.txt``, ``valid.txt`` (or ``dev.txt``) and
``test.txt``: CoNLL without IMGID lines where each tweet's ``token<TAB>tag`` lines are followed by a
line ``<EOS><TAB>X`` and the knowledge text, one whitespace token per line tagged ``X``; a blank line
ends a record. Records follow the dataset's order but some tweets are missing, so records are aligned
to tweets by their tokens, never by position.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zipfile
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from smner_bench.benchmark import registry
from smner_bench.benchmark.errors import DataFormatError, MissingDataError

from .quirks import QuirkReport
from .rawfile import (
    MAX_KNOWLEDGE_BYTES,
    MAX_KNOWLEDGE_CHARS,
    MAX_KNOWLEDGE_RECORDS,
    MAX_TWEET_TOKENS,
    MAX_ZIP_DIRECTORY_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_UNPACKED_BYTES,
    check_file,
    present,
    text_lines,
)

# A split's file names are the registry's (a dataset release's); only the preference differs: PGIM's and RiVEG's
# knowledge releases name the validation split valid.txt (all three of theirs), so valid.txt wins over dev.txt
# when a release holds both, and the synthetic sample writes valid.txt.
SPLIT_FILES = {
    split: tuple(sorted(names, key=lambda name: name != "valid.txt")) for split, names in registry.SPLIT_FILES.items()
}
MIN_ALIGNED = 0.5  # below this share of aligned tweets the release belongs to another dataset
END_RECORD_SPAN = 22 + 0xFFFF  # a zip's end record and the longest comment after it


@dataclass
class KnowledgeRecord:
    tokens: list[str]
    tags: list[str]
    knowledge: str
    line: int  # 1-based line of the record's first token


def _directory_bytes(source: Path) -> int | None:
    """The size of the zip's central directory as its end record declares it: :class:`zipfile.ZipFile` reads that
    much when it opens the zip, building one object per entry (a hostile zip of millions of empty entries would cost
    gigabytes), so it is checked first. ``None`` without an end record (``ZipFile`` then names the damage)."""
    with open(source, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - END_RECORD_SPAN))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")  # where ZipFile looks for it: the last one, at most a comment before the end
    if at < 0 or at + 22 > len(tail):
        return None
    return struct.unpack_from("<I", tail, at + 12)[0]  # (0xFFFFFFFF, a zip64 directory, is refused as too large)


def _zip_member(zf: zipfile.ZipFile, source: Path, split: str) -> zipfile.ZipInfo | None:
    """The member holding ``split``: the first of the split's names that a member has as its base name (in any
    folder); two members with that base name are an error naming both (which one would be the split?)."""
    if len(zf.infolist()) > MAX_ZIP_MEMBERS:
        raise DataFormatError(
            f"holds {len(zf.infolist())} members, more than the limit of {MAX_ZIP_MEMBERS}", file=source
        )
    infos = [i for i in zf.infolist() if not i.is_dir()]
    unpacked = sum(i.file_size for i in infos)
    if unpacked > MAX_ZIP_UNPACKED_BYTES:
        raise DataFormatError(
            f"its members unpack to {unpacked} bytes in all, more than the limit of {MAX_ZIP_UNPACKED_BYTES}",
            file=source,
        )
    for name in SPLIT_FILES[split]:
        found = [i for i in infos if PurePosixPath(i.filename.replace("\\", "/")).name == name]
        if len(found) > 1:
            both = " and ".join(repr(i.filename) for i in found[:2])
            raise DataFormatError(
                f"two members are named {name}: {both}{' (and more)' if len(found) > 2 else ''}; "
                f"which one holds the {split} split is ambiguous: keep one",
                file=source,
            )
        if found:
            return found[0]
    return None


Lines = Iterator[tuple[int, str]]


@contextlib.contextmanager
def _split_lines(source: Path, split: str, report: QuirkReport | None) -> Iterator[tuple[str, Lines]]:
    """(display name, lines) of a split's file inside a zip or a folder, read a line at a time within the limits of
    :mod:`.rawfile`; every failure of the zip while it is read (a bad CRC, damaged data) is a :class:`DataFormatError`
    naming it."""
    names = SPLIT_FILES[split]
    if not present(source):
        raise MissingDataError("knowledge release not found", file=source)

    def on_bom(display: str):
        def add() -> None:
            if report is not None:
                report.add("utf8-bom", display, 1, "UTF-8 byte-order mark at the start (removed)")

        return add

    if os.path.isdir(source):
        path = next((source / name for name in names if present(source / name)), None)
        if path is None:
            raise MissingDataError(f"no {' or '.join(names)} for split {split!r} in the knowledge release", file=source)
        check_file(path, "knowledge file", MAX_KNOWLEDGE_BYTES)
        try:
            f = open(path, "rb")  # noqa: SIM115 (closed below, with the OSError of any read named)
        except OSError as exc:
            raise DataFormatError(f"knowledge file cannot be read ({exc.strerror or exc})", file=path) from None
        try:
            with f:
                yield str(path), text_lines(f, path, MAX_KNOWLEDGE_BYTES, on_bom(str(path)))
        except OSError as exc:
            raise DataFormatError(f"knowledge file cannot be read ({exc.strerror or exc})", file=path) from None
        return
    check_file(source, "knowledge release", MAX_KNOWLEDGE_BYTES)
    if not zipfile.is_zipfile(source):
        raise DataFormatError("a knowledge release must be a zip file or a folder", file=source)
    try:
        directory = _directory_bytes(source)
        if directory is not None and directory > MAX_ZIP_DIRECTORY_BYTES:
            raise DataFormatError(
                f"its directory has {directory} bytes, more than the limit of {MAX_ZIP_DIRECTORY_BYTES} "
                f"(at most {MAX_ZIP_MEMBERS} members)",
                file=source,
            )
        with zipfile.ZipFile(source) as zf:
            info = _zip_member(zf, source, split)
            if info is None:
                raise MissingDataError(
                    f"no {' or '.join(names)} for split {split!r} in the knowledge release", file=source
                )
            display = f"{source}!{info.filename}"
            if info.file_size > MAX_KNOWLEDGE_BYTES:
                raise DataFormatError(
                    f"unpacks to {info.file_size} bytes, more than the limit of {MAX_KNOWLEDGE_BYTES}", file=display
                )
            with zf.open(info) as f:  # the header may lie: text_lines counts what is unpacked
                yield display, text_lines(f, display, MAX_KNOWLEDGE_BYTES, on_bom(display), what="unpacks to")
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        raise DataFormatError(f"damaged zip file ({type(exc).__name__}: {str(exc)[:100]})", file=source) from None


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
    to ``report`` as ``utf8-bom``. The file is read a line at a time within the knowledge limits of :mod:`.rawfile`
    (a zip's members and directory, the file's bytes whatever a zip header says, records, tokens, knowledge).
    """
    with _split_lines(Path(source), split, report) as (name, lines):
        return name, _records(lines, name)


def _records(lines: Iterable[tuple[int, str]], name: str) -> list[KnowledgeRecord]:
    """The records of a split file's lines, within the limits of :mod:`.rawfile` (records, tokens and knowledge
    per record): a line at a time, so memory follows the records kept."""
    records: list[KnowledgeRecord] = []
    tokens: list[str] = []
    tags: list[str] = []
    words: list[str] = []
    chars = 0  # of the record's knowledge text, spaces included
    in_knowledge = False
    start = 0
    lineno = 0

    def close(line: int) -> None:
        if not in_knowledge:
            raise DataFormatError("record without an <EOS> line", file=name, line=line)
        if len(records) == MAX_KNOWLEDGE_RECORDS:
            raise DataFormatError(f"more than {MAX_KNOWLEDGE_RECORDS} records", file=name, line=start)
        records.append(KnowledgeRecord(tokens, tags, " ".join(words), start))

    for lineno, raw in lines:
        if not raw.strip():
            if tokens or words:
                close(lineno - 1)
            if tokens or words or in_knowledge:  # (not on every blank line: millions of them cost no lists)
                tokens, tags, words, chars, in_knowledge = [], [], [], 0, False
            continue
        line = raw.rstrip("\r")
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataFormatError(f"expected 'token<TAB>tag', got {line[:60]!r}", file=name, line=lineno)
        if not tokens and not in_knowledge:
            start = lineno
        if in_knowledge:
            chars += len(parts[0]) + 1
            if chars > MAX_KNOWLEDGE_CHARS + 1:
                raise DataFormatError(
                    f"the record's knowledge is longer than {MAX_KNOWLEDGE_CHARS} characters", file=name, line=lineno
                )
            words.append(parts[0])
        elif parts[0] == "<EOS>":
            in_knowledge = True
        elif len(tokens) == MAX_TWEET_TOKENS:
            raise DataFormatError(
                f"the record has more than {MAX_TWEET_TOKENS} tokens before its <EOS> line", file=name, line=lineno
            )
        else:
            tokens.append(parts[0])
            tags.append(parts[1].strip())
    if tokens or words:
        close(start)
    if not records:
        raise DataFormatError("no knowledge record in this file", file=name)
    return records


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
