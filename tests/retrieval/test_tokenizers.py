"""LLM tokenizers: the approximation, and llama.cpp's when a GGUF is at hand."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragline.retrieval.errors import ConfigError
from ragline.retrieval.prompting.tokenizers import (
    ApproxTokenizer,
    LlamaCppTokenizer,
    LLMTokenizer,
    load_tokenizer,
)
from ragline.retrieval.settings import PromptSettings


def test_approx_counts_characters_and_cjk() -> None:
    tok = ApproxTokenizer(context_window=1000, chars_per_token=4.0)
    assert isinstance(tok, LLMTokenizer)
    assert tok.count("") == 0
    assert tok.count("abcd") == 1 and tok.count("abcde") == 2
    assert tok.count("中文") == 2 and tok.count("ab中文") == 3
    assert tok.context_window == 1000


def test_load_tokenizer_from_settings() -> None:
    tok = load_tokenizer(PromptSettings(chars_per_token=3.0), 8192)
    assert isinstance(tok, ApproxTokenizer) and tok.context_window == 8192
    assert tok.count("abcdef") == 2
    with pytest.raises(ConfigError, match="does not exist"):
        load_tokenizer(PromptSettings(gguf_path=Path("/nonexistent/model.gguf")), 4096)
    with pytest.raises(ConfigError, match="does not exist"):
        LlamaCppTokenizer(Path("/nonexistent/model.gguf"))


GGUF = os.environ.get("RAGLINE_TEST_GGUF")


@pytest.mark.skipif(not GGUF, reason="set RAGLINE_TEST_GGUF to a .gguf file to test llama.cpp")
def test_llama_cpp_tokenizer_counts_with_the_gguf_vocab() -> None:
    pytest.importorskip("llama_cpp")
    assert GGUF is not None
    tok = LlamaCppTokenizer(Path(GGUF), context_window=2048)
    assert tok.context_window == 2048 and tok.model_id.startswith("gguf:")
    assert tok.count("") == 0
    assert 0 < tok.count("Hello world") <= 4
    assert tok.count("Hello world " * 50) > tok.count("Hello world")
