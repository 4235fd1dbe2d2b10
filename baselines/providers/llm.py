"""LLMs behind one interface: ``generate(requests) -> answers``.

Backends:
- :class:`TransformersLLM`: a local causal LM with its chat template, batched greedy generation;
- :class:`OpenAICompatibleLLM`: any ``/chat/completions`` endpoint (OpenAI, vLLM, llama.cpp server...): key from
  an environment variable, timeouts, retries with exponential backoff on 429/5xx and network errors, a
  concurrency limit;
- :class:`ReplayLLM`: the released gpt-3.5-turbo knowledge, answered by tweet id, so the paper's exact LLM
  outputs drive the pipeline without calling any LLM.
:class:`CachedLLM` wraps any backend with an :class:`~.cache.AnswerCache`.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from tqdm import tqdm

from smner_bench.benchmark.errors import SmnerError, UsageError

from ..loading import from_pretrained
from .cache import AnswerCache, prompt_key

log = logging.getLogger(__name__)


class ProviderError(SmnerError):
    """A backend could not answer (after its retries)."""


@dataclass(frozen=True)
class Request:
    prompt: str
    key: str | None = None  # the tweet id, for replay


class LLM(Protocol):
    backend: str
    model: str

    def generate(self, requests: Sequence[Request]) -> list[str]: ...


class CachedLLM:
    """Answers from the cache when present, else from the backend (in batches of ``batch_size``), each new
    answer written to the cache as soon as it arrives."""

    def __init__(self, llm: LLM, cache: AnswerCache, batch_size: int = 16, progress: bool = False) -> None:
        self.llm, self.cache, self.batch_size, self.progress = llm, cache, batch_size, progress
        self.hits = self.misses = 0

    @property
    def name(self) -> str:
        return f"{self.llm.backend}:{self.llm.model}"

    def generate(self, requests: Sequence[Request]) -> list[str]:
        keys = [prompt_key(self.llm.backend, self.llm.model, r.prompt, r.key) for r in requests]
        todo = [i for i, k in enumerate(keys) if self.cache.get(k) is None]
        self.hits += len(requests) - len(todo)
        self.misses += len(todo)
        starts = range(0, len(todo), self.batch_size)
        for start in tqdm(starts, desc=self.name, disable=not self.progress, leave=False):
            chunk = todo[start : start + self.batch_size]
            for i, answer in zip(chunk, self.llm.generate([requests[i] for i in chunk]), strict=True):
                self.cache.put(keys[i], answer, backend=self.llm.backend, model=self.llm.model)
        return [self.cache.get(k) for k in keys]  # type: ignore[misc]


class TransformersLLM:
    """A local causal LM (``from_pretrained(path)``), its chat template when it has one, greedy decoding."""

    backend = "transformers"

    def __init__(
        self,
        path: str,
        *,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        device: str = "cpu",
        model=None,
        tokenizer=None,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = str(path)
        self.tokenizer = tokenizer or from_pretrained(AutoTokenizer, path, "LLM")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.network = (model or from_pretrained(AutoModelForCausalLM, path, "LLM")).to(device).eval()
        self.max_new_tokens, self.batch_size, self.device = max_new_tokens, batch_size, device

    def _text(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        return prompt

    def generate(self, requests: Sequence[Request]) -> list[str]:
        import torch

        answers = []
        for start in range(0, len(requests), self.batch_size):
            texts = [self._text(r.prompt) for r in requests[start : start + self.batch_size]]
            batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            config = self.network.config
            limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
            if limit and batch["input_ids"].shape[1] + self.max_new_tokens > limit:
                raise ProviderError(
                    f"a prompt of {batch['input_ids'].shape[1]} tokens plus {self.max_new_tokens} new "
                    f"tokens does not fit the {limit} positions of {self.model}"
                )
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
    """``POST {base_url}/chat/completions``; retries 429, 5xx, timeouts and connection errors with exponential
    backoff (``Retry-After`` honoured); at most ``concurrency`` requests in flight."""

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
        concurrency: int = 4,
        max_tokens: int = 256,
        temperature: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"the LLM endpoint must be an http(s) URL, got {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout, self.retries, self.backoff = model, timeout, retries, backoff
        self.concurrency, self.max_tokens, self.temperature, self.sleep = concurrency, max_tokens, temperature, sleep
        self.api_key = os.environ.get(api_key_env, "")

    def _once(self, prompt: str) -> str:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": self.max_tokens,
                "temperature": self.temperature,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            raw = response.read()
        try:
            return json.loads(raw)["choices"][0]["message"]["content"].strip()
        except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(f"malformed reply from {self.url}: {raw[:200]!r}") from None

    def _ask(self, prompt: str) -> str:
        for attempt in range(self.retries + 1):
            try:
                return self._once(prompt)
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500:
                    raise ProviderError(f"{self.url} answered HTTP {exc.code}: {exc.read()[:200]!r}") from None
                wait = float(exc.headers.get("Retry-After") or self.backoff * 2**attempt)
                why = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                wait, why = self.backoff * 2**attempt, f"{type(exc).__name__}: {exc}"
            if attempt == self.retries:
                raise ProviderError(f"{self.url}: no answer after {self.retries + 1} attempts (last: {why})")
            log.warning("%s: %s, retrying in %.1f s", self.url, why, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def generate(self, requests: Sequence[Request]) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._ask, [r.prompt for r in requests]))


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
    inputs: Iterable[str | os.PathLike | None] = (),
) -> CachedLLM:
    """``transformers:PATH`` | ``openai:MODEL@BASE_URL`` | ``replay:RELEASE`` behind the answer cache
    (``cache``: a JSON Lines file the command owns; ``inputs``: the command's inputs, which it may not be)."""
    kind, _, rest = spec.partition(":")
    cache_file = AnswerCache(cache, inputs=[*inputs, data_dir, *(rest.split(",") if kind != "openai" else [])])
    if kind == "transformers" and rest:
        llm = TransformersLLM(rest, batch_size=batch_size, max_new_tokens=max_new_tokens, device=device)
    elif kind == "openai" and "@" in rest:
        model, _, url = rest.partition("@")
        llm = OpenAICompatibleLLM(url, model, max_tokens=max_new_tokens)
    elif kind == "replay" and rest:
        llm = ReplayLLM.from_release(rest, dataset, data_dir, split)
    else:
        raise UsageError(f"--llm {spec!r}: expected transformers:PATH, openai:MODEL@BASE_URL or replay:RELEASE")
    return CachedLLM(llm, cache_file, batch_size=batch_size, progress=progress)
