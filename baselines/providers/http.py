"""One bounded HTTP exchange for the LLM clients: ``POST`` a JSON body, read the reply, within stated limits.

Why not ``urllib.request.urlopen``: its default handlers follow redirects (a 302 to another host received the
``Authorization: Bearer`` key, and the POST became a GET whose answer was taken as the model's), its timeout
bounds each socket read, not the request (a server trickling a byte a second never timed out), and
``response.read()`` takes a body of any size. Here, on :mod:`http.client`:

- a redirect (any 3xx) is refused, never followed, and the message names where it pointed;
- the whole exchange (connect, headers, body) ends within ``timeout`` seconds: a watchdog shuts the socket when
  the deadline passes;
- a reply larger than ``max_bytes`` is refused (a ``Content-Length`` over it before reading anything);
- a body shorter than its ``Content-Length``, a reset, a malformed status line or chunk, a TLS or DNS failure: a
  :class:`TransportError` (the client retries it, then reports it: exit 1, never a traceback);
- ``Retry-After`` is read per RFC 9110 (delay-seconds or an HTTP-date) by :func:`retry_after`, within a ceiling.

Proxies from the environment (``http_proxy``/``https_proxy``/``no_proxy``) are honoured as urllib does.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import http.client
import re
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from smner_bench.benchmark.errors import SmnerError, UsageError

MAX_REPLY_BYTES = 16 << 20  # an answer of a few thousand tokens is a few KB; a reply over 16 MiB is refused
MAX_ERROR_BODY = 2000  # bytes of an error reply kept for the message
CHUNK = 1 << 16


class HttpRefused(SmnerError):
    """The endpoint answered something the client will not take (a redirect, a reply over the size limit):
    retrying would not help (exit 1)."""


class TransportError(Exception):
    """The exchange failed on the way (timeout, reset, truncated or malformed reply, TLS, DNS): retried."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes  # the whole body for a 2xx; at most MAX_ERROR_BODY bytes otherwise


def check_url(url: str, what: str = "the LLM endpoint") -> str:
    """``url`` when it is an ``http(s)://host[:port]/...`` URL, else a :class:`UsageError` (exit 2).

    >>> check_url("http://localhost:8000/v1")
    'http://localhost:8000/v1'
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or re.search(r"\s", url):
        raise UsageError(
            f"{what} {url[:100]!r}: expected the base URL of an OpenAI-compatible API, "
            "e.g. http://localhost:8000/v1 (requests go to <URL>/chat/completions)"
        )
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"{what}: credentials in the URL are neither sent nor recorded safely; give the key in an environment "
            "variable (--api-key-env) and the URL without user:password@"
        )
    return url


def loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (a plain-HTTP key then never crosses a network)."""
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


def check_key(key: str, variable: str) -> None:
    """An API key that can go in an HTTP header, or a :class:`UsageError` that does not echo it."""
    if key and not re.fullmatch(r"[\x21-\x7e]+", key):
        raise UsageError(
            f"the API key in ${variable} holds a space, a line break or a non-ASCII character, which cannot go in "
            "an HTTP header: check the variable (its value is not shown)"
        )


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """The connection for ``url`` (through the environment's proxy when one applies) and the request target."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    proxy = None if urllib.request.proxy_bypass(host) else urllib.request.getproxies().get(parts.scheme)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    if not proxy:
        return kind(host, port, timeout=timeout), target
    via = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    headers = {}
    if via.username is not None:
        token = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
    proxy_port = via.port or 80
    if parts.scheme == "https":  # a CONNECT tunnel: the proxy sees neither the key nor the prompt
        conn = http.client.HTTPSConnection(via.hostname or "", proxy_port, timeout=timeout)
        conn.set_tunnel(host, port, headers=headers)
        return conn, target
    conn = http.client.HTTPConnection(via.hostname or "", proxy_port, timeout=timeout)
    conn._smner_proxy_headers = headers  # type: ignore[attr-defined]
    return conn, url  # a plain-HTTP proxy takes the absolute URL


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, max_bytes: int = MAX_REPLY_BYTES) -> Reply:
    """POST ``body`` to ``url`` (see :func:`exchange`)."""
    return exchange("POST", url, body, headers, timeout=timeout, max_bytes=max_bytes)


def get(url: str, headers: dict[str, str], *, timeout: float, max_bytes: int = MAX_REPLY_BYTES) -> Reply:
    """GET ``url`` (see :func:`exchange`)."""
    return exchange("GET", url, None, headers, timeout=timeout, max_bytes=max_bytes)


def exchange(
    method: str, url: str, body: bytes | None, headers: dict[str, str], *, timeout: float, max_bytes: int
) -> Reply:
    """Send one request to ``url`` and read the reply, the whole exchange within ``timeout`` seconds.

    :class:`HttpRefused` for a redirect or a reply over ``max_bytes``; :class:`TransportError` for anything that
    went wrong on the way. A status other than 2xx is returned (with a bounded body) for the caller to judge."""
    conn, target = _connection(url, timeout)
    expired = threading.Event()

    def abort() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        extra = getattr(conn, "_smner_proxy_headers", {})
        conn.request(method, target, body=body, headers={**headers, **extra})
        if expired.is_set():
            raise TimeoutError(f"no whole reply within {timeout:g} s")
        response = conn.getresponse()
        status = response.status
        if 300 <= status < 400:
            where = response.getheader("Location") or "nowhere"
            raise HttpRefused(
                f"{url} answered HTTP {status}, a redirect to {where[:200]!r}: redirects are not followed (the API "
                "key would go with them and the POST would become a GET); give the final URL as the endpoint"
            )
        success = 200 <= status < 300
        limit = max_bytes if success else MAX_ERROR_BODY
        declared = response.getheader("Content-Length")
        if success and declared and declared.strip().isdigit() and int(declared) > max_bytes:
            raise HttpRefused(f"{url} announced a reply of {int(declared)} bytes (at most {max_bytes} are read)")
        data = bytearray()
        while chunk := response.read(min(CHUNK, limit + 1 - len(data))):
            data += chunk
            if len(data) > limit:
                if not success:  # an error's body is only for the message
                    del data[limit:]
                    break
                raise HttpRefused(f"{url} sent a reply of more than {max_bytes} bytes (at most {max_bytes} are read)")
            if expired.is_set():
                break
        if expired.is_set():
            raise TimeoutError(f"no whole reply within {timeout:g} s")
        if success and response.length:  # the body ended before its Content-Length
            raise http.client.IncompleteRead(bytes(data), response.length)
        return Reply(status, response.headers, bytes(data))
    except HttpRefused:
        raise
    except TimeoutError as exc:
        raise TransportError(f"TimeoutError: {exc}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:  # ssl.SSLError and socket.gaierror are OSErrors
        if expired.is_set():
            raise TransportError(f"TimeoutError: no whole reply within {timeout:g} s") from None
        kind = "TLS error" if isinstance(exc, ssl.SSLError) else type(exc).__name__
        raise TransportError(f"{kind}: {str(exc)[:200] or 'connection failed'}") from None
    finally:
        watchdog.cancel()
        conn.close()


def retry_after(value: str | None, *, ceiling: float, now: float | None = None) -> float | None:
    """The seconds a ``Retry-After`` header asks for (RFC 9110 section 10.2.3: delay-seconds, or an HTTP-date),
    at most ``ceiling``; None when it is absent or neither form (the client's own backoff then applies). A date in
    the past is 0.

    >>> retry_after("7", ceiling=60), retry_after("99999999999999999999", ceiling=60), retry_after("-3", ceiling=60)
    (7.0, 60.0, None)
    >>> retry_after("Wed, 21 Oct 2015 07:28:00 GMT", ceiling=60, now=1445412470.0)
    10.0
    >>> retry_after("nan", ceiling=60), retry_after(None, ceiling=60)
    (None, None)
    """
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,30}", text):
        return float(min(int(text), ceiling))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    try:
        delta = (when - datetime.fromtimestamp(now, timezone.utc)).total_seconds()
    except OverflowError:
        return None
    return min(max(delta, 0.0), ceiling)
