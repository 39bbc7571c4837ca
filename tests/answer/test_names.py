"""Names a question gives that the collection never mentions: "not found", naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.answer import AskRequest
from ragline.llm.fake import FakeLLM
from ragline.retrieval.keyword import KeywordIndex
from ragline.retrieval.keyword.names import english_word, question_names, unknown_names
from ragline.retrieval.types import Chunk
from ragline.settings import Settings
from tests.answer.helpers import answerer


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("How do I define a Flask route that takes a URL parameter?", ["Flask", "URL"]),
        ("How do I move a PyTorch tensor onto the GPU?", ["PyTorch", "GPU"]),
        ("What goes in the [build-system] table of pyproject.toml?", ["pyproject.toml"]),
        ("How do I pass variables into a Jinja2 template?", ["Jinja2"]),
        ("How do I handle an ExceptionGroup with except*?", ["ExceptionGroup", "except*"]),
        # lower-case words that are not English words; ordinary words never count
        ("How do I enable zram compressed swap?", ["zram"]),
        ("Which command can generate a salted password hash?", []),
        # web text writes these as often as ordinary words; no dictionary has them
        ("How do I serve static files with nginx?", ["nginx"]),
        ("How do I label the axes of a matplotlib plot?", ["matplotlib"]),
        # rare, but in the dictionary ("chomp"), or common though no dictionary has it
        ("What is the Python equivalent of Perl's chomp?", ["Python", "Perl"]),
        ("How do I list the usernames on my laptop?", []),
        # a sentence's first word and possessives are not names by their capital
        ("Which module keeps Python's console history? Tell me.", ["Python"]),
        ("Is `frobnicate` a command?", ["frobnicate"]),
        # every Latin-script word of a question in another script
        ("怎样配置 Redis 的 AOF 持久化？", ["Redis", "AOF"]),
        ("怎样安装 Prometheus 的 node exporter？", ["Prometheus", "node", "exporter"]),
    ],
)
def test_question_names(question: str, names: list[str]) -> None:
    assert list(question_names(question)) == names


def test_a_question_in_another_latin_language_is_not_judged_by_the_english_word_list() -> None:
    assert not english_word("paquetage")
    assert question_names("Comment installer un paquetage?") == ()


@pytest.fixture
def index(tmp_path: Path) -> KeywordIndex:
    texts = {
        "systemd": "systemd starts services at boot. Enable a unit with systemctl enable NAME.",
        "network": "The hostname is set in /etc/hostname. Redis is not covered here.",
    }
    index = KeywordIndex(tmp_path / "keyword")
    index.upsert([Chunk(name, name, text, 0, {}) for name, text in texts.items()])
    return index


def test_a_name_is_mentioned_when_every_token_of_it_is_indexed(index: KeywordIndex) -> None:
    assert index.mentions("systemctl") and index.mentions("Hostnames"), "stemmed as documents"
    assert index.mentions("/etc/hostname") and index.mentions("the")
    assert not index.mentions("Flask") and not index.mentions("systemctl-flask")


def test_unknown_names_by_question_and_collection_language(index: KeywordIndex) -> None:
    assert unknown_names("How do I run Flask under systemd?", index.mentions, "en") == ["Flask"]
    assert unknown_names("How do I set the hostname?", index.mentions, "en") == []
    # a Chinese question's Latin names count against any collection
    assert unknown_names("怎样用 Flask 配置 Redis？", index.mentions, "en") == ["Flask"]
    # an English question to a Chinese collection: its words may be there in translation
    assert unknown_names("How do I run Flask?", index.mentions, "zh") == []


def test_a_question_naming_what_the_collection_never_mentions_is_not_found(
    env: Settings,
) -> None:
    llm = FakeLLM(default="Use systemctl enable NAME [1].")
    question = "How do I enable a Flask service at boot?"
    answer = answerer(env, llm, cache=False).ask(AskRequest(question, "docs"))
    assert answer.not_found and not llm.calls
    assert answer.text == "Not found in the documents: they do not mention Flask."
    assert answer.unknown_names == ["Flask"] and answer.sources, "the sources are still listed"
    assert answerer(env, llm, cache=False).prompt_for(AskRequest(question, "docs")) is None
    # answer.unknown_names off: the model answers
    off = env.answer.model_copy(update={"unknown_names": False})
    answered = answerer(env.model_copy(update={"answer": off}), llm, cache=False).ask(
        AskRequest(question, "docs")
    )
    assert not answered.not_found and answered.unknown_names == [] and len(llm.calls) == 1


def test_a_closed_compound_is_mentioned_when_a_chunk_writes_it_apart(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "keyword")
    text = "Class A networks use the net mask 255.0.0.0; a subnet mask splits them. Key-ring."
    index.upsert([Chunk("c", "d", text, 0, {})])
    assert index.mentions("netmask") and index.mentions("Netmask")
    assert index.mentions("keyring"), "hyphenated"
    assert not index.mentions("masknet"), "both words are there, never in that order"
    assert not index.mentions("classnet") and not index.mentions("subnetmasks")
