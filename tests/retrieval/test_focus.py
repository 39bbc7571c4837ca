"""Focused sources: the sentences of a chunk that matter to the question, laid out as the
source had them (list items and code lines on their own lines)."""

from __future__ import annotations

from ragline.retrieval.prompting.focus import (
    GAP,
    by_meaning,
    focus,
    sentences,
    shared_words,
    terms,
)
from tests.retrieval.fakes import Synonyms

APT = (
    "使用 apt 管理软件包\n\n"
    "更新软件包档案库元数据：`apt update`\n\n"
    "安装 foo 软件包及其依赖：`apt install foo`\n\n"
    "移除 foo 软件包，但保留配置文件：`apt remove foo`\n\n"
    "清除 foo 软件包及其配置文件：`apt purge foo`\n\n"
    "显示 foo 软件包的详细信息：`apt show foo`"
)
FILES = (
    "Working with files. To copy a file, use `shutil.copyfile(src, dst)`. The function does "
    "not copy metadata. To delete a file, use `os.remove(path)`. To remove an empty directory, "
    "use `os.rmdir()`. To delete an entire directory tree and its contents, use "
    "`shutil.rmtree()`."
)


def characters(text: str) -> int:
    return len(text)


def test_short_text_is_returned_whole() -> None:
    assert focus(APT, "清除软件包", 10_000, characters) == APT


def test_the_best_matching_sentence_is_kept_with_its_neighbours_within_budget() -> None:
    out = focus(FILES, "How do I delete a directory tree with its contents?", 120, characters)
    assert "`shutil.rmtree()`" in out
    assert len(out) <= 120 + len(GAP)
    assert "copyfile" not in out  # far from the answer and not about the question


def test_list_items_stay_on_their_own_lines() -> None:
    out = focus(APT, "怎样清除软件包及其配置文件？", 60, characters)
    lines = out.split("\n")
    assert "清除 foo 软件包及其配置文件：`apt purge foo`" in lines
    # neighbours are whole items, never glued to the answer's line
    assert all(line.count("`") <= 2 for line in lines)


def test_left_out_text_is_marked_and_the_opening_line_kept() -> None:
    out = focus(APT, "怎样显示软件包的详细信息？", 60, characters)
    assert out.startswith("使用 apt 管理软件包")
    assert "…" in out
    assert out.rstrip().endswith("`apt show foo`")


def test_sentences_split_at_western_and_cjk_stops_and_line_breaks() -> None:
    assert sentences("One. Two! 三。四\nfive") == ["One.", "Two!", "三。", "四", "five"]
    assert sentences("Version 3.14 is e.g. fine.") == ["Version 3.14 is e.g. fine."]


def test_terms_are_stemmed_content_words_and_cjk_bigrams() -> None:
    assert terms("How do I delete directories?") == {"delet", "directori"}
    assert terms("配置文件") == {"配置", "置文", "文件"}


def test_the_line_after_the_best_match_comes_before_other_matching_sentences() -> None:
    # the answer (a command) shares no word with the question; it follows the line that does
    text = (
        "To see the details of a package, run:\n"
        "`dpkg --status foo` in a terminal.\n"
        "It prints one field per line.\n"
        "Package details."
    )
    question = "How do I see the details of a package?"
    budget = (
        len("To see the details of a package, run:") + len("`dpkg --status foo` in a terminal.") + 1
    )
    out = focus(text, question, budget, characters)
    assert out.split("\n") == [
        "To see the details of a package, run:",
        "`dpkg --status foo` in a terminal.",
    ]


def test_by_meaning_finds_the_sentence_that_shares_no_word_with_the_question() -> None:
    text = (
        "Files can be copied with the copy command of the file manager. "
        "Erase a file with rm. "
        "The manager shows files of a file system."
    )
    question = "How do I delete files?"
    budget = len("Erase a file with rm.")
    assert shared_words(question, sentences(text)) == [1.0, 1.0, 1.0]
    assert focus(text, question, budget, characters, by_meaning(Synonyms())) == (
        "Erase a file with rm."
    )
    assert focus(text, question, budget, characters) != "Erase a file with rm."
