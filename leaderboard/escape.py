"""Entry text made harmless where it is published: one function per medium, and every page and plot uses them.

Entries are written by submitters (system names, variants, notes, a publication's table and row, a version
string): on a page they must show as the same text and never become markup.

- Markdown (the README board, :func:`markdown_text`): every character that CommonMark or GitHub gives a
  meaning to inside a table cell is backslash-escaped (HTML tags, links, images, emphasis, code, strikethrough,
  math, entities, the cell separator ``|`` and the backslash itself), and a line break becomes a space: no
  name makes a link, raw HTML, a new cell or a new row. :func:`markdown_link` links a web URL only.
- HTML (the site, :func:`html_text`): element text and quoted attribute values, quotes included.
- URLs (:func:`web_url`): http(s) with a host name and the characters of RFC 3986 only (no user name before
  the host, no backslash, quote, bracket or space); the entry model refuses any other URL, and a renderer
  links nothing else (a ``javascript:`` or ``data:`` link is never written).
- Plot labels (matplotlib, :func:`plot_text`): ``$`` escaped, so that a name is never parsed as mathtext
  (``$x^2$`` was drawn as math, and a bad expression stopped the whole site build); plots are drawn with
  :data:`PLOT_RC` (TeX off, whatever the user's matplotlibrc says).
- The terminal (``leaderboard show``, :func:`terminal_text`).

Every medium first shows control characters and invisible format characters (bidi controls, zero-width
spaces, which would reorder or hide text) as their escapes (:func:`visible`): the entry model refuses them
in names, but not in every field that is shown (the smner-bench version of a scored entry).
"""

from __future__ import annotations

import html
import re
import unicodedata

MARKDOWN_SPECIAL = frozenset("\\`*_[]<>|&~$")  # with "[" escaped, "(", ")" and "!" make nothing
WEB_URL = re.compile(
    r"https?://"
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"  # the host name (no user name: "https://arxiv.org@evil.example")
    r"(?::[0-9]{1,5})?"
    r"(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]*)?"  # path, query and fragment: RFC 3986 characters
)
PLOT_RC = {"text.usetex": False, "svg.hashsalt": "smner-bench"}  # no TeX; deterministic ids in the SVG


JOINERS = frozenset("\u200c\u200d")  # zero-width (non-)joiners: parts of some scripts and emoji, kept


def visible(text: str, keep: str = "") -> str:
    r"""``text`` with each control, line or paragraph separator and format character (but the joiners and
    ``keep``) written as its escape.

    >>> print(visible("0.1\x1b[2J\u202eevil\nnext"))
    0.1\x1b[2J\u202eevil\nnext
    """
    return "".join(
        c
        if c in keep or c in JOINERS or unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp")
        else repr(c)[1:-1]
        for c in text
    )


def markdown_text(text: str) -> str:
    r"""``text`` as literal Markdown inline text on one line (a table cell, a heading).

    >>> print(markdown_text("<b>A|B</b> [x](javascript:alert(1)) $x^2$ *a*_b_ a\\"))
    \<b\>A\|B\</b\> \[x\](javascript:alert(1)) \$x^2\$ \*a\*\_b\_ a\\
    """
    one_line = "".join(" " if c in "\n\r\t" else c for c in text)
    return "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in visible(one_line))


def web_url(url: str) -> str | None:
    r"""``url`` when it is a web link to publish (http or https, a host, RFC 3986 characters), else None.

    >>> web_url("https://arxiv.org/abs/2406.07268"), web_url("javascript:alert(1)"), web_url("https://a.b@c.d")
    ('https://arxiv.org/abs/2406.07268', None, None)
    """
    return url if isinstance(url, str) and WEB_URL.fullmatch(url) else None


def markdown_link(text: str, url: str | None) -> str:
    """A Markdown link of literal ``text`` to ``url`` (in angle brackets: its parentheses cannot end it), or
    the text alone when ``url`` is not a web URL."""
    link = web_url(url) if url is not None else None
    return f"[{markdown_text(text)}](<{link}>)" if link else markdown_text(text)


def html_text(text: str) -> str:
    """``text`` for HTML element content or a quoted attribute value (line breaks and tabs kept)."""
    return html.escape(visible(text, keep="\n\t"), quote=True)


def plot_text(text: str) -> str:
    r"""``text`` as a matplotlib label drawn literally: every ``$`` escaped, so no mathtext is parsed.

    >>> print(plot_text("$x^2$ costs $5"))
    \$x^2\$ costs \$5
    """
    return visible(text).replace("$", r"\$")


def terminal_text(text: str) -> str:
    """``text`` for a terminal: no escape sequence or bidi control reaches it."""
    return visible(text)
