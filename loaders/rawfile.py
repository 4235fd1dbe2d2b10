"""Opening raw release files safely: regular files only, bounded sizes, UTF-8 with file:line errors.

Every reader goes through these helpers, so a hostile or damaged release ends in one
:class:`~smner_bench.benchmark.errors.SmnerError` that names the file (exit 1, or 2 when it is missing),
never in a hang (FIFO), a traceback (symlink loop, folder, permission) or an unbounded allocation.

Limits (one place, documented in docs/loaders.md):

- image sides (VOC ``<size>``, labelme ``imageWidth``/``imageHeight``, image files): at most
  :data:`MAX_SIDE` pixels, and at most :data:`MAX_PIXELS` pixels in all;
- file sizes: :data:`MAX_TEXT_BYTES` for CoNLL and caption files, :data:`MAX_XML_BYTES` for one
  VOC file, :data:`MAX_LABELME_BYTES` for one labelme file, :data:`MAX_IMAGE_BYTES` for one image;
- knowledge releases (read a line at a time, so memory follows the records kept, never the file): a zip of at
  most :data:`MAX_KNOWLEDGE_BYTES` holding at most :data:`MAX_ZIP_MEMBERS` members that unpack to at most
  :data:`MAX_ZIP_UNPACKED_BYTES` in all; one split's file (in a folder, or a member whatever its header says) at
  most :data:`MAX_KNOWLEDGE_BYTES`, lines of at most :data:`MAX_LINE_BYTES`, at most
  :data:`MAX_KNOWLEDGE_RECORDS` records of at most :data:`MAX_TWEET_TOKENS` tokens and
  :data:`MAX_KNOWLEDGE_CHARS` characters of knowledge each.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from smner_bench.benchmark.errors import DataFormatError, MissingDataError

MAX_SIDE = 20_000  # pixels, one side of an image or of a declared size
MAX_PIXELS = 64_000_000  # pixels in all (8000 x 8000); PIL's own bomb warning starts at 89.5 million
MAX_TEXT_BYTES = 256 << 20
MAX_XML_BYTES = 4 << 20
MAX_LABELME_BYTES = 64 << 20
MAX_IMAGE_BYTES = 64 << 20
MAX_TOKEN_CHARS = 500  # a tweet has at most 280 characters; longer "tokens" are damage
MAX_ID_CHARS = 100
# Knowledge releases; the released ones (PGIM's, RiVEG's gpt-3.5-turbo) have at most 7 MB a split, 7000 records,
# 50 tokens and 1300 characters of knowledge a record, 4 members and 10 MB unpacked a zip.
MAX_KNOWLEDGE_BYTES = 64 << 20  # a release's zip file; one split's file in a folder or unpacked from the zip
MAX_ZIP_MEMBERS = 1_000
MAX_ZIP_DIRECTORY_BYTES = MAX_ZIP_MEMBERS * (46 + 1024)  # an entry: its fixed part, a generous name, extra, comment
MAX_ZIP_UNPACKED_BYTES = 256 << 20  # every member of the zip, as their headers declare
MAX_LINE_BYTES = 1 << 20
MAX_KNOWLEDGE_RECORDS = 200_000
MAX_TWEET_TOKENS = 1_000
MAX_KNOWLEDGE_CHARS = 100_000  # one record's knowledge text

BOM = b"\xef\xbb\xbf"
READ_BLOCK = 1 << 16  # what text_lines reads at once (not a limit)


def present(path: Path) -> bool:
    """Whether anything (file, folder, link, even a broken or looping one) is at ``path``.

    Per-tweet files (``xml/<id>.xml``, ``masks/<id>.json``, ``images/<id>.jpg``) are optional; when
    something is there it must be readable, so callers use this and then :func:`read_bytes`, instead of
    ``is_file()`` which silently skips folders, FIFOs and symlink loops.
    """
    return os.path.lexists(path)


def check_file(path: Path, what: str, limit: int) -> int:
    """The size of the regular file at ``path``; an error naming it otherwise."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise DataFormatError(f"{what} is a broken symbolic link", file=path) from None
        raise MissingDataError(f"{what} not found", file=path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataFormatError(f"{what} is a symbolic link loop", file=path) from None
        raise DataFormatError(f"{what} cannot be read ({exc.strerror})", file=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise DataFormatError(f"{what} is a folder, not a file", file=path)
    if not stat.S_ISREG(st.st_mode):
        raise DataFormatError(f"{what} is not a regular file (a device, FIFO or socket)", file=path)
    if st.st_size > limit:
        raise DataFormatError(f"{what} has {st.st_size} bytes, more than the limit of {limit}", file=path)
    return st.st_size


def read_bytes(path: str | os.PathLike, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked before and while reading)."""
    path = Path(path)
    size = check_file(path, what, limit)
    try:
        with open(path, "rb") as f:
            data = f.read(size + 1)  # (not limit + 1: read() allocates what it is asked for)
            if len(data) > size:  # the file grew since stat(): read on, up to the limit
                data += f.read(limit + 1 - len(data))
    except OSError as exc:
        raise DataFormatError(f"{what} cannot be read ({exc.strerror or exc})", file=path) from None
    if len(data) > limit:
        raise DataFormatError(f"{what} has more than {limit} bytes", file=path)
    return data


def decode_utf8(data: bytes, file: str | os.PathLike, on_bom=None) -> str:
    """UTF-8 text of ``data``; a leading byte-order mark is removed and ``on_bom()`` called (the reader
    reports it as a quirk). Invalid UTF-8 is a :class:`DataFormatError` with the line and byte offset."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
        if on_bom is not None:
            on_bom()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataFormatError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}, column {column})", file=file, line=line
        ) from None


def text_lines(
    stream: BinaryIO, file: str | os.PathLike, limit: int, on_bom=None, *, what: str = "has"
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of a binary stream of UTF-8 text, without its ``\\n`` (a ``\\r`` is
    the caller's), read a block at a time: memory is a block (:data:`READ_BLOCK`) and a line of at most
    :data:`MAX_LINE_BYTES` (newline included), whatever the stream's length. A leading BOM is removed and
    ``on_bom()`` called; invalid UTF-8 is an error with the line, byte and column (as :func:`decode_utf8`); more
    than ``limit`` bytes in all is an error ("``file`` ``what`` more than ``limit`` bytes": "unpacks to" for a zip
    member, whose header may lie)."""
    return enumerate(itertools.chain.from_iterable(_line_blocks(stream, file, limit, on_bom, what)), start=1)


def _line_blocks(stream: BinaryIO, file: str | os.PathLike, limit: int, on_bom, what: str) -> Iterator[list[str]]:
    """The lines of :func:`text_lines`, a block's at a time (no Python frame per line: millions of short lines are
    read at the speed of ``str.split``)."""
    total = offset = lineno = 0  # bytes read; bytes before `rest` (after a BOM); lines yielded
    rest = b""  # the start of a line that goes on in the next block
    while True:
        block = stream.read(READ_BLOCK)
        total += len(block)
        if total > limit:
            raise DataFormatError(f"{what} more than {limit} bytes", file=file)
        if total == len(block) and block.startswith(BOM):
            block = block[len(BOM) :]
            if on_bom is not None:
                on_bom()
        end = block.rfind(b"\n") + 1  # 0: no newline in the block (or the stream has ended)
        if block and not end:  # still inside one line
            if len(rest) + len(block) > MAX_LINE_BYTES:
                raise DataFormatError(f"line longer than {MAX_LINE_BYTES} bytes", file=file, line=lineno + 1)
            rest += block
            continue
        if block and len(rest) + block.find(b"\n") + 1 > MAX_LINE_BYTES:
            raise DataFormatError(f"line longer than {MAX_LINE_BYTES} bytes", file=file, line=lineno + 1)
        chunk, rest = rest + block[:end], block[end:]  # whole lines (the last one unended at the end of the stream)
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = lineno + chunk.count(b"\n", 0, exc.start) + 1
            column = exc.start - (chunk.rfind(b"\n", 0, exc.start) + 1) + 1
            where = f"byte {offset + exc.start}, column {column}"
            raise DataFormatError(f"not UTF-8 text ({exc.reason} at {where})", file=file, line=line) from None
        offset += len(chunk)
        lines = text.split("\n")
        if text.endswith("\n") or not text:
            lines.pop()  # the empty piece after the last newline (an unended last line is kept)
        lineno += len(lines)
        yield lines
        if not block:
            return


def read_text(path: str | os.PathLike, what: str, report=None, limit: int = MAX_TEXT_BYTES) -> str:
    """:func:`read_bytes` + :func:`decode_utf8`; a BOM becomes a ``utf8-bom`` quirk in ``report``."""

    def on_bom() -> None:
        if report is not None:
            report.add("utf8-bom", path, 1, "UTF-8 byte-order mark at the start of the file (removed)")

    return decode_utf8(read_bytes(path, what, limit), path, on_bom)


def check_size(width: float, height: float, *, file, field: str, what: str, line: int | None = None) -> None:
    """Refuse a declared image size beyond :data:`MAX_SIDE` / :data:`MAX_PIXELS` (before any allocation)."""
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise DataFormatError(
            f"{what} {width:g}x{height:g} exceeds the limits ({MAX_SIDE} pixels a side, {MAX_PIXELS} pixels in all)",
            file=file,
            line=line,
            field=field,
        )


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image file, after decoding it fully (a truncated or corrupt file is an
    error naming it). The size is checked against the limits before the pixels are decoded, and PIL's
    decompression-bomb warning counts as an error."""
    check_file(path, "image", MAX_IMAGE_BYTES)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                size = im.size
                check_size(size[0], size[1], file=path, field="image", what="image size")
                if im.format == "JPEG":
                    im.draft(im.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))  # all data, 1/64 pixels
                im.load()
    except DataFormatError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataFormatError(f"image refused as a decompression bomb ({exc})"[:300], file=path) from None
    except Exception as exc:  # any decoder failure of a damaged file (OSError, SyntaxError, ValueError...)
        raise DataFormatError(f"unreadable image ({type(exc).__name__}: {exc})"[:300], file=path) from None
    return size
