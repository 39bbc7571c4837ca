"""Counting prompt tokens the way the target LLM does.

``LLMTokenizer`` is all the prompt builder needs: ``count(text)`` and the model's
``context_window``. Two implementations: an approximation for remote models whose tokenizer
is not at hand (characters per token, each CJK character one token), and llama.cpp's own
tokenizer read from a GGUF file (vocabulary only, no weights).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ragline.retrieval.errors import BackendUnavailable, ConfigError
from ragline.retrieval.settings import PromptSettings

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@runtime_checkable
class LLMTokenizer(Protocol):
    model_id: str
    context_window: int

    def count(self, text: str) -> int: ...


class ApproxTokenizer:
    """``ceil(non-CJK characters / chars_per_token) + CJK characters``: a cautious estimate
    for models served elsewhere (OpenAI-compatible servers) when their tokenizer is unknown."""

    def __init__(self, context_window: int = 4096, chars_per_token: float = 3.5) -> None:
        if chars_per_token <= 0:
            raise ConfigError("chars_per_token must be positive")
        self.context_window = context_window
        self.chars_per_token = chars_per_token
        self.model_id = f"approx:{chars_per_token:g}"

    def count(self, text: str) -> int:
        if not text:
            return 0
        cjk = len(_CJK.findall(text))
        return math.ceil((len(text) - cjk) / self.chars_per_token) + cjk


class LlamaCppTokenizer:
    """The tokenizer inside a GGUF file, through llama-cpp-python (``vocab_only=True``)."""

    def __init__(self, model_path: Path, context_window: int | None = None) -> None:
        if not model_path.is_file():
            raise ConfigError(f"GGUF file {model_path} does not exist")
        try:
            import llama_cpp
        except ImportError as exc:
            raise BackendUnavailable(
                "counting tokens with a GGUF needs llama-cpp-python: pip install llama-cpp-python"
            ) from exc
        self._llm: Any = llama_cpp.Llama(model_path=str(model_path), vocab_only=True, verbose=False)
        self.model_id = f"gguf:{model_path.name}"
        self.context_window = context_window or self._trained_context() or 4096

    def _trained_context(self) -> int | None:
        try:
            value = int(self._llm.n_ctx_train())
        except Exception:  # vocab-only models may not expose it
            metadata: dict[str, str] = getattr(self._llm, "metadata", {}) or {}
            found = [v for k, v in metadata.items() if k.endswith(".context_length")]
            value = int(found[0]) if found else 0
        return value if value > 0 else None

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def load_tokenizer(settings: PromptSettings, context_window: int) -> LLMTokenizer:
    """How to count the tokens of a model served elsewhere: the tokenizer of the GGUF file
    ``prompts.gguf_path`` when set, else the estimate (``prompts.chars_per_token``)."""
    if settings.gguf_path is not None:
        return LlamaCppTokenizer(settings.gguf_path, context_window)
    return ApproxTokenizer(context_window, settings.chars_per_token)
