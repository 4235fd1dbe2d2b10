"""The LLM/MLLM HTTP client against hostile servers on 127.0.0.1: redirects (credentials never forwarded), bodies
too large, servers that trickle, lie about Content-Length or answer garbage, and every spelling of Retry-After.
Each server here is a raw socket with a scripted reply, bounded in bytes and time, that stops by itself."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from smner_bench.baselines.providers import http
from smner_bench.baselines.providers.llm import OpenAICompatibleLLM, ProviderError, Request

GOOD = json.dumps({"choices": [{"message": {"content": "[]"}}]}).encode()


def reply(status: str, body: bytes = b"", headers: tuple[str, ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status}", *headers, "Connection: close"]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@contextlib.contextmanager
def raw_server(script: Callable[[socket.socket, bytes], None]) -> Iterator[tuple[str, list[bytes]]]:
    """A server answering each connection with ``script(conn, request)``; yields its /v1 URL and the requests
    it received (headers and body as bytes)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536) or b"\0"
                        if data.endswith(b"\0"):
                            break
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = next(
                        (int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")),
                        0,
                    )
                    while len(body) < length:
                        body += conn.recv(65536) or b"\0" * (length - len(body))
                    seen.append(head + b"\r\n\r\n" + body)
                    script(conn, head)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", seen
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def fails(script, match: str, **options) -> None:
    """One request to a server answering with ``script`` ends in a ProviderError matching ``match``."""
    with raw_server(script) as (url, _), pytest.raises(ProviderError, match=match):
        llm(url, **options).generate([Request("a")])


def llm(url: str, **options) -> OpenAICompatibleLLM:
    sleeps = options.pop("sleeps", [])
    return OpenAICompatibleLLM(url, "m", sleep=sleeps.append, **{"timeout": 2.0, "retries": 0, **options})


def test_a_redirect_is_refused_and_the_key_goes_nowhere_else(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sekret")
    with raw_server(lambda c, h: c.sendall(reply("200 OK", GOOD))) as (elsewhere, stolen):
        target = elsewhere + "/chat/completions"
        for status in ("301 Moved Permanently", "302 Found", "303 See Other", "307 Temporary Redirect", "308 X"):
            script = lambda c, h, s=status: c.sendall(reply(s, headers=(f"Location: {target}",)))  # noqa: E731
            with raw_server(script) as (url, seen):
                with pytest.raises(ProviderError, match=r"redirect to .*not followed.*give the final URL"):
                    llm(url, retries=3).generate([Request("hello")])
                assert len(seen) == 1 and b"Bearer sekret" in seen[0]  # the endpoint the user named got it
        assert stolen == []  # nothing, and above all no key, reached the other host


def test_a_reply_over_the_limit_is_refused_without_being_read_whole():
    big = b'{"choices": "' + b"x" * 50_000 + b'"}'
    fails(lambda c, h: c.sendall(reply("200 OK", big)), "announced a reply of 50015 bytes", max_reply_bytes=10_000)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in [b"y" * 4096] * 20) + b"0\r\n\r\n"
    script = lambda c, h: c.sendall(reply("200 OK", chunked, ("Transfer-Encoding: chunked",)))  # noqa: E731
    fails(script, "a reply of more than 10000 bytes", max_reply_bytes=10_000)
    no_length = b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 30_000  # ends with the connection
    fails(lambda c, h: c.sendall(no_length), "a reply of more than 10000 bytes", max_reply_bytes=10_000)


def trickle(head: bytes, every: float = 0.05, limit: int = 200):
    def script(conn, _):
        with contextlib.suppress(OSError):
            conn.sendall(head)
            for _ in range(limit):  # bounded: at most limit * every seconds
                conn.sendall(b" ")
                time.sleep(every)

    return script


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n",  # a body a byte at a time
        b"HTTP/1.1 200 OK\r\nX-Slow:",  # a header line that never ends
    ],
    ids=["body", "headers"],
)
def test_a_trickling_server_times_out_on_the_whole_request(head):
    with raw_server(trickle(head)) as (url, _):
        started = time.monotonic()
        with pytest.raises(ProviderError, match=r"no answer after 1 attempts \(last: TimeoutError"):
            llm(url, timeout=0.5).generate([Request("a")])
        assert time.monotonic() - started < 2.5  # each read came within the socket timeout: the deadline ended it


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (reply("200 OK", GOOD[:10], ("Content-Length: 500",)), "IncompleteRead"),  # shorter than announced
        (b"SSH-2.0-OpenSSH_9.6\r\n", "BadStatusLine"),  # not HTTP
        (b"", "RemoteDisconnected"),  # closed without a word
        (reply("200 OK", b"zz\r\n", ("Transfer-Encoding: chunked",)), "IncompleteRead|ValueError"),  # bad chunk
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", "HTTPException"),  # too many headers
    ],
    ids=["short-body", "not-http", "silent-close", "bad-chunk", "header-flood"],
)
def test_transport_failures_are_retried_then_reported(wire, why):
    with raw_server(lambda c, h: c.sendall(wire)) as (url, seen):
        sleeps: list[float] = []
        with pytest.raises(ProviderError, match=rf"no answer after 3 attempts \(last: ({why})"):
            llm(url, retries=2, sleeps=sleeps).generate([Request("a")])
        assert len(seen) == 3 and sleeps == [1.0, 2.0]


def test_unreachable_and_malformed_replies_are_provider_errors():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with pytest.raises(ProviderError, match="ConnectionRefusedError"):
        llm(f"http://127.0.0.1:{port}/v1").generate([Request("a")])
    huge_int = b'{"choices": [{"message": {"content": ' + b"9" * 5000 + b"}}]}"
    for body in (huge_int, b"[" * 100_000, b"\xff\xfe", b'{"choices": [{"message": {"content": 3}}]}'):
        fails(lambda c, h, b=body: c.sendall(reply("200 OK", b)), "malformed reply")


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("999999999999999999999999", 120.0),  # years: the ceiling
        ("-5", 1.0),  # not delay-seconds: the client's backoff
        ("inf", 1.0),
        ("nan", 1.0),
        ("1e3", 1.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past
        ("Fri, 31 Dec 9999 23:59:59 GMT", 120.0),  # a date far ahead: the ceiling
        ("Mon, 99 Foo 2015 99:99:99 GMT", 1.0),
    ],
)
def test_retry_after_follows_rfc_9110_within_a_ceiling(header, wait):
    answers = iter([reply("429 Too Many", headers=(f"Retry-After: {header}",)), reply("200 OK", GOOD)])
    with raw_server(lambda c, h: c.sendall(next(answers))) as (url, _):
        sleeps: list[float] = []
        assert llm(url, retries=1, sleeps=sleeps).generate([Request("a")]) == ["[]"]
        assert sleeps == [pytest.approx(wait)]


def test_retry_after_as_a_future_date():
    future = time.time() + 30
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(future))
    assert 25 <= http.retry_after(stamp, ceiling=120) <= 31
    assert http.retry_after(stamp, ceiling=10) == 10


@pytest.mark.parametrize(
    "url", ["ftp://h/v1", "http:///v1", "http://h:port/v1", "http://h:99999/v1", "h:8000/v1", "http://h /v1"]
)
def test_endpoint_urls_are_checked_up_front(url):
    with pytest.raises(http.UsageError, match="expected the base URL"):
        OpenAICompatibleLLM(url, "m")


@pytest.mark.parametrize("option", [{"timeout": float("nan")}, {"timeout": 0}, {"max_wait": float("inf")}])
def test_timing_options_are_finite(option):
    with pytest.raises(http.UsageError):
        OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", **option)


def test_the_mllm_command_refuses_a_redirect_with_exit_1_and_writes_nothing(sample_dir, tmp_path, capsys, monkeypatch):
    from .test_mllm import run

    monkeypatch.setenv("OPENAI_API_KEY", "sekret")
    with raw_server(lambda c, h: c.sendall(reply("200 OK", GOOD))) as (elsewhere, stolen):
        script = lambda c, h: c.sendall(reply("302 Found", headers=(f"Location: {elsewhere}/chat/completions",)))  # noqa: E731
        with raw_server(script) as (url, _):
            out = tmp_path / "out.jsonl"
            assert run(["--box-format", "pixels"], url, sample_dir, out) == 1
    err = capsys.readouterr().err
    assert "redirects are not followed" in err and "Traceback" not in err
    assert not out.exists() and stolen == []


def test_keys_and_urls_that_would_leak_are_refused_up_front(monkeypatch, caplog):
    monkeypatch.setenv("BAD_KEY", "sk-abc\r\nX-Injected: 1")
    with pytest.raises(http.UsageError, match=r"\$BAD_KEY holds a space, a line break") as caught:
        OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", api_key_env="BAD_KEY")
    assert "sk-abc" not in str(caught.value)  # the key is never echoed
    with pytest.raises(http.UsageError, match="credentials in the URL"):
        OpenAICompatibleLLM("http://user:pass@127.0.0.1:9/v1", "m")
    monkeypatch.setenv("GOOD_KEY", "sk-abc")
    OpenAICompatibleLLM("http://example.org/v1", "m", api_key_env="GOOD_KEY")
    assert "plain HTTP" in caplog.text
    caplog.clear()
    OpenAICompatibleLLM("http://127.0.0.1:8000/v1", "m", api_key_env="GOOD_KEY")
    assert "plain HTTP" not in caplog.text
