"""Reader of the CoNLL files with ``IMGID:`` lines (Twitter-2015/2017, Twitter-GMNER, Twitter-SMNER).

Format: for each tweet a line ``IMGID:<id>``, then one ``token<TAB>tag`` line per token, then a blank
line. Tags are BIO over PER/LOC/ORG/OTHER (``MISC`` is read as ``OTHER`` and reported).

Rules for odd bytes (real releases included): a UTF-8 byte-order mark at the start is removed and reported
(``utf8-bom``); invalid UTF-8 is an error with its line. An IMGID names files (``xml/<id>.xml``...), so it
must be a plain name: no whitespace, control character, ``/`` or ``\\``, not starting with ``.``, at most
:data:`~.rawfile.MAX_ID_CHARS` characters. A token is a whitespace-split word: an empty token, or one with an
ASCII space or control character, or longer than :data:`~.rawfile.MAX_TOKEN_CHARS`, is an error; a token
with non-ASCII whitespace (``\\xa0``) or a C1 control character (``\\x92``, a cp1252 quote decoded as
Latin-1) is kept as released and reported (``odd-token``): Twitter-2015 valid has one, Twitter-2017 train
and Twitter-GMNER train two each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark.errors import DataFormatError, shown
from smner_bench.benchmark.tags import TYPE_ALIASES, TYPES, tags_to_spans

from .quirks import QuirkReport
from .rawfile import MAX_ID_CHARS, MAX_TOKEN_CHARS, read_text

_PREFIX = "IMGID:"
_BAD_TOKEN = re.compile(r"[\x00-\x20\x7f]")  # ASCII controls and the space
_ODD_TOKEN = re.compile(r"[\x80-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_BAD_ID = re.compile(r"[\x00-\x20\x7f-\x9f/\\]|^\.|\s")


_VALID_TAGS = {"O"} | {f"{p}-{t}" for p in "BI" for t in (*TYPES, *TYPE_ALIASES)}


@dataclass
class ConllTweet:
    id: str
    tokens: list[str]
    tags: list[str]  # canonical names (MISC already renamed to OTHER)
    line: int  # 1-based line of the IMGID line
    spans: list[tuple[int, int, str]]  # entities by conlleval's rules, end exclusive


def read_conll(path: str | Path, report: QuirkReport | None = None) -> list[ConllTweet]:
    """Read one split file. Quirks (repaired BIO tags, renamed types, duplicate ids) go to ``report``.

    Raises :class:`DataFormatError` (file and line) on a token line without a tab, an unknown tag, a
    token before the first ``IMGID`` line, a tweet without tokens, a file without any tweet, invalid
    UTF-8, an IMGID that is not a plain name, or a token that is not a word (see the module docstring).
    """
    path = Path(path)
    report = report if report is not None else QuirkReport()
    text = read_text(path, "split file", report)

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
            if len(tweet_id) > MAX_ID_CHARS or _BAD_ID.search(tweet_id):
                raise DataFormatError(
                    f"IMGID {shown(tweet_id)} is not a plain file name (no whitespace, control character, "
                    f"'/' or '\\', no leading '.', at most {MAX_ID_CHARS} characters)",
                    file=path,
                    line=lineno,
                )
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
        if not token or len(token) > MAX_TOKEN_CHARS or _BAD_TOKEN.search(token):
            problem = "is empty" if not token else f"is longer than {MAX_TOKEN_CHARS} characters"
            if token and len(token) <= MAX_TOKEN_CHARS:
                problem = "contains a space or an ASCII control character"
            raise DataFormatError(
                f"token {shown(token)} {problem} (tokens are whitespace-split words)", file=path, line=lineno
            )
        if _ODD_TOKEN.search(token):
            report.add("odd-token", path, lineno, f"token {shown(token)} of tweet {current.id} kept as released")
        if tag not in _VALID_TAGS:
            raise DataFormatError(
                f"unknown tag {shown(tag)} (expected O or B-/I- with {', '.join(TYPES)} or MISC)",
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


def conll_text(tweets: Iterable[tuple[str, Sequence[str], Sequence[str]]]) -> str:
    """The CoNLL + IMGID text of ``(id, tokens, tags)`` tweets, as :func:`read_conll` reads it."""
    return "".join(
        f"{_PREFIX}{tid}\n" + "".join(f"{tok}\t{tag}\n" for tok, tag in zip(tokens, tags, strict=True)) + "\n"
        for tid, tokens, tags in tweets
    )
