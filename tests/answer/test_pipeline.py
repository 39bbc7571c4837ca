"""The answer pipeline with a recording fake LLM over a real collection and real retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragline.answer import Answer, AskRequest, Delta
from ragline.answer.build import build_answerer
from ragline.answer.settings import QuotedLanguage
from ragline.llm.fake import FakeLLM
from ragline.llm.settings import LLMSettings
from ragline.retrieval.prompting.templates import TemplateLibrary
from ragline.retrieval.retrievers import search
from ragline.retrieval.types import Message
from ragline.settings import Settings
from tests.answer.helpers import QUESTION, answerer, chinese


def test_citations_are_verified_and_offsets_point_at_the_source(env: Settings) -> None:
    llm = FakeLLM(
        ["Enable a unit with systemctl enable NAME [1]. The moon is cheese [1]. See also [9]."]
    )
    answer = answerer(env, llm, cache=False).ask(AskRequest(QUESTION, "docs"))
    assert "[9]" not in answer.text and answer.removed_citations == [9]
    assert answer.unsupported == ["The moon is cheese [1]."]
    (citation,) = answer.citations
    assert citation.number == 1 and "systemd" in citation.file_name
    assert "systemctl enable" in citation.snippet
    document = Path(citation.source).read_text()
    assert citation.start is not None and citation.end is not None
    # offsets index the document's canonical text (elements joined by blank lines)
    assert "systemctl enable" in document
    assert answer.template_id == "grounded_qa" and answer.model_id == "fake"
    assert answer.tokens["prompt"] > 0 and answer.timings_ms["total"] > 0
    sent = llm.last.messages
    assert any("systemctl enable" in m.content for m in sent), "retrieved context reached the LLM"


def test_identical_question_is_served_from_the_cache(env: Settings) -> None:
    llm = FakeLLM(default="Use systemctl enable NAME [1].")
    a = answerer(env, llm)
    first = a.ask(AskRequest(QUESTION, "docs"))
    second = a.ask(AskRequest(QUESTION + "  ", "docs"))
    assert not first.cached and second.cached and second.cache_kind == "exact"
    assert second.text == first.text and len(llm.calls) == 1
    other_tenant = a.ask(AskRequest(QUESTION, "docs", tenant="acme"))
    assert not other_tenant.cached


def test_streaming_yields_deltas_then_the_checked_answer(env: Settings) -> None:
    llm = FakeLLM(
        ["Your keys live in ~/.ssh [1] and the server reads authorized_keys at each login [1]."]
    )
    events = list(
        answerer(env, llm, cache=False).stream(AskRequest("Where do SSH keys live?", "docs"))
    )
    deltas = [e.text for e in events if isinstance(e, Delta)]
    final = events[-1]
    # the first words are held back (the output guard), then tokens flow as they come
    assert len(deltas) > 3 and "".join(deltas) == final.text  # type: ignore[union-attr]
    assert llm.last.method == "stream"


def test_chain_of_thought_and_self_consistency(env: Settings) -> None:
    llm = FakeLLM(["systemd starts units [1].\nFinal answer: systemctl enable NAME [1]"])
    cot = answerer(env, llm, cache=False).ask(AskRequest(QUESTION, "docs", mode="cot"))
    assert cot.text == "systemctl enable NAME [1]" and "systemd starts" in (cot.reasoning or "")
    votes = FakeLLM(
        [
            "Final answer: systemctl enable",
            "Final answer: apt install",
            "Final answer: systemctl enable",
        ]
    )
    sc = answerer(env, votes, cache=False).ask(
        AskRequest(QUESTION, "docs", mode="self-consistency", samples=3)
    )
    assert sc.text == "systemctl enable [1]" and sc.attributed == [1]  # the supporting source
    assert sc.votes and sc.votes["count"] == 2
    assert all(call.params.temperature > 0 for call in votes.calls)


def test_no_good_context_answers_not_found_without_the_llm(env: Settings) -> None:
    llm = FakeLLM()
    answer = answerer(env, llm, cache=False).ask(
        AskRequest("recipe for banana bread with walnuts", "docs")
    )
    assert not answer.context_found and answer.text == "Not found in the documents."
    assert llm.calls == []


def test_follow_up_is_condensed_before_retrieval(env: Settings) -> None:
    llm = FakeLLM(["How do I enable a systemd service at boot?", "Use systemctl enable [1]."])
    history = (Message("user", "What starts services?"), Message("assistant", "systemd does."))
    answer = answerer(env, llm, cache=False).ask(
        AskRequest("and how do I enable one at boot?", "docs", history=history)
    )
    assert answer.standalone_question == "How do I enable a systemd service at boot?"
    assert "systemd" in answer.citations[0].file_name
    assert "What starts services?" in llm.calls[0].messages[-1].content


def test_reingesting_a_cited_document_evicts_the_answers_built_on_it(
    env: Settings, tmp_path: Path
) -> None:
    stack = build_answerer(env, llm=FakeLLM(default="Use systemctl enable NAME [1]."))
    request = AskRequest(QUESTION, "docs")
    answer = stack.answerer.ask(request)
    assert stack.cache is not None
    cached = stack.cache.backend.count()["entries"]
    assert cached == 1
    cited = Path(answer.citations[0].source)
    cited.write_text(
        "# systemd guide\n\nA service is enabled at boot with systemctl enable --now NAME.\n"
    )
    # the public Python API: an ingestion from the stack evicts what its writes make stale
    report = stack.ingestor("docs", workers=1).run([tmp_path / "docs"])
    assert report.chunks_removed > 0
    assert stack.cache.backend.count()["entries"] == 0, "the stale answer must be gone"
    again = stack.answerer.ask(request)
    assert not again.cached and "--now" in again.citations[0].snippet
    stack.close()


def test_prompt_show_is_the_prompt_ask_sends(env: Settings) -> None:
    """The preview and the answer are built by the same code: byte for byte."""
    llm = FakeLLM(default="Use systemctl enable NAME.")
    stack = build_answerer(env, llm=llm, cache=False)
    request = AskRequest(QUESTION, "docs", k=3)
    preview = stack.answerer.prompt_for(request)
    stack.answerer.ask(request)
    assert preview is not None
    assert tuple(llm.last.messages) == preview.messages
    stack.close()


@pytest.mark.parametrize(
    ("reply", "guard"),
    [
        ("", "empty"),
        ("[1] [2]", "citations_only"),
        ("[NONCE]", "empty"),  # the fence's nonce echoed back
        (
            "Run `python -m venv DIR`, which creates the environment in DIR [1].",
            "example_copy",
        ),
        ("<the first line of the template's instructions>", "prompt_copy"),
    ],
)
def test_unusable_answers_become_extractive(env: Settings, reply: str, guard: str) -> None:
    if guard == "prompt_copy":
        reply = TemplateLibrary().get("grounded_qa", "en").system.splitlines()[0]
    # the shipped few-shot examples in the prompt (grounded_qa has none of its own)
    prompts = env.prompts.model_copy(update={"examples": "fewshot_qa.en", "examples_k": 4})
    llm = FakeLLM()
    stack = build_answerer(env.model_copy(update={"prompts": prompts}), llm=llm, cache=False)
    prompt = stack.answerer.prompt_for(AskRequest(QUESTION, "docs"))
    assert prompt is not None and len(prompt.nonce) == 4
    llm.default = reply = reply.replace("NONCE", prompt.nonce)
    answer = stack.answerer.ask(AskRequest(QUESTION, "docs"))
    assert answer.extractive and answer.guard == guard
    assert answer.text.startswith("“") and "systemctl enable" in answer.text
    assert answer.citations and answer.citations[0].number == 1
    events = list(stack.answerer.stream(AskRequest(QUESTION, "docs")))
    streamed = "".join(e.text for e in events if isinstance(e, Delta))
    final = events[-1]
    assert isinstance(final, Answer) and final.extractive
    assert reply.strip() not in streamed or not reply.strip(), "refused text was streamed"
    assert "systemctl enable" in streamed
    stack.close()


def test_uncited_answers_get_the_supporting_source_or_a_flag(env: Settings) -> None:
    supported = FakeLLM(default="Enable a unit with systemctl enable NAME so it starts at boot.")
    answer = build_answerer(env, llm=supported, cache=False).answerer.ask(
        AskRequest(QUESTION, "docs")
    )
    assert answer.attributed == [1] and answer.text.endswith("[1].")
    assert answer.citations and not answer.uncited
    unsupported = FakeLLM(default="Bananas are yellow and grow in tropical places.")
    flagged = build_answerer(env, llm=unsupported, cache=False).answerer.ask(
        AskRequest(QUESTION, "docs")
    )
    assert flagged.uncited and not flagged.citations and not flagged.extractive
    assert flagged.extractive_answer and "systemctl" in flagged.extractive_answer
    assert flagged.sources and flagged.sources[0]["number"] == 1


def test_a_model_saying_not_found_gets_the_canonical_reply(env: Settings) -> None:
    llm = FakeLLM(default="The sources do not mention how to do that.")
    answer = build_answerer(env, llm=llm, cache=False).answerer.ask(AskRequest(QUESTION, "docs"))
    assert answer.not_found and answer.text == "Not found in the documents."
    assert not answer.citations and not answer.uncited and not answer.extractive


def test_extractive_mode_quotes_the_best_source_without_the_llm(env: Settings) -> None:
    llm = FakeLLM(default="This must not be used.")
    stack = build_answerer(env, llm=llm, cache=False)
    answer = stack.answerer.ask(AskRequest(QUESTION, "docs", mode="extractive"))
    assert not llm.calls
    assert answer.extractive and answer.model_id == "extractive"
    assert "systemctl enable" in answer.text and answer.text.endswith("[1]")
    assert answer.citations and answer.citations[0].number == 1
    events = list(stack.answerer.stream(AskRequest(QUESTION, "docs", mode="extractive")))
    assert "".join(e.text for e in events if isinstance(e, Delta)) == answer.text
    stack.close()


def test_auto_mode_quotes_chinese_answers_where_the_model_is_measured_worse(
    settings: Settings, tmp_path: Path
) -> None:
    env = chinese(
        settings,
        tmp_path,
        {
            "apt.md": "# 软件包管理\n\n用 apt install 安装软件包。用 apt remove 删除软件包。\n\n"
            "用 apt update 更新软件包列表。",
            "systemd.md": "# 服务\n\n用 systemctl enable 让服务开机启动。用 systemctl start 启动服务。",
        },
    )
    llm = FakeLLM(default="用 apt install 安装 [1]。")

    def with_settings(model: str, quoted: list[QuotedLanguage] | None) -> Settings:
        return env.model_copy(
            update={
                "llm": env.llm.model_copy(update={"model": model}),
                "answer": env.answer.model_copy(update={"extractive_languages": quoted}),
            }
        )

    # the 0.5B model: Chinese questions to a Chinese collection are quoted
    stack = build_answerer(with_settings("qwen2.5-coder-0.5b", None), llm=llm, cache=False)
    quoted = stack.answerer.ask(AskRequest("怎样安装软件包？", "zh"))
    assert quoted.mode == "extractive" and quoted.extractive and not llm.calls
    assert "apt install" in quoted.text and quoted.citations
    generated = stack.answerer.ask(AskRequest("怎样安装软件包？", "zh", mode="plain"))
    assert generated.mode == "plain" and len(llm.calls) == 1
    stack.close()
    # the default model (1.5B) generates in every language
    assert LLMSettings().model == "qwen2.5-coder-1.5b"
    stack = build_answerer(with_settings(LLMSettings().model, None), llm=llm, cache=False)
    assert stack.answerer.ask(AskRequest("怎样安装软件包？", "zh")).mode == "plain"
    stack.close()
    # answer.extractive_languages wins over the model's own choice, both ways
    stack = build_answerer(with_settings("qwen2.5-coder-1.5b", ["zh"]), llm=llm, cache=False)
    assert stack.answerer.ask(AskRequest("怎样安装软件包？", "zh")).mode == "extractive"
    stack.close()
    stack = build_answerer(with_settings("qwen2.5-coder-0.5b", []), llm=llm, cache=False)
    assert stack.answerer.ask(AskRequest("怎样安装软件包？", "zh")).mode == "plain"
    stack.close()


def test_auto_mode_generates_for_english_questions(env: Settings) -> None:
    llm = FakeLLM(default="Use systemctl enable NAME [1].")
    answer = answerer(env, llm, cache=False).ask(AskRequest(QUESTION, "docs"))
    assert answer.mode == "plain" and len(llm.calls) == 1 and not answer.extractive


def test_sources_sharing_too_few_words_with_the_question_answer_not_found(env: Settings) -> None:
    # every search "finds context" (threshold 0), but no sentence speaks of bread or walnuts
    retrieval = env.retrieval.model_copy(update={"no_context_threshold": 0.0})
    env = env.model_copy(update={"retrieval": retrieval})
    question = "How do I bake bread with walnuts?"
    llm = FakeLLM(default="Use systemctl enable NAME [1].")
    answer = answerer(env, llm, cache=False).ask(AskRequest(question, "docs"))
    assert answer.not_found and answer.text == "Not found in the documents."
    assert not answer.context_found and not llm.calls
    assert answer.sources, "the sources found are still listed"
    assert answerer(env, llm, cache=False).prompt_for(AskRequest(question, "docs")) is None
    # answer.min_shared_terms en = 0: the check is off, the model answers
    off = env.answer.model_copy(update={"min_shared_terms": {"en": 0}})
    answered = answerer(env.model_copy(update={"answer": off}), llm, cache=False).ask(
        AskRequest(question, "docs")
    )
    assert not answered.not_found and len(llm.calls) == 1


def expanding(env: Settings, languages: list[QuotedLanguage]) -> Settings:
    answer = env.answer.model_copy(update={"hypothetical_languages": languages})
    return env.model_copy(update={"answer": answer})


def test_the_models_own_answer_is_searched_with_the_question(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    searched: list[str] = []

    def recording(collection: Any, query: str, *args: Any) -> Any:
        searched.append(query)
        return search(collection, query, *args)

    monkeypatch.setattr("ragline.answer.pipeline.search", recording)
    hypothesis = "Run systemctl enable NAME so that systemd starts the service at boot."
    llm = FakeLLM([f"{hypothesis}\nA second line is dropped.", "Use systemctl enable NAME [1]."])
    answer = answerer(expanding(env, ["en"]), llm, cache=False).ask(AskRequest(QUESTION, "docs"))
    first = llm.calls[0]
    assert [m.content.strip() for m in first.messages] == [
        "Answer in one short sentence.",
        QUESTION,
    ]
    assert first.params.max_new_tokens == 40 and first.params.temperature == 0.0
    assert searched == [f"{QUESTION}\n{hypothesis}"]
    assert answer.hypothetical == hypothesis and len(llm.calls) == 2
    assert answer.standalone_question == QUESTION and hypothesis not in answer.text
    assert answer.text == "Use systemctl enable NAME [1]." and "expand" in answer.timings_ms
    plain = FakeLLM(default="Use systemctl enable NAME [1].")
    without = answerer(expanding(env, []), plain, cache=False).ask(AskRequest(QUESTION, "docs"))
    assert without.hypothetical is None and len(plain.calls) == 1
    assert searched[-1] == QUESTION


def test_no_expansion_for_other_languages_or_quoted_answers(env: Settings) -> None:
    llm = FakeLLM(default="用 apt install 安装 [1]。")
    on = answerer(expanding(env, ["en"]), llm, cache=False)
    chinese = on.ask(AskRequest("如何安装软件包？", "docs"))
    assert chinese.hypothetical is None and len(llm.calls) == 1
    quoted = on.ask(AskRequest(QUESTION, "docs", mode="extractive"))
    assert quoted.hypothetical is None and len(llm.calls) == 1


def test_prompt_show_runs_the_same_expansion_as_ask(env: Settings) -> None:
    hypothesis = "Run systemctl enable NAME to start it at boot."
    llm = FakeLLM([hypothesis, "Use systemctl enable NAME [1].", hypothesis])
    stack = build_answerer(expanding(env, ["en"]), llm=llm, cache=False)
    request = AskRequest(QUESTION, "docs", k=3)
    stack.answerer.ask(request)
    sent = llm.calls[1].messages
    preview = stack.answerer.prompt_for(request)
    assert preview is not None and tuple(sent) == preview.messages
    assert len(llm.calls) == 3  # the preview asked for the hypothetical answer again
    stack.close()
