"""The embedded llama.cpp backend with the real Qwen2.5-Coder-0.5B GGUF (slow: tiny prompts,
a handful of tokens)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragline.llm import LLM, CancelToken, Completion, GenerationParams, LLMBusy, YesNoJudge
from ragline.llm.embedded import LlamaCppLLM
from ragline.llm.models import QWEN, SMOLLM2, resolve_model
from ragline.llm.settings import LLMSettings
from ragline.retrieval.types import Message
from tests.models import MODELS_DIR

pytestmark = pytest.mark.slow

ASK = [Message("user", "Capital of France? One word.")]
COUNT = [Message("user", "Count from 1 to 50, separated by spaces.")]


@pytest.fixture(scope="module")
def qwen() -> Iterator[LlamaCppLLM]:
    model = resolve_model(LLMSettings(model=QWEN.name), MODELS_DIR)
    assert model.path == MODELS_DIR / "models" / QWEN.filename
    llm = LlamaCppLLM(
        model.path, model.model_id, context_window=512, threads=1, max_queue=1, queue_timeout_s=60
    )
    yield llm
    llm.close()


def test_generate_stream_and_count_tokens(qwen: LlamaCppLLM) -> None:
    assert isinstance(qwen, LLM)
    params = GenerationParams(max_new_tokens=4)
    done = qwen.generate(ASK, params)
    assert "paris" in done.text.casefold()
    assert done.model_id == QWEN.model_id and done.finish_reason in ("stop", "length")
    assert 20 < done.prompt_tokens < 60  # the GGUF's chat template adds a system turn
    assert 1 <= done.completion_tokens <= 4
    assert done.time_to_first_token is not None and done.seconds >= done.time_to_first_token
    stream = qwen.stream(ASK, params)
    pieces = list(stream)
    assert stream.completion is not None
    assert "".join(pieces) == stream.completion.text == done.text  # greedy: the same answer
    assert qwen.count_tokens("Hello world") == 2
    assert qwen.count_tokens("") == 0
    assert qwen.generate(COUNT, GenerationParams(max_new_tokens=3)).finish_reason == "length"


def test_closing_a_stream_stops_llama_cpp(qwen: LlamaCppLLM) -> None:
    stream = qwen.stream(COUNT, GenerationParams(max_new_tokens=64))
    first = [next(stream), next(stream)]
    assert first
    sampled = qwen.tokens_sampled
    stream.close()
    time.sleep(0.5)
    assert qwen.tokens_sampled == sampled  # no token sampled after close
    assert not qwen.gate.busy
    # and a cancel token stops a generation between two tokens
    cancel = CancelToken()
    stream = qwen.stream(COUNT, GenerationParams(max_new_tokens=64), cancel=cancel)
    first_piece = next(stream)
    before = qwen.tokens_sampled
    cancel.cancel()
    rest = list(stream)
    assert stream.completion is not None and stream.completion.finish_reason == "cancelled"
    assert qwen.tokens_sampled - before <= 2 and len(rest) <= 2
    assert stream.completion.text.startswith(first_piece)


def test_full_queue_raises_busy(qwen: LlamaCppLLM) -> None:
    running = qwen.stream(COUNT, GenerationParams(max_new_tokens=32))
    next(running)  # holds the model
    results: list[Completion] = []
    waiter = threading.Thread(
        target=lambda: results.append(qwen.generate(ASK, GenerationParams(max_new_tokens=2)))
    )
    waiter.start()
    deadline = time.monotonic() + 10
    while qwen.gate.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(LLMBusy, match=r"1 requests already waiting \(llm.max_queue = 1\)"):
        qwen.stream(ASK, GenerationParams(max_new_tokens=2))
    with pytest.raises(LLMBusy):
        qwen.generate(ASK, GenerationParams(max_new_tokens=2))
    running.close()
    waiter.join(60)
    assert len(results) == 1 and results[0].text


def test_yes_probability_reads_the_first_token_and_keeps_the_prefix(qwen: LlamaCppLLM) -> None:
    assert isinstance(qwen, YesNoJudge)
    source = "Source: The office opens at 9 and closes at 17.\n\n"
    held = [Message("user", source + "Does the source say when the office opens? Reply yes or no.")]
    absent = [Message("user", source + "Does the source say who owns the office? Reply yes or no.")]
    told = qwen.yes_probability(held)
    assert qwen.load().n_tokens == len(qwen._prompt(held)[0])  # the KV cache holds the check
    assert 0.0 <= qwen.yes_probability(absent) < told <= 1.0
    assert told > 0.5
    # the next prompt sharing the opening evaluates only what differs, and answers as a
    # prompt evaluated from scratch does
    answer = [Message("user", source + "When does the office open? One number.")]
    params = GenerationParams(max_new_tokens=8)
    after_check = qwen.generate(answer, params).text
    qwen.load().reset()
    assert qwen.generate(answer, params).text == after_check
    assert "9" in after_check


@pytest.mark.parametrize("repack", [False, True])
def test_weights_load_in_either_layout(repack: bool, tmp_path: Path) -> None:
    model = resolve_model(LLMSettings(model=SMOLLM2.name), tmp_path)  # inside its package
    llm = LlamaCppLLM(
        model.path, model.model_id, context_window=512, threads=1, repack_weights=repack
    )
    try:
        # a prompt long enough to go through the batched matrix kernels
        done = llm.generate(
            [Message("user", "Debian keeps its packages in signed archives. " * 12 + "Say OK.")],
            GenerationParams(max_new_tokens=4),
        )
        assert done.prompt_tokens > 100 and 1 <= done.completion_tokens <= 4
        assert llm.weights_repacked is repack
    finally:
        llm.close()
