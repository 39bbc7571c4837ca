"""LLM backends by name; each imports its libraries only when chosen."""

from __future__ import annotations

from collections.abc import Callable

from ragline.llm.settings import LLMConfig
from ragline.llm.types import LLM
from ragline.retrieval.errors import ConfigError


def _llama_cpp(settings: LLMConfig) -> LLM:
    from ragline.llm.embedded import LlamaCppLLM
    from ragline.llm.llama_cpu import converted_id, weights_for
    from ragline.llm.models import resolve_model

    llm = settings.llm
    model = resolve_model(llm, settings.data_dir)
    weights = weights_for(llm.weights_type, bundled=llm.model_path is None)
    return LlamaCppLLM(
        model.path,
        converted_id(model.model_id, weights),
        weights=weights,
        converted_dir=settings.data_dir / "models",
        context_window=llm.context_window,
        threads=llm.threads,
        gpu_layers=llm.gpu_layers,
        batch_size=llm.batch_size,
        repack_weights=llm.repack_weights,
        max_queue=llm.max_queue,
        queue_timeout_s=llm.queue_timeout_s,
        reuse_prefix=llm.reuse_prefix,
    )


def _openai(settings: LLMConfig) -> LLM:
    from ragline.llm.openai_http import OpenAICompatibleLLM

    llm = settings.llm
    from ragline.retrieval.prompting.tokenizers import load_tokenizer

    count = load_tokenizer(settings.prompts, llm.context_window).count
    return OpenAICompatibleLLM(
        llm.base_url,
        llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        context_window=llm.context_window,
        count_tokens=count,
        connect_timeout_s=llm.connect_timeout_s,
        timeout_s=llm.timeout_s,
        max_retries=llm.max_retries,
    )


def _fake(settings: LLMConfig) -> LLM:
    from ragline.llm.fake import FakeLLM

    return FakeLLM(context_window=settings.llm.context_window)


BACKENDS: dict[str, Callable[[LLMConfig], LLM]] = {
    "llama-cpp": _llama_cpp,
    "openai": _openai,
    "fake": _fake,
}


def load_llm(settings: LLMConfig) -> LLM:
    """The LLM ``settings.llm.backend`` names (the embedded model is loaded on first use)."""
    factory = BACKENDS.get(settings.llm.backend)
    if factory is None:
        raise ConfigError(
            f"unknown llm.backend {settings.llm.backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    return factory(settings)
