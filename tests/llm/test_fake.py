"""The recording fake LLM that unit tests of the answer pipeline use."""

from __future__ import annotations

from ragline.llm import LLM, CancelToken, GenerationParams, load_llm
from ragline.llm.fake import FakeLLM
from ragline.retrieval.types import Message
from ragline.settings import Settings

ASK = [Message("system", "Be brief."), Message("user", "Say hello")]


def test_records_calls_and_plays_scripted_replies() -> None:
    llm = FakeLLM(["first answer", lambda msgs, params: f"echo: {msgs[-1].content}"])
    assert isinstance(llm, LLM)
    params = GenerationParams(max_new_tokens=50)
    assert llm.generate(ASK, params).text == "first answer"
    assert "".join(llm.stream(ASK, params)) == "echo: Say hello"
    assert llm.generate(ASK, params).text == "This is a fake answer."
    assert [c.method for c in llm.calls] == ["generate", "stream", "generate"]
    assert llm.last.messages == tuple(ASK) and llm.last.params is params


def test_streams_word_by_word_with_stats() -> None:
    llm = FakeLLM(["one two  three"])
    stream = llm.stream(ASK, GenerationParams())
    assert list(stream) == ["one", " two", "  three"]
    assert stream.completion is not None
    assert stream.completion.text == "one two  three"
    assert stream.completion.completion_tokens == 3
    assert stream.completion.prompt_tokens == 4
    assert stream.completion.finish_reason == "stop"
    assert stream.completion.time_to_first_token is not None


def test_max_tokens_stop_and_cancel() -> None:
    llm = FakeLLM(default="a b c d e f")
    cut = llm.generate(ASK, GenerationParams(max_new_tokens=2))
    assert (cut.text, cut.finish_reason) == ("a b", "length")
    assert llm.generate(ASK, GenerationParams(stop=(" d",))).text == "a b c"
    cancel = CancelToken()
    stream = llm.stream(ASK, GenerationParams(), cancel=cancel)
    assert next(stream) == "a"
    cancel.cancel()
    assert list(stream) == []
    assert stream.completion is not None and stream.completion.finish_reason == "cancelled"


def test_registry_builds_the_fake(settings: Settings) -> None:
    llm = load_llm(
        settings.model_copy(update={"llm": settings.llm.model_copy(update={"backend": "fake"})})
    )
    assert isinstance(llm, FakeLLM)
