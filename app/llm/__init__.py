"""Language models behind one small protocol: embedded llama.cpp, OpenAI-compatible servers,
and a recording fake for tests. ``load_llm(settings)`` picks one by name; importing this
package loads no model library."""

from ragline.llm.errors import InvalidGenerationParams, LLMBusy, LLMError, LLMUnavailable
from ragline.llm.registry import BACKENDS, load_llm
from ragline.llm.types import (
    LLM,
    CancelToken,
    Completion,
    GenerationParams,
    LLMTokenizer,
    TokenStream,
    YesNoJudge,
    collect,
)

__all__ = [
    "BACKENDS",
    "LLM",
    "CancelToken",
    "Completion",
    "GenerationParams",
    "InvalidGenerationParams",
    "LLMBusy",
    "LLMError",
    "LLMTokenizer",
    "LLMUnavailable",
    "TokenStream",
    "YesNoJudge",
    "collect",
    "load_llm",
]
