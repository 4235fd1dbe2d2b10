"""LLMs behind one interface: ``generate(requests) -> answers``.

Backends:
- :class:`TransformersLLM`: a local causal LM with its chat template (or, without one, the plain format of
  :func:`plain_format`), batched greedy generation, in the dtype asked for, optionally spread over devices
  (``device_map``, for models larger than one device);
- :class:`OpenAICompatibleLLM`: any ``/chat/completions`` endpoint (OpenAI, vLLM, llama.cpp server...): key from
  an environment variable, timeouts, retries with exponential backoff on 429/5xx and network errors, at most
  ``concurrency`` requests in flight, answers streamed as they arrive (no barrier per batch); a request may carry
  images (:class:`ImagePart`, sent as base64 data URLs), and the endpoint's token counts are summed in ``usage``;
- :class:`ReplayLLM`: the released gpt-3.5-turbo knowledge, answered by tweet id, so the paper's exact LLM
  outputs drive the pipeline without calling any LLM.
:class:`CachedLLM` wraps any backend with an :class:`~.cache.AnswerCache`.

A prompt that does not fit the model's context (prompt tokens + ``max_new_tokens`` over the model's positions;
an endpoint's "context length" refusal) is skipped, not fatal: it is logged, answered with an empty string,
not cached, and counted (``CachedLLM.skipped``; a warning sums them up after each call).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from smner_bench.benchmark.errors import DataFormatError, SmnerError, UsageError

from ..dtype import load_kwargs
from ..loading import from_pretrained
from . import http
from .cache import AnswerCache, prompt_key

log = logging.getLogger(__name__)


class ProviderError(SmnerError):
    """A backend could not answer (after its retries)."""


@dataclass(frozen=True)
class ImagePart:
    """An image of a request, read from ``path`` only when the request is sent; ``digest`` (SHA-256 of its bytes)
    keys the answer cache."""

    path: str
    digest: str
    mime: str = "image/jpeg"

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> ImagePart:
        data = Path(path).read_bytes()
        return cls(str(path), hashlib.sha256(data).hexdigest(), image_mime(data))

    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(Path(self.path).read_bytes()).decode("ascii")


def image_mime(data: bytes) -> str:
    """The media type of an image's bytes, from its signature (JPEG when unknown)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


@dataclass(frozen=True)
class Request:
    """A prompt (``key``: the tweet id, for replay). ``parts``, when given, is the message's content in order:
    text (str) and images (:class:`ImagePart`); ``prompt`` is then its text (what the cache keys, with the
    images' digests)."""

    prompt: str
    key: str | None = None  # the tweet id, for replay
    parts: tuple[str | ImagePart, ...] = ()

    @property
    def cache_text(self) -> str:
        """What the answer cache keys besides backend, model and key: the prompt, then the images' digests."""
        digests = [p.digest for p in self.parts if isinstance(p, ImagePart)]
        return self.prompt if not digests else self.prompt + "\0images:" + ",".join(digests)

    def content(self) -> str | list[dict]:
        """The chat message's content: the prompt, or the parts in OpenAI's format (images as data URLs)."""
        if not self.parts:
            return self.prompt
        return [
            {"type": "text", "text": p}
            if isinstance(p, str)
            else {"type": "image_url", "image_url": {"url": p.data_url()}}
            for p in self.parts
        ]


@dataclass
class Usage:
    """Token counts the endpoint reported (``usage`` of its replies), summed over the requests answered."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    without_usage: int = 0  # replies that carried no usage

    def add(self, usage) -> None:
        self.requests += 1
        counts = [usage.get(k) if isinstance(usage, dict) else None for k in ("prompt_tokens", "completion_tokens")]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in counts):
            self.without_usage += 1
            return
        self.prompt_tokens += counts[0]
        self.completion_tokens += counts[1]


class LLM(Protocol):
    """``generate`` answers in order; ``None`` marks a prompt skipped because it does not fit the context. A
    backend may also have ``stream(requests)``, yielding ``(index, answer)`` as answers arrive."""

    backend: str
    model: str

    def generate(self, requests: Sequence[Request]) -> list[str | None]: ...


def plain_format(prompt: str) -> str:
    """The text given to a model without a chat template: the prompt itself, with ``"\nAnswer:"`` added when it
    does not already end with ``"Answer:"`` (the MSEA and expansion prompts do), so a base model continues with
    the answer.

    >>> plain_format("Text: a\\nAnswer:"), plain_format("Describe Paris.")
    ('Text: a\\nAnswer:', 'Describe Paris.\\nAnswer:')
    """
    return prompt if prompt.rstrip().endswith("Answer:") else f"{prompt}\nAnswer:"


class CachedLLM:
    """Answers from the cache when present, else from the backend, each new answer written to the cache as soon
    as it arrives (streamed where the backend can; else in batches of ``batch_size``). Skipped prompts (too
    long for the context) are answered ``""``, not cached, and counted in ``skipped``."""

    def __init__(self, llm: LLM, cache: AnswerCache, batch_size: int = 16, progress: bool = False) -> None:
        self.llm, self.cache, self.batch_size, self.progress = llm, cache, batch_size, progress
        self.hits = self.misses = self.skipped = 0

    @property
    def name(self) -> str:
        return f"{self.llm.backend}:{self.llm.model}"

    def _answers(self, requests: Sequence[Request]) -> Iterator[tuple[int, str | None]]:
        stream = getattr(self.llm, "stream", None)
        if stream is not None:
            yield from stream(requests)
            return
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            yield from enumerate(self.llm.generate(chunk), start=start)

    def generate(self, requests: Sequence[Request]) -> list[str]:
        keys = [prompt_key(self.llm.backend, self.llm.model, r.cache_text, r.key) for r in requests]
        todo = [i for i, k in enumerate(keys) if self.cache.get(k) is None]
        self.hits += len(requests) - len(todo)
        self.misses += len(todo)
        skipped = set()
        bar = tqdm(total=len(todo), desc=self.name, disable=True if not self.progress else None, leave=False)
        for j, answer in self._answers([requests[i] for i in todo]):
            if answer is None:
                skipped.add(todo[j])
            else:
                self.cache.put(keys[todo[j]], answer, backend=self.llm.backend, model=self.llm.model)
            bar.update()
        bar.close()
        if skipped:
            self.skipped += len(skipped)
            log.warning(
                "%s: %d of %d prompts skipped (longer than the model's context): empty answers, not cached",
                self.name,
                len(skipped),
                len(requests),
            )
        return ["" if i in skipped else self.cache.get(k) for i, k in enumerate(keys)]  # type: ignore[misc]


class TransformersLLM:
    """A local causal LM (``from_pretrained(path)``) in ``dtype`` (fp32, bf16, fp16), its chat template when it
    has one (else :func:`plain_format`), greedy decoding. ``device_map`` (e.g. ``"auto"``; needs the
    ``accelerate`` package) spreads a large model over the available devices instead of moving it to
    ``device``. A prompt whose tokens plus ``max_new_tokens`` exceed the model's positions is skipped (``None``)."""

    backend = "transformers"

    def __init__(
        self,
        path: str,
        *,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        device: str = "cpu",
        dtype: str | None = "fp32",
        device_map: str | None = None,
        model=None,
        tokenizer=None,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = str(path)
        self.tokenizer = tokenizer or from_pretrained(AutoTokenizer, path, "LLM")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._check_template(path)  # before the (large) model is loaded
        if model is None:
            placement = {}
            if device_map:
                import importlib.util

                if importlib.util.find_spec("accelerate") is None:
                    raise UsageError(f"device_map {device_map!r} needs the accelerate package (pip install accelerate)")
                placement = {"device_map": device_map}
            model = from_pretrained(AutoModelForCausalLM, path, "LLM", **load_kwargs(dtype, device), **placement)
            self.network = (model if device_map else model.to(device)).eval()
        else:
            self.network = model.to(device).eval()
        self.device = str(self.network.device) if device_map else device
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        config = self.network.config
        config = getattr(config, "text_config", None) or config
        self.limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)

    def _check_template(self, path: str) -> None:
        """A chat template that does not render (a damaged file) is refused with the file named (exit 1)."""
        from jinja2 import TemplateError

        try:
            self._text("a prompt")
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:  # its code
            folder = Path(path)
            where = folder / "chat_template.jinja"
            where = where if where.is_file() else folder / "tokenizer_config.json"
            raise DataFormatError(f"the LLM's chat template does not render ({str(exc)[:200]})", file=where) from None

    def _text(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        return plain_format(prompt)

    def generate(self, requests: Sequence[Request]) -> list[str | None]:
        texts = [self._text(r.prompt) for r in requests]
        answers: list[str | None] = [None] * len(requests)
        fits = []
        for i, n in enumerate(len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]):
            if self.limit and n + self.max_new_tokens > self.limit:
                key = f" (tweet {requests[i].key})" if requests[i].key else ""
                log.warning(
                    "%s: skipped a prompt%s of %d tokens: with %d new tokens it does not fit the %d positions",
                    self.model,
                    key,
                    n,
                    self.max_new_tokens,
                    self.limit,
                )
            else:
                fits.append(i)
        for start in range(0, len(fits), self.batch_size):
            chunk = fits[start : start + self.batch_size]
            for i, answer in zip(chunk, self._generate([texts[i] for i in chunk]), strict=True):
                answers[i] = answer
        return answers

    def _generate(self, texts: list[str]) -> list[str]:
        import torch

        answers = []
        if texts:
            batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            with torch.no_grad():
                out = self.network.generate(
                    **batch,
                    do_sample=False,
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            new = out[:, batch["input_ids"].shape[1] :]
            answers += [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]
        return answers


class OpenAICompatibleLLM:
    """``POST {base_url}/chat/completions`` through :func:`.http.post` (no redirects followed, each request
    bounded in time and size); retries 429, 5xx, timeouts and connection errors with exponential backoff
    (``Retry-After`` honoured up to ``max_wait`` seconds); at most ``concurrency`` requests in flight; an HTTP 400
    that says the prompt exceeds the context length skips the prompt (``None``). A request with ``parts`` sends
    them (text and images as data URLs); ``usage`` sums the token counts of the replies."""

    backend = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        concurrency: int = 4,
        max_tokens: int = 256,
        temperature: float = 0.0,
        max_reply_bytes: int = http.MAX_REPLY_BYTES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        http.check_url(base_url)
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout, self.retries, self.backoff = model, timeout, retries, backoff
        self.concurrency, self.max_tokens, self.temperature, self.sleep = concurrency, max_tokens, temperature, sleep
        self.max_wait, self.max_reply_bytes = max_wait, max_reply_bytes
        for name, value in (("timeout", timeout), ("max_wait", max_wait), ("backoff", backoff)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise UsageError(f"the LLM {name} must be a finite number of seconds >= 0, got {value!r}")
        if timeout <= 0:
            raise UsageError(f"the LLM timeout must be more than 0 seconds, got {timeout!r}")
        if concurrency < 1:
            raise UsageError(f"the LLM concurrency must be at least 1, got {concurrency}")
        self.api_key = os.environ.get(api_key_env, "")
        http.check_key(self.api_key, api_key_env)
        if self.api_key and base_url.startswith("http://") and not http.loopback(base_url):
            log.warning("%s: the API key goes over plain HTTP (not encrypted) to another machine", base_url)
        self.usage = Usage()
        self._lock = threading.Lock()

    def served_models(self) -> list[str] | None:
        """The model names ``GET {base_url}/models`` lists (OpenAI's and vLLM's format: ``{"data": [{"id": ...}]}``),
        or None when the endpoint answers that question otherwise (not every server has it). A network failure is
        a :class:`ProviderError`: the endpoint cannot be reached, so no request would be answered either."""
        url = self.url.removesuffix("/chat/completions") + "/models"
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            reply = http.get(url, headers, timeout=min(self.timeout, 30.0), max_bytes=1 << 20)
        except http.HttpRefused as exc:
            raise ProviderError(exc.message) from None
        except http.TransportError as exc:
            raise ProviderError(f"{url}: the endpoint cannot be reached ({exc})") from None
        if reply.status in (401, 403):
            raise ProviderError(f"{url} answered HTTP {reply.status}: the API key is missing or refused")
        try:
            models = [m["id"] for m in json.loads(reply.body)["data"]] if reply.status == 200 else None
        except (ValueError, KeyError, TypeError, RecursionError):
            models = None
        return models if models and all(isinstance(m, str) for m in models) else None

    def _once(self, request: Request) -> http.Reply:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": request.content()}],
                "max_tokens": self.max_tokens,
                "temperature": self.temperature,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return http.post(self.url, body, headers, timeout=self.timeout, max_bytes=self.max_reply_bytes)

    def _answer(self, raw: bytes) -> str:
        try:
            reply = json.loads(raw)
            answer = reply["choices"][0]["message"]["content"].strip()
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
            raise ProviderError(f"malformed reply from {self.url}: {raw[:200]!r}") from None
        with self._lock:
            self.usage.add(reply.get("usage"))
        return answer

    def _ask(self, request: Request) -> str | None:
        prompt = request.prompt
        for attempt in range(self.retries + 1):
            backoff = min(self.backoff * 2**attempt, self.max_wait)
            try:
                reply = self._once(request)
            except http.HttpRefused as exc:
                raise ProviderError(exc.message) from None
            except http.TransportError as exc:
                wait, why = backoff, str(exc)
            else:
                if 200 <= reply.status < 300:
                    return self._answer(reply.body)
                body = reply.body
                if reply.status != 429 and reply.status < 500:
                    if reply.status == 400 and re.search(rb"context[ _](length|window)|maximum context", body, re.I):
                        log.warning("%s: skipped a prompt of %d characters: %r", self.url, len(prompt), body[:200])
                        return None
                    raise ProviderError(f"{self.url} answered HTTP {reply.status}: {body[:200]!r}")
                asked = http.retry_after(reply.headers.get("Retry-After"), ceiling=self.max_wait)
                wait, why = (backoff if asked is None else asked), f"HTTP {reply.status}"
            if attempt == self.retries:
                raise ProviderError(f"{self.url}: no answer after {self.retries + 1} attempts (last: {why})")
            log.warning("%s: %s, retrying in %.1f s", self.url, why, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, str | None]]:
        """``(index, answer)`` in the order answers arrive, ``concurrency`` requests in flight (a bounded window
        of submitted requests: a slow answer holds up no other). An error stops the stream: what was yielded
        before it stands (the cache keeps it)."""
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        pending: dict = {}
        order = iter(enumerate(requests))
        try:
            while True:
                for i, r in order:
                    pending[pool.submit(self._ask, r)] = i
                    if len(pending) >= self.concurrency:
                        break
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def generate(self, requests: Sequence[Request]) -> list[str | None]:
        answers: list[str | None] = [None] * len(requests)
        for i, answer in self.stream(requests):
            answers[i] = answer
        return answers


class ReplayLLM:
    """Answers with the knowledge released for each tweet (``Request.key`` = tweet id), read with the loaders
    (aligned to the tweets by tokens)."""

    backend = "replay"

    def __init__(self, answers: dict[str, str | None], model: str = "gpt-3.5-turbo (released)") -> None:
        self.answers, self.model = answers, model

    @classmethod
    def from_release(cls, release: str, dataset: str, data_dir: str, split: str, **load_options) -> ReplayLLM:
        from smner_bench.loaders import load_split

        rows = load_split(dataset, data_dir, split, knowledge=release, **load_options)
        return cls(dict(zip(rows["id"], rows["knowledge"], strict=True)))

    def generate(self, requests: Sequence[Request]) -> list[str]:
        out = []
        for r in requests:
            answer = self.answers.get(r.key) if r.key is not None else None
            if answer is None:
                raise ProviderError(f"the released knowledge has no answer for tweet {r.key!r}")
            out.append(answer)
        return out


def llm_from_spec(
    spec: str,
    cache: str,
    *,
    dataset: str,
    data_dir: str,
    split: str,
    batch_size: int = 8,
    progress: bool = True,
    max_new_tokens: int = 256,
    device: str = "cpu",
    dtype: str | None = "fp32",
    device_map: str | None = None,
    concurrency: int = 4,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> CachedLLM:
    """``transformers:PATH`` | ``openai:MODEL@BASE_URL`` | ``replay:RELEASE`` behind the answer cache
    (``cache``: a JSON Lines file the command owns; ``inputs``: the command's inputs, which it may not be).
    ``dtype``/``device_map``: the transformers backend's; ``concurrency``: the HTTP backend's requests in
    flight."""
    kind, _, rest = spec.partition(":")
    cache_file = AnswerCache(cache, inputs=[*inputs, data_dir, *(rest.split(",") if kind != "openai" else [])])
    if kind == "transformers" and rest:
        llm = TransformersLLM(
            rest,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            device=device,
            dtype=dtype,
            device_map=device_map,
        )
    elif kind == "openai" and "@" in rest:
        model, _, url = rest.partition("@")
        llm = OpenAICompatibleLLM(url, model, max_tokens=max_new_tokens, concurrency=concurrency)
    elif kind == "replay" and rest:
        llm = ReplayLLM.from_release(rest, dataset, data_dir, split)
    else:
        raise UsageError(f"--llm {spec!r}: expected transformers:PATH, openai:MODEL@BASE_URL or replay:RELEASE")
    return CachedLLM(llm, cache_file, batch_size=batch_size, progress=progress)
