"""Reader of the CoNLL files with ``IMGID:`` lines (Twitter-2015/2017, Twitter-GMNER, Twitter-SMNER).

Format: for each tweet a line ``IMGID:<id>``, then one ``token<TAB>tag`` line per token, then a blank
line. Tags are BIO over PER/LOC/ORG/OTHER (``MISC`` is read as ``OTHER`` and reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, MissingDataError
from smner_bench.benchmark.tags import TYPE_ALIASES, TYPES, tags_to_spans

from .report import Report

_PREFIX = "IMGID:"
_VALID_TAGS = {"O"} | {f"{p}-{t}" for p in "BI" for t in (*TYPES, *TYPE_ALIASES)}


@dataclass
class ConllTweet:
    id: str
    tokens: list[str]
    tags: list[str]  # canonical names (MISC already renamed to OTHER)
    line: int  # 1-based line of the IMGID line
    spans: list[tuple[int, int, str]]  # entities by conlleval's rules, end exclusive


def read_conll(path: str | Path, report: Report | None = None) -> list[ConllTweet]:
    """Read one split file. Quirks (repaired BIO tags, renamed types, duplicate ids) go to ``report``.

    Raises :class:`DataFormatError` (file and line) on a token line without a tab, an unknown tag, a
    token before the first ``IMGID`` line, a tweet without tokens or a file without any tweet.
    """
    path = Path(path)
    report = report if report is not None else Report()
    if not path.is_file():
        raise MissingDataError("split file not found", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None

    tweets: list[ConllTweet] = []
    seen: dict[str, int] = {}
    current: ConllTweet | None = None
    renamed = 0

    def close(tweet: ConllTweet | None) -> None:
        if tweet is None:
            return
        if not tweet.tokens:
            raise DataFormatError(f"tweet {tweet.id!r} has no tokens", file=path, line=tweet.line)
        tweet.spans, repairs = tags_to_spans(tweet.tags)
        for i in repairs:
            report.add(
                "bio-repair",
                path,
                tweet.line + 1 + i,
                f"tweet {tweet.id}: {tweet.tags[i]} on {tweet.tokens[i]!r} after "
                f"{tweet.tags[i - 1] if i else 'the start'} starts a new entity",
            )
        tweets.append(tweet)

    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.startswith(_PREFIX):
            close(current)
            tweet_id = line[len(_PREFIX) :].strip()
            if not tweet_id:
                raise DataFormatError("empty IMGID", file=path, line=lineno)
            if tweet_id in seen:
                report.add("duplicate-id", path, lineno, f"IMGID {tweet_id} already at line {seen[tweet_id]}")
            else:
                seen[tweet_id] = lineno
            current = ConllTweet(tweet_id, [], [], lineno, [])
            continue
        if not line.strip():
            continue
        if current is None:
            raise DataFormatError("token line before the first IMGID: line", file=path, line=lineno)
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataFormatError(
                f"expected 'token<TAB>tag', got {len(parts) - 1} tabs in {line[:60]!r}", file=path, line=lineno
            )
        token, tag = parts
        tag = tag.strip()
        if tag not in _VALID_TAGS:
            raise DataFormatError(
                f"unknown tag {tag!r} (expected O or B-/I- with {', '.join(TYPES)} or MISC)",
                file=path,
                line=lineno,
            )
        if tag != "O" and tag[2:] in TYPE_ALIASES:
            tag = f"{tag[:2]}{TYPE_ALIASES[tag[2:]]}"
            renamed += 1
        current.tokens.append(token)
        current.tags.append(tag)
    close(current)
    if not tweets:
        raise DataFormatError("no tweet in this split file (expected IMGID: lines)", file=path)
    if renamed:
        report.add("type-alias", path, None, f"{renamed} tags with type MISC read as OTHER")
    return tweets
