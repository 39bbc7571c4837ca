"""The extractive answer and the lexical support check, on hand-made sources."""

from __future__ import annotations

from ragline.answer.guard import extractive_answer, support
from ragline.retrieval.prompting.packing import PackedSource


def source(number: int, text: str) -> PackedSource:
    return PackedSource(number, f"doc{number}", f"doc{number}.md", None, (f"c{number}",), text)


def test_the_best_sentence_may_come_from_a_lower_ranked_source() -> None:
    sources = [
        source(1, "Packages are managed by APT. The archive has many packages."),
        source(2, "Purge a package with apt purge NAME to remove its configuration files."),
    ]
    question = "How do I purge a package and its configuration files?"
    best = extractive_answer(question, sources, count=1)
    assert best is not None and best.sources == (2,)
    assert (
        best.text == "“Purge a package with apt purge NAME to remove its configuration files.” [2]"
    )


def test_quotes_from_two_sources_cite_each() -> None:
    sources = [
        source(1, "Install a package with apt install NAME. Nothing else here."),
        source(2, "Remove a package with apt remove NAME. Unrelated words follow."),
    ]
    extract = extractive_answer("install or remove a package with apt", sources)
    assert extract is not None and extract.sources == (1, 2)
    assert extract.text.startswith("“Install a package") and extract.text.endswith("[2]")
    assert "” [1] “" in extract.text


def test_a_tie_goes_to_the_higher_ranked_source_and_chinese_uses_corner_quotes() -> None:
    sources = [source(1, "用 apt install 安装软件包。"), source(2, "用 apt install 安装软件包。")]
    extract = extractive_answer("怎样安装软件包", sources, "zh", count=1)
    assert extract is not None and extract.text == "「用 apt install 安装软件包。」[1]"


def test_no_text_no_extract() -> None:
    assert extractive_answer("anything", []) is None
    assert extractive_answer("anything", [source(1, "   ")]) is None


def test_support_counts_the_words_the_best_source_shares() -> None:
    sources = [
        source(1, "Timers run units. Journal logs are rotated by journald settings."),
        source(2, "Timers fire on a calendar."),
    ]
    best, wanted = support("How are journal logs of timers rotated?", sources)
    assert wanted == 4 and best == 4  # journal, log, rotat and timer, across two sentences
    assert support("unrelated bananas", sources) == (0, 2)
    assert support("calendar timers", sources[1:]) == (2, 2)
