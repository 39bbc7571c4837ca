"""Reading answers back: the final line of a chain-of-thought answer, and self-consistency.

Chain-of-thought templates ask for reasoning followed by one line that starts with the
template's ``answer_prefix`` ("Final answer:"). Self-consistency samples ``n`` such answers
and keeps the most frequent final answer (compared after normalisation); a tie goes to the
answer that appeared first, so the vote is deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_PREFIXES = ("Final answer:", "最终答案：", "最终答案:")
_MARKUP = re.compile(r"^[\s*_#>`]+|[\s*_`]+$")
_TRAILING = re.compile(r"[\s.。!！]+$")


def extract_final_answer(text: str, prefixes: Sequence[str] = DEFAULT_PREFIXES) -> str | None:
    """The text after the last line starting with one of ``prefixes`` (case-insensitive;
    Markdown emphasis around the prefix is ignored), or None when there is no such line."""
    wanted = [unicodedata.normalize("NFKC", p).casefold() for p in prefixes]
    for line in reversed(text.splitlines()):
        bare = _MARKUP.sub("", line)
        folded = unicodedata.normalize("NFKC", bare).casefold()
        for prefix in wanted:
            if folded.startswith(prefix):
                answer = _MARKUP.sub("", bare[len(prefix) :])
                return answer.strip() or None
    return None


def normalise_answer(answer: str) -> str:
    """Comparable form: NFKC, case-folded, single spaces, no trailing full stop."""
    folded = " ".join(unicodedata.normalize("NFKC", answer).casefold().split())
    return _TRAILING.sub("", folded)


@dataclass(frozen=True)
class Vote:
    answer: str | None
    """The winning answer as first written, or None when no sample had a final answer."""
    count: int
    total: int
    tally: tuple[tuple[str, int], ...]
    """(normalised answer, votes), most votes first, ties in order of first appearance."""

    @property
    def agreement(self) -> float:
        return self.count / self.total if self.total else 0.0


def majority_vote(answers: Sequence[str | None]) -> Vote:
    """Majority over extracted answers; samples without a final answer do not vote."""
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for answer in answers:
        if answer is None or not answer.strip():
            continue
        key = normalise_answer(answer)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, answer.strip())
    order = list(counts)  # insertion order = first appearance
    tally = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], order.index(kv[0]))))
    if not tally:
        return Vote(None, 0, len(answers), ())
    winner, count = tally[0]
    return Vote(first[winner], count, len(answers), tally)


def self_consistency(
    completions: Sequence[str], prefixes: Sequence[str] = DEFAULT_PREFIXES
) -> Vote:
    """Extract the final answer of each sampled completion and vote."""
    return majority_vote([extract_final_answer(c, prefixes) for c in completions])
