"""Citation checking as pure functions, on hand-written sources."""

from __future__ import annotations

import numpy as np

from ragline.answer.citations import check_citations, terms
from ragline.retrieval.prompting.packing import PackedSource
from ragline.retrieval.types import Hit


def source(n: int, text: str, start: int = 0) -> tuple[PackedSource, Hit]:
    cid = f"c{n}"
    packed = PackedSource(
        number=n, doc_id=f"d{n}", source=f"/docs/f{n}.md", page=n, chunk_ids=(cid,), text=text
    )
    hit = Hit(cid, f"d{n}", text, 1.0, {"start": start, "end": start + len(text)})
    return packed, hit


def numbered(*texts: str) -> tuple[list[PackedSource], dict[str, Hit]]:
    """Sources [1], [2], … with these texts, and their hits by chunk id."""
    pairs = [source(n, text) for n, text in enumerate(texts, start=1)]
    return [p for p, _ in pairs], {h.chunk_id: h for _, h in pairs}


SOURCES = [
    source(1, "APT installs packages from Debian archives with apt install.", 10),
    source(2, "软件包由 APT 管理。用 apt install 安装软件包。", 0),
]
PACKED = [p for p, _ in SOURCES]
HITS = {h.chunk_id: h for _, h in SOURCES}


def test_invalid_numbers_are_removed_and_reported() -> None:
    checked = check_citations("Use apt install [1, 4]. Also [7].", PACKED, HITS)
    assert checked.text == "Use apt install [1]. Also."
    assert checked.removed == [4, 7]
    assert [c.number for c in checked.citations] == [1]
    assert checked.citations[0].start == 10 and checked.citations[0].page == 1


def test_unsupported_sentences_are_flagged_supported_ones_are_not() -> None:
    checked = check_citations(
        "APT installs packages from Debian archives [1]. Bananas grow on trees [1].", PACKED, HITS
    )
    assert checked.unsupported == ["Bananas grow on trees [1]."]


def test_chinese_brackets_and_support_by_character_bigrams() -> None:
    checked = check_citations("用 apt install 安装软件包【2】。", PACKED, HITS)
    assert [c.number for c in checked.citations] == [2]
    assert checked.unsupported == []
    assert {"软件", "件包"} <= terms("软件包")


def test_echoed_fence_tags_are_stripped() -> None:
    text = '<source-5ff202b1be0a7094 n="1" origin="/docs/f1.md"> APT installs packages [1]'
    assert check_citations(text, PACKED, HITS).text == "APT installs packages [1]"


def test_space_before_punctuation_that_starts_a_word_is_kept() -> None:
    # the punctuation begins a token (".venv", ".bashrc", ",foo"): the space before it stays
    text = "Run python3 -m venv .venv [1]. Then edit ~/.bashrc and source .bashrc [1]."
    assert check_citations(text, PACKED, HITS).text == text
    assert check_citations("Pass a list like x ,foo [1].", PACKED, HITS).text == (
        "Pass a list like x ,foo [1]."
    )
    assert check_citations("Run cd ../app and ./run.sh [1].", PACKED, HITS).text == (
        "Run cd ../app and ./run.sh [1]."
    )


def test_space_left_by_a_removed_citation_before_punctuation_goes() -> None:
    checked = check_citations("Use apt install [9] .", PACKED, HITS)
    assert checked.text == "Use apt install." and checked.removed == [9]
    assert check_citations("Use apt [9] , then dpkg [1] .", PACKED, HITS).text == (
        "Use apt, then dpkg [1]."
    )
    assert check_citations("(see apt install [9] .) Done [1].", PACKED, HITS).text == (
        "(see apt install.) Done [1]."
    )
    assert check_citations("Create .venv [9] .", PACKED, HITS).text == "Create .venv."
    # CJK punctuation never starts a token: the space before it goes whatever follows
    assert check_citations("用 apt install 安装 【9】。然后", PACKED, HITS).text == (
        "用 apt install 安装。然后"
    )


def test_uncited_sentences_get_the_source_holding_their_words() -> None:
    checked = check_citations(
        "APT installs packages from Debian archives. Bananas grow on trees.",
        PACKED,
        HITS,
        attribute=True,
    )
    assert checked.text == "APT installs packages from Debian archives [1]. Bananas grow on trees."
    assert checked.attributed == [1] and [c.number for c in checked.citations] == [1]


def test_a_one_term_answer_is_attributed_to_the_best_ranked_source_holding_it() -> None:
    packed, hits = numbered(
        "Downloaded packages are kept in `/var/cache/apt/archives` until cleaned.",
        "Public keys go into `~/.ssh/authorized_keys` on the remote host.",
        "Run ssh-copy-id to append your key to `~/.ssh/authorized_keys` there.",
    )
    unique = check_citations("`/var/cache/apt/archives`", packed, hits, attribute=True)
    assert unique.text == "`/var/cache/apt/archives` [1]" and unique.attributed == [1]
    # two sources hold it: the better-ranked one (the lower number) is cited
    shared = check_citations("`~/.ssh/authorized_keys`", packed, hits, attribute=True)
    assert shared.text == "`~/.ssh/authorized_keys` [2]" and shared.attributed == [2]
    # a term no source holds gets nothing
    assert not check_citations("`/etc/fstab`", packed, hits, attribute=True).attributed
    assert not check_citations("Yes.", packed, hits, attribute=True).attributed


def test_a_sentence_in_its_own_words_is_attributed_by_the_name_it_gives() -> None:
    packed, hits = numbered(
        "Keep a class A network: netmask 255.0.0.0, as in the table below.",
        "Edit /etc/default/grub and run update-grub to apply the change.",
        "Downloaded files are kept in `/var/cache/apt/archives` until cleaned.",
    )
    netmask = check_citations(
        "The private range's mask is 255.0.0.0.",
        packed,
        hits,
        attribute=True,
        question="What is the netmask of the private 10.x.x.x range?",
    )
    assert netmask.text == "The private range's mask is 255.0.0.0 [1]."
    assert netmask.attributed == [1]
    grub = check_citations(
        "编辑 /etc/default/grub 文件，去掉 quiet 参数。", packed, hits, attribute=True
    )
    assert grub.attributed == [2] and "[2]" in grub.text
    # a name the question already gives supports nothing, nor does a name no source holds
    asked = check_citations(
        "Look at /etc/default/grub first.",
        packed,
        hits,
        attribute=True,
        question="What does /etc/default/grub do?",
    )
    assert not asked.attributed
    assert not check_citations("Try /etc/fstab, e.g. now.", packed, hits, attribute=True).attributed


def test_support_by_similarity_follows_the_collections_embedder() -> None:
    """A sentence whose words are not in its source is supported only when its vector is
    close enough, and "close" depends on the model: e5-small puts unrelated texts at ~0.8."""
    from ragline.answer.citations import support_similarity
    from ragline.retrieval.embedders.e5 import E5_ID
    from ragline.retrieval.embedders.sentence import MINILM_ID

    def embed(texts: list[str]) -> np.ndarray:  # every pair at cosine 0.8
        return np.array([[1.0, 0.0], [0.8, 0.6]][: len(texts)], dtype=np.float32)

    text = "Bananas grow on trees [1]."
    for model_id, unsupported in ((MINILM_ID, []), (E5_ID, [text]), ("other/model", [])):
        checked = check_citations(
            text, PACKED, HITS, embed, min_similarity=support_similarity(model_id)
        )
        assert checked.unsupported == unsupported, model_id


# -- re-pointing a citation to the source that holds the sentence's own words ----------------
REPOINT = numbered(
    "A method is a function on some object x that you call as x.name(arguments).",
    "Functions stored in class dictionaries get turned into methods when invoked.",
    "The PyObject_CallMethod() function can be used to call an arbitrary method of an object.",
)
ASKED = "Which C function calls a method of a Python object?"


def test_a_citation_moves_to_the_source_holding_the_sentences_own_words() -> None:
    checked = check_citations(
        "The C function `PyObject_CallMethod()` calls a method of a Python object [2].",
        *REPOINT,
        attribute=True,
        question=ASKED,
    )
    assert checked.text == (
        "The C function `PyObject_CallMethod()` calls a method of a Python object [3]."
    )
    assert checked.repointed == [3] and [c.number for c in checked.citations] == [3]
    assert checked.attributed == []


def test_a_citation_whose_source_holds_the_own_words_stays() -> None:
    right = check_citations(
        "PyObject_CallMethod() calls an arbitrary method [3].",
        *REPOINT,
        attribute=True,
        question=ASKED,
    )
    assert right.text.endswith("[3].") and right.repointed == []
    # several markers: any cited source holding the words keeps them all
    both = check_citations(
        "PyObject_CallMethod() calls an arbitrary method [2, 3].",
        *REPOINT,
        attribute=True,
        question=ASKED,
    )
    assert both.repointed == [] and [c.number for c in both.citations] == [2, 3]


def test_the_questions_own_words_do_not_keep_a_wrong_citation() -> None:
    """The sentence repeats the question (method, object, call): only its new words count."""
    checked = check_citations(
        "You call a method of an object with PyObject_CallMethod() [1].",
        *REPOINT,
        attribute=True,
        question="How do I call a method of an object from C?",
    )
    assert checked.text == "You call a method of an object with PyObject_CallMethod() [3]."
    assert checked.repointed == [3]


def test_no_source_holding_the_words_leaves_the_model_citation() -> None:
    """An answer from the model's own knowledge keeps its citation (and is flagged
    unsupported by the usual check) rather than being moved at random."""
    checked = check_citations(
        "Use PyRun_SimpleString() for that [1].", *REPOINT, attribute=True, question=ASKED
    )
    assert checked.repointed == [] and checked.text.endswith("[1].")


def test_repointing_is_off_without_attribution_and_skips_code_blocks() -> None:
    text = "The C function `PyObject_CallMethod()` calls a method of a Python object [2]."
    assert check_citations(text, *REPOINT, question=ASKED).text == text
    block = "```c\nPyObject_CallMethod(obj, name) [2]\n```"
    kept = check_citations(block, *REPOINT, attribute=True, question=ASKED)
    assert kept.text == block and kept.repointed == []


def test_the_prompts_nonce_echoed_in_brackets_goes_other_brackets_stay() -> None:
    checked = check_citations(
        "APT installs packages [1] [7d80]. See [cafe].", PACKED, HITS, nonce="7d80"
    )
    assert checked.text == "APT installs packages [1]. See [cafe]."
    echoed_tag = check_citations('<source-7d80 n="1"> APT installs packages [1]', PACKED, HITS)
    assert echoed_tag.text == "APT installs packages [1]"


def test_a_cited_source_giving_the_sentences_name_keeps_the_citation() -> None:
    """Shared generic words elsewhere do not move a citation whose source gives the name."""
    packed, hits = numbered(
        "Save the rules with iptables-save and load them with iptables-restore.",
        "You can restore the previous state after a reboot so that it is kept.",
    )
    checked = check_citations(
        "You can keep the state after a reboot with `iptables-save` [1].",
        packed,
        hits,
        attribute=True,
        question="How do I keep firewall rules?",
    )
    assert checked.repointed == [] and checked.text.endswith("[1].")


def test_a_name_in_quotes_is_attributed_like_one_in_backticks() -> None:
    packed, hits = numbered(
        "Add the user to the group dialout to use serial ports.",
        "Run vimtutor for a 30-minute lesson on Vim.",
    )
    for text in ('有，叫 "vimtutor"。', "有，叫 “vimtutor”。"):
        checked = check_citations(text, packed, hits, attribute=True, question="Vim 有教程吗？")
        assert checked.attributed == [2] and "[2]" in checked.text
    # a quoted phrase no source holds gets nothing
    assert not check_citations('Say "hello world".', packed, hits, attribute=True).attributed
