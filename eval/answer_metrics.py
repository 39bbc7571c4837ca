"""Answer-level metrics: pure functions over answer records (plain dicts).

An answer record, as the answer pipeline will write one per question::

    {
      "id": "q1",
      "answer": "Use pathlib.Path.glob.",        # the generated answer text
      "cited": ["doc-3", "doc-9"],                # document ids the answer cites
      "expected_answers": ["pathlib.Path.glob"],  # from the QA set (may be empty)
      "expected_sources": ["doc-3"],              # from the QA set (may be empty)
      "answerable": true,                         # false: the corpus has no answer
      "not_found": false,                         # the answer said "not found in the documents"
      "unsupported_sentences": 0,                 # sentences no cited chunk supports
      "cache_hit": false,                         # served from the answer cache
      "pattern": "pathlib\\.Path\\.glob",          # optional gold regex (QA set)
      "text": "Use pathlib.Path.glob [1].",       # the answer as returned, with markers
      "leaked_example": false,                    # it repeats few-shot example text
      "extractive": false, "uncited": false,      # what the output guard did
      "ttft_s": 0.8, "total_s": 2.1               # time to first token, to the full answer
    }

**Correct** (gold match): after :func:`gold_normalise` (NFKC, casefold, quotes and backticks
removed, whitespace collapsed) the answer contains one of the expected answers, or the
``pattern`` matches it (case-insensitive). **Empty**: nothing but whitespace, punctuation and
citation markers.

Per-record scores are ``None`` where a metric does not apply (no expected answer, no
citations, an answerable question for the "not found" rate); summaries average the values
that apply and report how many did.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_PUNCT = set(string.punctuation)

Record = Mapping[str, Any]


def normalise(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no English articles, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(
        " " if ch in _PUNCT or unicodedata.category(ch).startswith("P") else ch for ch in text
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """Normalised tokens: words, and each CJK character on its own."""
    out: list[str] = []
    for word in normalise(text).split():
        if _CJK.search(word):
            out.extend(p for p in re.split(f"({_CJK.pattern})", word) if p)
        else:
            out.append(word)
    return out


def exact_match(prediction: str, answers: Sequence[str]) -> float | None:
    """1.0 when the normalised prediction equals a normalised expected answer."""
    if not answers:
        return None
    mine = normalise(prediction)
    return 1.0 if any(mine == normalise(a) for a in answers) else 0.0


def token_f1(prediction: str, answers: Sequence[str]) -> float | None:
    """Best token-overlap F1 against the expected answers."""
    if not answers:
        return None
    return max(_f1(tokens(prediction), tokens(a)) for a in answers)


def _f1(predicted: list[str], expected: list[str]) -> float:
    if not predicted or not expected:
        return 1.0 if predicted == expected else 0.0
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    p, r = common / len(predicted), common / len(expected)
    return 2 * p * r / (p + r)


def citation_precision(cited: Iterable[str], expected: Iterable[str]) -> float | None:
    """Share of cited documents that are expected ones (None without citations)."""
    mine, wanted = set(cited), set(expected)
    if not mine or not wanted:
        return None
    return len(mine & wanted) / len(mine)


def citation_recall(cited: Iterable[str], expected: Iterable[str]) -> float | None:
    """Share of expected documents the answer cites (None when none are expected)."""
    mine, wanted = set(cited), set(expected)
    if not wanted:
        return None
    return len(mine & wanted) / len(wanted)


_QUOTES = str.maketrans("", "", "'\"\u2018\u2019\u201c\u201d`")
_MARKERS = re.compile(r"[\[【]\s*\d+(?:\s*[,，、]\s*\d+)*\s*[\]】]")


def gold_normalise(text: str) -> str:
    """NFKC, casefold, straight/curly quotes and backticks removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)
    return " ".join(text.split())


def gold_match(answer: str, accepted: Sequence[str], pattern: str | None = None) -> bool | None:
    """Whether ``answer`` states a gold answer (None when there is no gold to match)."""
    accepted = [a for a in accepted if a.strip()]
    if not accepted and not pattern:
        return None
    text = gold_normalise(answer)
    if any(gold_normalise(a) in text for a in accepted):
        return True
    return bool(pattern) and re.search(str(pattern), text, re.IGNORECASE) is not None


def is_empty(text: str) -> bool:
    """Nothing but whitespace, punctuation and citation markers."""
    rest = _MARKERS.sub(" ", text)
    return not any(ch.isalnum() for ch in rest)


def record_scores(record: Record) -> dict[str, float | None]:
    """Every answer metric for one record."""
    answer = str(record.get("answer", ""))
    expected = [str(a) for a in record.get("expected_answers", ())]
    cited = [str(c) for c in record.get("cited", ())]
    sources = [str(s) for s in record.get("expected_sources", ())]
    answerable = bool(record.get("answerable", True))
    unsupported = record.get("unsupported_sentences")
    scored = answerable and not record.get("not_found", False)
    correct = gold_match(answer, expected, record.get("pattern")) if answerable else None
    failed = bool(record.get("error"))
    return {
        "correct": None if correct is None else float(correct),
        "cites_relevant": (
            float(bool(set(cited) & set(sources))) if answerable and sources else None
        ),
        "empty": None if failed else float(is_empty(str(record.get("text", answer)))),
        "leaked_example": (
            None if "leaked_example" not in record else float(bool(record["leaked_example"]))
        ),
        "extractive": None if "extractive" not in record else float(bool(record["extractive"])),
        "uncited": None if "uncited" not in record else float(bool(record["uncited"])),
        "exact_match": exact_match(answer, expected) if answerable else None,
        "token_f1": token_f1(answer, expected) if answerable else None,
        "citation_precision": citation_precision(cited, sources) if scored else None,
        "citation_recall": citation_recall(cited, sources) if answerable else None,
        "unsupported": None if unsupported is None else float(int(unsupported) > 0),
        "not_found": None if answerable else float(bool(record.get("not_found", False))),
        "cache_hit": None if "cache_hit" not in record else float(bool(record["cache_hit"])),
    }


ANSWER_METRICS = {
    "correct": "answers correct (gold match)",
    "cites_relevant": "answers citing a relevant document",
    "empty": "empty or citations-only answers",
    "leaked_example": "answers repeating few-shot example text",
    "extractive": "extractive fallback answers (output guard)",
    "uncited": "answers citing nothing although sources were found",
    "exact_match": "exact match",
    "token_f1": "token F1",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "unsupported": "answers with unsupported sentences",
    "not_found": '"not found" rate on unanswerable questions',
    "cache_hit": "cache hit rate",
}


def summarise(records: Sequence[Record]) -> dict[str, dict[str, float | int | None]]:
    """metric → {"mean": average over the records it applies to, "n": how many}."""
    per = [record_scores(r) for r in records]
    out: dict[str, dict[str, float | int | None]] = {}
    for name in ANSWER_METRICS:
        values = [s[name] for s in per if s[name] is not None]
        numbers = [v for v in values if v is not None]
        out[name] = {"mean": sum(numbers) / len(numbers) if numbers else None, "n": len(numbers)}
    return out


GATES = {
    "answer_correct": "correct",
    "cites_relevant": "cites_relevant",
    "answer_em": "exact_match",
    "answer_f1": "token_f1",
    "citation_precision": "citation_precision",
    "citation_recall": "citation_recall",
    "supported_rate": "unsupported",
    "not_found_rate": "not_found",
    "cache_hit_rate": "cache_hit",
}
"""``--fail-under`` names of the answer metrics (higher is better for each):
``supported_rate`` is 1 − the share of answers with unsupported sentences."""


def gate_value(summary: Mapping[str, Mapping[str, Any]], gate: str) -> float | None:
    """The value a gate named in :data:`GATES` compares (None: no question it applies to)."""
    metric = GATES[gate]
    value = summary[metric]["mean"]
    if value is None:
        return None
    return 1.0 - float(value) if metric == "unsupported" else float(value)


QUALITY_PARTS = (
    "correct",
    "token_f1",
    "citation_precision",
    "citation_recall",
    "unsupported",
    "not_found",
)


def quality(scores: Mapping[str, float | None]) -> float:
    """One number to rank answers from worst to best: the mean of correct (gold match),
    token F1, citation precision and recall, "supported" (1 − unsupported) and "not found"
    (unanswerable questions), over those that apply; 1.0 when none does."""
    values = [
        1.0 - v if name == "unsupported" else v
        for name in QUALITY_PARTS
        if (v := scores.get(name)) is not None
    ]
    return sum(values) / len(values) if values else 1.0


def worst(records: Sequence[Record], n: int) -> list[Record]:
    """The ``n`` scored records (with ``quality``) below 1.0 or failed, worst first."""
    bad = [r for r in records if r["quality"] < 1.0 or r.get("error")]
    return sorted(bad, key=lambda r: (r["quality"], str(r["id"])))[:n]
