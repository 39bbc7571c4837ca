"""Chain-of-thought answer extraction and the self-consistency vote."""

from __future__ import annotations

from ragline.retrieval.prompting.answers import (
    extract_final_answer,
    majority_vote,
    normalise_answer,
    self_consistency,
)


def test_extracts_the_last_final_answer_line() -> None:
    text = "Reasoning: [1] says 30000 ms.\nFinal answer: 10\nWait, recheck.\n**Final Answer:** 30 s [1]"
    assert extract_final_answer(text) == "30 s [1]"
    assert extract_final_answer("推理……\n最终答案：四个 [1]") == "四个 [1]"
    assert extract_final_answer("no answer line here") is None
    assert extract_final_answer("Final answer:   ") is None
    assert extract_final_answer("ANSWER: x", prefixes=("answer:",)) == "x"


def test_normalisation() -> None:
    assert normalise_answer("  Thirty   Seconds. ") == "thirty seconds"
    assert normalise_answer("４个。") == "4个"


def test_majority_vote_counts_normalised_answers() -> None:
    vote = majority_vote(["30 s", "30 S.", "10 s", None, "30 s"])
    assert vote.answer == "30 s" and vote.count == 3 and vote.total == 5
    assert vote.tally == (("30 s", 3), ("10 s", 1))
    assert vote.agreement == 0.6


def test_ties_go_to_the_first_seen_answer() -> None:
    assert majority_vote(["b", "a", "a", "b"]).answer == "b"
    assert majority_vote(["a", "b"]).answer == "a"


def test_no_answers() -> None:
    vote = majority_vote([None, " "])
    assert vote.answer is None and vote.count == 0 and vote.agreement == 0.0


def test_self_consistency_end_to_end() -> None:
    samples = [
        "x\nFinal answer: Paris",
        "y\nFinal answer: paris.",
        "z\nFinal answer: Lyon",
        "no final line",
    ]
    vote = self_consistency(samples)
    assert vote.answer == "Paris" and vote.count == 2 and vote.total == 4
