"""An OpenAI-compatible chat server as the LLM: vLLM, llama.cpp server, Ollama, hosted APIs.

Plain httpx: ``POST {base_url}/chat/completions`` with ``stream: true`` (SSE), so ``generate``
and ``stream`` share one path. Retries with exponential backoff (and jitter) on 429, 5xx,
connection errors and timeouts, but only before the first byte of an answer; a server's
``Retry-After`` wins over the computed delay (capped at ``max_backoff_s``). Closing a stream
closes the connection, which is how these servers learn to stop generating.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from app.llm.errors import LLMBusy, LLMError, LLMUnavailable
from app.llm.types import (
    CancelToken,
    Completion,
    FinishReason,
    GenerationParams,
    StreamingBackend,
    TokenStream,
)
from retrieval.types import Message

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class OpenAICompatibleLLM(StreamingBackend):
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        context_window: int = 4096,
        count_tokens: Callable[[str], int] | None = None,
        connect_timeout_s: float = 5.0,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"openai:{model}"
        self.context_window = context_window
        self.api_key = api_key
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._count = count_tokens
        self._client: Any = None
        self.attempts = 0
        """HTTP requests sent over this instance's life (retries included)."""

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            headers = {"Accept": "text/event-stream"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            timeout = httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
            self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def count_tokens(self, text: str) -> int:
        if self._count is None:
            from retrieval.prompting.tokenizers import ApproxTokenizer

            self._count = ApproxTokenizer(self.context_window).count
        return self._count(text)

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream:
        return TokenStream(self._run(self._body(messages, params), cancel))

    # -- request ------------------------------------------------------------------------
    def _body(self, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        # Not in OpenAI's API: sent only when they change something (vLLM, llama.cpp and
        # Ollama read them; hosted APIs would reject them).
        if params.top_k:
            body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
            body["repeat_penalty"] = params.repetition_penalty
        return body

    def _send(self, body: dict[str, Any]) -> Any:
        """POST with retries; returns an open streaming response with status 200."""
        import httpx

        where = f"{self.base_url}/chat/completions"
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            try:
                response = self.client.send(
                    self.client.build_request("POST", "/chat/completions", json=body), stream=True
                )
            except httpx.TimeoutException as exc:
                failure, retry_after, status = f"timed out ({type(exc).__name__})", None, None
            except httpx.TransportError as exc:
                failure, retry_after, status = f"cannot connect ({exc})", None, None
            else:
                if response.status_code == 200:
                    return response
                status = response.status_code
                response.read()
                response.close()
                failure = f"{status} {_error_text(response)}"
                retry_after = _retry_after(response.headers.get("retry-after"))
                if status not in RETRY_STATUS:
                    raise _final_error(status, where, failure)
            if attempt > self.max_retries:
                message = f"{where} failed {attempt} times, giving up: {failure}"
                if status == 429:
                    raise LLMBusy(message, retry_after=retry_after or 1.0)
                raise LLMUnavailable(message)
            time.sleep(self._delay(attempt, retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        full = min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s)
        return float(full / 2 + random.uniform(0, full / 2))

    # -- response -----------------------------------------------------------------------
    def _run(
        self, body: dict[str, Any], cancel: CancelToken | None
    ) -> Generator[str, None, Completion]:
        import httpx

        started = time.perf_counter()
        pieces: list[str] = []
        first: float | None = None
        finish: FinishReason = "length"
        usage: dict[str, Any] = {}
        if cancel is not None and cancel.cancelled:
            finish = "cancelled"
        else:
            response = self._send(body)
            try:
                for event in _sse_events(response.iter_lines()):
                    if "error" in event:
                        raise LLMError(f"server error mid-stream: {_message(event['error'])}")
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or ():
                        text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            first = first if first is not None else time.perf_counter()
                            pieces.append(text)
                            yield text
                        if choice.get("finish_reason"):
                            finish = "stop" if choice["finish_reason"] == "stop" else "length"
                    if cancel is not None and cancel.cancelled:
                        finish = "cancelled"
                        break
            except httpx.HTTPError as exc:
                raise LLMUnavailable(f"{self.base_url}: stream interrupted ({exc})") from exc
            finally:
                response.close()
        text = "".join(pieces)
        prompt_tokens = usage.get("prompt_tokens")
        if not isinstance(prompt_tokens, int):
            prompt_tokens = sum(self.count_tokens(m["content"]) for m in body["messages"])
        completion_tokens = usage.get("completion_tokens")
        if not isinstance(completion_tokens, int):
            completion_tokens = self.count_tokens(text)
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish,
            model_id=self.model_id,
            seconds=time.perf_counter() - started,
            time_to_first_token=None if first is None else first - started,
        )


def _sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """JSON payloads of a Server-Sent Events stream, up to ``data: [DONE]``."""
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
            continue
        if line.strip() or not data:
            continue  # comments (":"), event names, ids, or an empty keep-alive
        payload, data = "\n".join(data), []
        if payload.strip() == "[DONE]":
            return
        yield _json(payload)
    if data and "\n".join(data).strip() != "[DONE]":
        yield _json("\n".join(data))


def _json(payload: str) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise LLMError(f"server sent malformed JSON in its stream: {payload[:80]!r}") from exc
    if not isinstance(value, dict):
        raise LLMError(f"server sent an unexpected event: {payload[:80]!r}")
    return value


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)
    return str(error)


def _error_text(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200]
    if isinstance(data, dict):
        return _message(data.get("error") or data.get("detail") or data)[:200]
    return str(data)[:200]


def _final_error(status: int, where: str, failure: str) -> Exception:
    if status in (401, 403):
        return LLMUnavailable(f"{where} refused the credentials (llm.api_key): {failure}")
    if status == 404:
        return LLMUnavailable(f"{where} not found; check llm.base_url and llm.model: {failure}")
    return LLMError(f"{where} rejected the request: {failure}")
