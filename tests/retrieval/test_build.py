"""The built Prompt: a value inside the context window, with its record."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragline.retrieval.errors import PromptError
from ragline.retrieval.prompting.build import PromptBuilder
from ragline.retrieval.prompting.fewshot import ExampleSelector, find_examples, load_examples
from ragline.retrieval.prompting.templates import TemplateLibrary, default_prompts_dir
from ragline.retrieval.prompting.tokenizers import ApproxTokenizer
from ragline.retrieval.settings import PromptSettings
from ragline.retrieval.types import Hit, Message
from tests.retrieval.fakes import Synonyms


def hits(n: int, words: int = 60) -> list[Hit]:
    text = " ".join(f"Sentence {j} about topic." for j in range(words // 4))
    return [
        Hit(f"c{i}", f"d{i}", text, 1.0 - i / 100, {"source": f"/d/{i}.txt", "position": 0})
        for i in range(n)
    ]


def fewshot() -> ExampleSelector:
    """The shipped few-shot examples (grounded_qa itself ships none), in file order."""
    path = find_examples(default_prompts_dir(), "fewshot_qa.en")
    return ExampleSelector(load_examples(path), mode="fixed")


def test_prompt_is_a_value_with_its_record() -> None:
    builder = PromptBuilder(ApproxTokenizer(4096), answer_tokens=512, selector=fewshot())
    prompt = builder.build("What topic?", hits(3), nonce="ab" * 8)
    assert [m.role for m in prompt.messages] == ["system", "user"]
    assert isinstance(prompt.messages[0], Message)
    shipped = TemplateLibrary().get("grounded_qa", "en")
    assert prompt.template_id == "grounded_qa" and prompt.template_version == shipped.version
    assert prompt.chunk_ids == ("c1", "c2", "c0") or set(prompt.chunk_ids) == {"c0", "c1", "c2"}
    assert [s.number for s in prompt.sources] == [1, 2, 3]
    t = prompt.tokens
    assert t.prompt + t.answer_reserved <= t.context_window == 4096
    assert t.context > 0 and t.examples > 0 and t.system > 0
    assert prompt.to_dict()["tokens"]["prompt"] == t.prompt
    again = builder.build("What topic?", hits(3), nonce="cd" * 8)
    assert again.key_parts() == prompt.key_parts()  # the nonce is not part of the identity


@settings(max_examples=25, deadline=None)
@given(window=st.integers(700, 3000), answer=st.integers(1, 400), n=st.integers(0, 12))
def test_prompt_plus_answer_never_exceeds_the_window(window: int, answer: int, n: int) -> None:
    tokenizer = ApproxTokenizer(window, chars_per_token=3.0)
    builder = PromptBuilder(tokenizer, answer_tokens=answer, auto_examples=True)
    try:
        prompt = builder.build("Which topic is discussed?", hits(n))
    except PromptError:
        return  # the window cannot hold even the bare template: refused, never overrun
    total = sum(tokenizer.count(m.content) + builder.message_overhead for m in prompt.messages)
    assert total == prompt.tokens.prompt
    assert total + answer <= window
    assert (
        len(prompt.chunk_ids) + len({d.chunk_id for d in prompt.dropped if d.reason != "trimmed"})
        == n
    )


def test_examples_are_dropped_before_the_question_is_refused() -> None:
    roomy = PromptBuilder(
        ApproxTokenizer(4096), answer_tokens=100, selector=fewshot(), examples_k=3
    )
    assert len(roomy.build("q?", []).example_ids) == 3
    base = roomy.build("q?", []).tokens.prompt - roomy.build("q?", []).tokens.examples
    tight = PromptBuilder(
        ApproxTokenizer(base + 100 + 5), answer_tokens=100, selector=fewshot(), examples_k=3
    )
    assert tight.build("q?", []).example_ids == ()
    with pytest.raises(PromptError, match="context window"):
        PromptBuilder(ApproxTokenizer(300), answer_tokens=200).build("q?", [])


def test_no_context_uses_its_template_and_sends_no_chunks() -> None:
    builder = PromptBuilder(ApproxTokenizer(4096))
    prompt = builder.build("q?", hits(2), context_found=False, policy="not_found", language="zh")
    assert prompt.template_id == "no_context" and prompt.language == "zh"
    assert prompt.chunk_ids == () and not prompt.context_found and prompt.policy == "not_found"
    assert prompt.constants["not_found"] == "文档中没有找到相关内容。"


def test_condense_question_drops_the_oldest_turns_when_too_long() -> None:
    builder = PromptBuilder(ApproxTokenizer(700), answer_tokens=100)
    history = [
        Message("user", "old " * 700),
        Message("assistant", "About FAISS."),
        Message("user", "And it?"),
    ]
    prompt = builder.condense("Does it run on GPU?", history)
    user = prompt.messages[1].content
    assert prompt.template_id == "condense_question"
    assert "About FAISS." in user and "old old" not in user
    assert prompt.tokens.prompt + 100 <= 700


def test_from_settings_and_cot_metadata() -> None:
    tokenizer = ApproxTokenizer(2048)
    builder = PromptBuilder.from_settings(PromptSettings(examples="none"), tokenizer=tokenizer)
    prompt = builder.build("q?", hits(1), template="cot_qa")
    assert prompt.output_format == "cot" and prompt.answer_prefix == "Final answer:"
    assert prompt.example_ids == () and prompt.tokens.context_window == 2048
    fixed = PromptBuilder.from_settings(
        PromptSettings(examples="cot_qa.en", examples_k=1), tokenizer=tokenizer
    )
    assert fixed.build("q?", [], template="cot_qa").example_ids == ("timeout-default",)


def test_the_best_source_is_focused_by_meaning_the_others_by_shared_words() -> None:
    text = (
        "Files can be copied with the copy command of the file manager. "
        "Erase a file with rm. "
        "The manager shows files of a file system. " * 3
    )
    found = [
        Hit(f"c{i}", f"d{i}", text, 1.0 - i / 10, {"source": f"/d/{i}.txt", "position": 0})
        for i in range(2)
    ]

    def sources(focus_by_meaning: int) -> list[str]:
        builder = PromptBuilder(
            ApproxTokenizer(4096, chars_per_token=1.0),
            embedder=Synonyms(),
            source_tokens=len("Erase a file with rm.") + 2,
            focus_by_meaning=focus_by_meaning,
        )
        prompt = builder.build("How do I delete files?", found)
        return [s.text for s in sorted(prompt.sources, key=lambda s: s.number)]

    first, second = sources(1)
    assert "Erase a file with rm." in first and "Erase" not in second
    assert all("Erase" not in s for s in sources(0))
