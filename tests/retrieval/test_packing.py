"""Context packing: exact budget (property-tested), whole sentences, merging, numbering."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ragline.retrieval.prompting.fencing import Fence
from ragline.retrieval.prompting.packing import pack, sentence_ends
from ragline.retrieval.prompting.tokenizers import ApproxTokenizer
from ragline.retrieval.types import Hit

COUNT = ApproxTokenizer(chars_per_token=4.0).count
FENCE = Fence("0123456789abcdef")


def hit(cid: str, doc: str, text: str, position: int = 0, **meta: object) -> Hit:
    return Hit(cid, doc, text, 1.0, {"source": f"/docs/{doc}.txt", "position": position, **meta})  # type: ignore[dict-item]


def test_everything_fits_numbered_by_rank() -> None:
    hits = [hit("b1", "b", "Second doc."), hit("a1", "a", "First doc.", page=4)]
    packed = pack(hits, 1000, COUNT, FENCE.render)
    assert [s.number for s in packed.sources] == [1, 2]
    assert [s.source for s in packed.sources] == ["/docs/b.txt", "/docs/a.txt"]
    assert packed.sources[1].page == 4
    assert packed.chunk_ids == ("b1", "a1") and packed.dropped == ()
    assert packed.tokens == COUNT(packed.text) <= 1000
    assert 'n="2" origin="a.txt" page="4"' in packed.text


def test_adjacent_chunks_of_a_document_merge_and_overlap_is_written_once() -> None:
    first = hit("a0", "a", "One two three. Four five six.", 0, start=0, end=29)
    second = hit("a1", "a", "Four five six. Seven eight.", 1, start=15, end=42)
    other = hit("b0", "b", "Elsewhere.")
    packed = pack([second, other, first], 1000, COUNT, FENCE.render)
    assert len(packed.sources) == 2
    merged = packed.sources[0]
    assert merged.chunk_ids == ("a0", "a1")
    assert merged.text == "One two three. Four five six. Seven eight."
    assert packed.sources[1].chunk_ids == ("b0",)


def test_a_chunk_bridging_two_sources_joins_them() -> None:
    hits = [hit("a0", "a", "Zero.", 0), hit("a2", "a", "Two.", 2), hit("a1", "a", "One.", 1)]
    packed = pack(hits, 1000, COUNT, FENCE.render)
    assert [s.chunk_ids for s in packed.sources] == [("a0", "a1", "a2")]


def test_over_budget_chunks_are_trimmed_at_sentence_ends_or_dropped() -> None:
    small = hit("s", "s", "Short one.")
    long = hit("l", "l", "First sentence here. " * 40)
    nosplit = hit("n", "n", "word " * 400)
    budget = COUNT(FENCE.render([])) + 90
    packed = pack([small, long, nosplit], budget, COUNT, FENCE.render)
    reasons = {d.chunk_id: d.reason for d in packed.dropped}
    assert reasons == {"l": "trimmed", "n": "over budget"}
    trimmed = packed.sources[1]
    assert trimmed.trimmed and trimmed.text.endswith("here.")
    assert packed.tokens <= budget


def test_duplicates_and_empty_chunks_are_reported() -> None:
    packed = pack(
        [hit("a", "a", "Text."), hit("a", "a", "Text."), hit("e", "e", "  ")],
        1000,
        COUNT,
        FENCE.render,
    )
    assert [(d.chunk_id, d.reason) for d in packed.dropped] == [("a", "duplicate"), ("e", "empty")]


def test_sentence_ends_cover_english_and_chinese() -> None:
    text = "Hello there. 你好。再见！Line\nnext"
    cuts = [text[:e] for e in sentence_ends(text)]
    assert cuts == [
        "Hello there.",
        "Hello there. 你好。",
        "Hello there. 你好。再见！",
        "Hello there. 你好。再见！Line\n",
    ]


sentence = st.text(alphabet="abc 中文", min_size=1, max_size=30).map(lambda s: s.strip() + ".")
chunk_text = st.lists(sentence, min_size=1, max_size=8).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(chunk_text, min_size=0, max_size=12),
    docs=st.lists(st.integers(0, 3), min_size=12, max_size=12),
    budget=st.integers(0, 400),
    cpt=st.floats(1.0, 6.0),
)
def test_packing_never_exceeds_the_budget(
    texts: list[str], docs: list[int], budget: int, cpt: float
) -> None:
    count = ApproxTokenizer(chars_per_token=cpt).count
    hits = [hit(f"c{i}", f"d{docs[i]}", t, i) for i, t in enumerate(texts)]
    packed = pack(hits, budget, count, FENCE.render)
    assert packed.tokens <= budget or not packed.sources
    assert packed.tokens == (count(packed.text) if packed.sources else 0)
    kept = set(packed.chunk_ids)
    dropped = {d.chunk_id for d in packed.dropped if d.reason != "trimmed"}
    assert kept | dropped == {h.chunk_id for h in hits} and not kept & dropped
    for source in packed.sources:  # every packed text ends at a sentence end
        assert source.text.rstrip().endswith(".")


def test_neighbours_with_a_contextual_header_merge_without_repeating_it() -> None:
    body = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota."
    header = "Guide > Install\n\n"
    first = Hit("a", "d", header + body[:36], 1.0, {"source": "/g.md", "start": 0, "end": 36})
    second = Hit(
        "b",
        "d",
        header + body[18:],
        0.9,
        {"source": "/g.md", "position": 1, "start": 18, "end": len(body)},
    )
    packed = pack([first, second], 1000, COUNT, lambda ss: "\n".join(s.text for s in ss))
    (source,) = packed.sources
    assert source.text == header + body  # the header once, the overlap once
