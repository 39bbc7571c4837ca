"""An OpenAI-compatible chat server as the LLM: vLLM, llama.cpp server, Ollama, hosted APIs.

A thin adapter over the ``openai`` SDK: streaming, timeouts and retries (429, 408, 409, 5xx,
connection errors and timeouts; exponential backoff with jitter, a server's Retry-After
honoured) are the SDK's. ``generate`` is the stream drained, so both share one path; closing a
stream closes the connection, which is how these servers learn to stop generating. The
SDK's errors become ragline's: LLMBusy (rate limited), LLMUnavailable (unreachable, failing,
refused credentials, unknown model) and LLMError (a request the server rejected).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from ragline.llm.errors import LLMBusy, LLMError, LLMUnavailable
from ragline.llm.types import (
    CancelToken,
    Completion,
    FinishReason,
    GenerationParams,
    StreamingBackend,
    TokenStream,
)
from ragline.retrieval.types import Message


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"openai:{model}"
        self.context_window = context_window
        self.api_key = api_key
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._count = count_tokens
        self._client: Any = None
        self.attempts = 0
        """HTTP requests sent over this instance's life (retries included)."""

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            def counted(_request: Any) -> None:
                self.attempts += 1

            timeout = openai.Timeout(self.timeout_s, connect=self.connect_timeout_s)
            self._client = openai.OpenAI(
                base_url=self.base_url,
                # servers without authentication ignore it; the SDK insists on a value
                api_key=self.api_key or "unused",
                max_retries=self.max_retries,
                timeout=timeout,
                http_client=openai.DefaultHttpx2Client(
                    timeout=timeout, event_hooks={"request": [counted]}
                ),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def count_tokens(self, text: str) -> int:
        if self._count is None:
            from ragline.retrieval.prompting.tokenizers import ApproxTokenizer

            self._count = ApproxTokenizer(self.context_window).count
        return self._count(text)

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream:
        return TokenStream(self._run(messages, params, cancel))

    def _request(self, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.stop:
            request["stop"] = list(params.stop)
        if params.seed is not None:
            request["seed"] = params.seed
        # Not in OpenAI's API: sent only when they change something (vLLM, llama.cpp and
        # Ollama read them; hosted APIs would reject them).
        extra: dict[str, Any] = {}
        if params.top_k:
            extra["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            extra["repetition_penalty"] = extra["repeat_penalty"] = params.repetition_penalty
        if extra:
            request["extra_body"] = extra
        return request

    def _run(
        self, messages: Sequence[Message], params: GenerationParams, cancel: CancelToken | None
    ) -> Generator[str, None, Completion]:
        import openai

        started = time.perf_counter()
        pieces: list[str] = []
        first: float | None = None
        finish: FinishReason = "length"
        usage: Any = None
        if cancel is not None and cancel.cancelled:
            finish = "cancelled"
        else:
            before = self.attempts
            try:
                chunks = self.client.chat.completions.create(**self._request(messages, params))
            except openai.APIError as exc:
                raise self._error(exc, self.attempts - before) from None
            try:
                for chunk in chunks:
                    usage = chunk.usage or usage
                    for choice in chunk.choices:
                        text = choice.delta.content if choice.delta else None
                        if text:
                            first = first if first is not None else time.perf_counter()
                            pieces.append(text)
                            yield text
                        if choice.finish_reason:
                            finish = "stop" if choice.finish_reason == "stop" else "length"
                    if cancel is not None and cancel.cancelled:
                        finish = "cancelled"
                        break
            except openai.APIError as exc:
                raise LLMUnavailable(
                    f"{self.base_url}: stream interrupted ({_brief(exc)})"
                ) from None
            finally:
                chunks.close()
        text = "".join(pieces)
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        if not isinstance(prompt_tokens, int):
            prompt_tokens = sum(self.count_tokens(m.content) for m in messages)
        completion_tokens = getattr(usage, "completion_tokens", None)
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

    def _error(self, exc: Exception, attempts: int) -> Exception:
        """The SDK's error (after its retries) as one of ragline's, with a one-line message."""
        import openai

        where = f"{self.base_url}/chat/completions"
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            failure = f"{status} {_brief(exc)}"
            if status == 429:
                wait = _retry_after(exc.response.headers.get("retry-after")) or 1.0
                return LLMBusy(f"{where} failed {attempts} times, giving up: {failure}", wait)
            if status in (401, 403):
                return LLMUnavailable(f"{where} refused the credentials (llm.api_key): {failure}")
            if status == 404:
                return LLMUnavailable(
                    f"{where} not found; check llm.base_url and llm.model: {failure}"
                )
            if status >= 500 or status in (408, 409):
                return LLMUnavailable(f"{where} failed {attempts} times, giving up: {failure}")
            return LLMError(f"{where} rejected the request: {failure}")
        if isinstance(exc, openai.APITimeoutError):
            return LLMUnavailable(f"{where} failed {attempts} times, giving up: timed out")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(f"{where} failed {attempts} times, giving up: cannot connect")
        return LLMError(f"{where}: {_brief(exc)}")


def _brief(exc: Exception) -> str:
    """The server's own message when it sent one, else the SDK's; one line."""
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        message = message or body.get("detail")
    text = str(message) if message else str(getattr(exc, "message", exc))
    return " ".join(text.split())[:200]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    import email.utils

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
