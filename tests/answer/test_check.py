"""The optional answerable check: the model asked, before it answers, whether the sources
hold the answer (``answer.answerable_threshold``), with a recording fake LLM."""

from __future__ import annotations

from pathlib import Path

from ragline.answer import Answer, AskRequest, Delta
from ragline.answer.build import build_answerer
from ragline.answer.request import cache_namespace
from ragline.llm.fake import FakeLLM
from ragline.retrieval.prompting.templates import TemplateLibrary
from ragline.settings import Settings
from tests.answer.helpers import QUESTION, answerer, chinese


def checking(env: Settings, threshold: float) -> Settings:
    answer = env.answer.model_copy(update={"answerable_threshold": threshold})
    return env.model_copy(update={"answer": answer})


def test_the_model_can_be_asked_whether_the_sources_hold_the_answer(env: Settings) -> None:
    check = TemplateLibrary().get("grounded_qa", "en").constants["answerable_check"]
    request = AskRequest(QUESTION, "docs")
    # off by default: nothing asked, even of a model that would say "no"
    llm = FakeLLM(default="Use systemctl enable NAME [1].", yes=0.0)
    answer = answerer(env, llm, cache=False).ask(request)
    assert not answer.not_found and answer.answerable_probability is None
    assert not llm.checks and len(llm.calls) == 1
    # answer.answerable_threshold 0.6: "no" → "not found"
    llm = FakeLLM(default="Use systemctl enable NAME [1].", yes=0.3)
    stack = build_answerer(checking(env, 0.6), llm=llm, cache=False)
    refused = stack.answerer.ask(request)
    assert refused.not_found and refused.text == "Not found in the documents."
    assert refused.answerable_probability == 0.3 and refused.context_found
    assert refused.sources, "the sources found are still listed"
    assert not llm.calls, "the model was not asked to answer"
    # the check is the answer's own prompt with the question added to the user message, so
    # the answer that follows reuses everything the check evaluated
    (asked,) = llm.checks
    prompt = stack.answerer.prompt_for(request)
    assert prompt is not None
    assert asked[:-1] == prompt.messages[:-1]
    assert asked[-1].content == f"{prompt.messages[-1].content}\n\n{check}"
    # streamed, the reply is the same
    events = list(stack.answerer.stream(request))
    assert isinstance(events[-1], Answer) and events[-1].not_found
    assert "".join(e.text for e in events if isinstance(e, Delta)) == refused.text
    # at the threshold the model answers, and the probability is kept with the answer
    llm.yes = 0.6
    answered = stack.answerer.ask(request)
    assert not answered.not_found and answered.answerable_probability == 0.6
    assert len(llm.calls) == 1 and answered.citations
    stack.close()
    # answers cached without the check are not served with it, and the reverse
    with build_answerer(env, llm=llm, cache=False) as stack:
        collection, params = stack.collections.get("docs"), stack.answerer.params

        def namespace(settings: Settings) -> str:
            return cache_namespace(settings, request, collection, params, "fake", "p").digest

        assert namespace(env) != namespace(checking(env, 0.6)) != namespace(checking(env, 0.7))


def test_no_answerable_check_without_its_template_constant(
    settings: Settings, tmp_path: Path
) -> None:
    env = chinese(settings, tmp_path, {"apt.md": "# 软件包\n\n用 apt install 安装软件包。"})
    llm = FakeLLM(default="用 apt install 安装 [1]。", yes=0.0)
    stack = build_answerer(checking(env, 0.6), llm=llm, cache=False)
    answer = stack.answerer.ask(AskRequest("怎样安装软件包？", "zh"))
    assert not answer.not_found and not llm.checks, "the Chinese template has no check"
    # and extractive answers never ask the model anything
    quoted = stack.answerer.ask(AskRequest("怎样安装软件包？", "zh", mode="extractive"))
    assert quoted.extractive and not llm.checks
    stack.close()
