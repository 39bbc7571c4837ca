"""Answer-level evaluation: the real answer pipeline over every question of a QA dataset.

``run_answers`` opens the collection the primary configuration was evaluated on, asks every
question (answerable and unanswerable, in ``qa.jsonl`` order) through
:class:`ragline.answer.Answerer` with that configuration's retrieval settings (mode, fusion, MMR,
filters; ``ragline.retrieval.k`` sources per answer), and turns each answer into an answer record
(see :mod:`ragline.eval.answer_metrics`):

- ``answer``: the answer text with its citation markers (``[1]``) removed, which is what exact
  match and token F1 score; ``text`` keeps the markers;
- ``cited``: the corpus ids of the cited documents, mapped back through the file names of the
  materialised corpus exactly as retrieval hits are (:func:`ragline.eval.datasets.corpus_id`);
- ``not_found``: the answer says "Not found in the documents." (any language the pipeline
  writes it in), whether the no-context policy or the model said it;
- ``attributed`` / ``repointed``: the citation numbers ragline added to sentences the model
  left uncited, or put in place of the model's (:mod:`ragline.answer.citations`);
- ``sources``: the corpus ids of every source the model was given, cited or not;
- ``unknown_names``: the names the question gives that the collection never mentions, when
  that is why the answer is "not found" (:mod:`ragline.retrieval.keyword.names`).

**Cache hit rate.** With the answer cache enabled, every question is asked a second time after
the first pass; ``cache_hit`` says whether that repeated question was served from the cache.
The run uses a cache prefix of its own (``<cache.key_prefix>eval:<run id>:``, Redis when it
answers, else in-process), so the first pass starts from an empty cache and never reuses
answers of earlier runs or of the live service; its entries are removed at the end.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragline.answer.settings import AnswerConfig
from ragline.eval import answer_metrics as am
from ragline.eval.config import RunConfig
from ragline.eval.datasets import Dataset, corpus_id, file_stem
from ragline.eval.index import ensure_index, eval_settings

if TYPE_CHECKING:
    from ragline.answer import Answer, Answerer, AskRequest
    from ragline.answer.types import AnswerMode
    from ragline.cache import AnswerCache
    from ragline.llm import LLM
    from ragline.retrieval.types import Filter

Log = Callable[[str], None]
_SPACES = re.compile(r"\s+")
_DANGLING = re.compile(r" ([.,;:!?。，；：！？])(?=\s|$)")  # "yes [1]." → "yes ." → "yes."


@dataclass(frozen=True)
class AnswerRun:
    """What the answer pass measured, before it becomes the report's "answers" section."""

    config: str
    collection: str
    llm: dict[str, Any]
    cache: dict[str, Any]
    records: tuple[dict[str, Any], ...]
    latencies: tuple[float, ...]
    """Seconds per question of the first pass, in question order."""
    first_tokens: tuple[float, ...] = ()
    """Seconds to the first answer text of each first-pass answer that streamed any."""
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        return am.summarise(self.records)

    def to_dict(self) -> dict[str, Any]:
        from ragline.eval import stats

        summary = self.summary()
        records = []
        for record in self.records:
            scores = am.record_scores(record)
            records.append({**record, "scores": scores, "quality": am.quality(scores)})
        return {
            "config": self.config,
            "collection": self.collection,
            "llm": dict(self.llm),
            "cache": dict(self.cache),
            "questions": len(self.records),
            "answerable": sum(1 for r in self.records if r["answerable"]),
            "unanswerable": sum(1 for r in self.records if not r["answerable"]),
            "errors": sum(1 for r in self.records if r.get("error")),
            "skipped": dict(self.skipped),
            "seconds": self.seconds,
            "latency": stats.latency_summary(self.latencies),
            "time_to_first_token": stats.latency_summary(self.first_tokens),
            "summary": summary,
            "gates": {g: am.gate_value(summary, g) for g in am.GATES},
            "records": records,
        }


def questions(dataset: Dataset, limit: int | None = None) -> tuple[list[str], dict[str, int]]:
    """The question ids to answer (file order) and counts of those left out."""
    asked = [q for q in dataset.answers if q in dataset.queries or q in dataset.unanswerable]
    skipped = {"answerable_without_sources": len(dataset.answers) - len(asked)}
    if limit is not None and limit < len(asked):
        skipped["questions_over_answer_limit"] = len(asked) - limit
        asked = asked[:limit]
    return asked, {k: v for k, v in skipped.items() if v}


def answer_settings(settings: AnswerConfig, config: RunConfig, prefix: str) -> AnswerConfig:
    """The eval collection's settings (its data directory) with ``config``'s retrieval
    choices (``retrieval.k`` sources per answer) and a cache prefix of this run's own."""
    local = eval_settings(settings, config)
    retrieval = config.retrieval.model_copy(update={"k": local.retrieval.k})
    cache = local.cache.model_copy(update={"key_prefix": prefix})
    return local.model_copy(update={"retrieval": retrieval, "cache": cache})


def scored_text(text: str) -> str:
    """The answer without citation markers or echoed source tags (what EM and F1 score)."""
    from ragline.answer.citations import MARKER, without_echo

    plain = _SPACES.sub(" ", MARKER.sub(" ", without_echo(text, repl=" ")))
    return _DANGLING.sub(r"\1", plain).strip()


def says_not_found(text: str) -> bool:
    from ragline.answer.routing import NOT_FOUND

    mine = am.normalise(text)
    return any(am.normalise(phrase) in mine for phrase in NOT_FOUND.values())


def cited_documents(answer: Answer, stems: Mapping[str, str]) -> list[str]:
    """Corpus ids of the documents the answer cites, in citation order, without repeats."""
    ids = [corpus_id(c.file_name or c.source, stems) for c in answer.citations]
    return list(dict.fromkeys(ids))


def make_record(
    qid: str,
    dataset: Dataset,
    answer: Answer | None,
    stems: Mapping[str, str],
    error: str = "",
    timing: Timing | None = None,
    examples: Sequence[str] = (),
) -> dict[str, Any]:
    """One answer record (see :mod:`ragline.eval.answer_metrics`); ``examples`` are the
    few-shot example texts of the prompt library, to spot answers that repeat them."""
    from ragline.answer.guard import copies

    answerable = qid in dataset.queries
    text = answer.text if answer is not None else ""
    judged = dataset.qrels.get(qid, {})
    return {
        "id": qid,
        "question": dataset.queries.get(qid) or dataset.unanswerable.get(qid, ""),
        "text": text,
        "answer": scored_text(text),
        "pattern": dataset.patterns.get(qid),
        "leaked_example": bool(examples) and copies(text, examples),
        "extractive": bool(answer and answer.extractive),
        "uncited": bool(answer and answer.uncited),
        "guard": answer.guard if answer is not None else None,
        "ttft_s": timing.first if timing else None,
        "total_s": timing.total if timing else None,
        "cited": cited_documents(answer, stems) if answer is not None else [],
        "citations": [
            {"number": c.number, "document": corpus_id(c.file_name or c.source, stems)}
            for c in (answer.citations if answer is not None else [])
        ],
        "sources": [
            corpus_id(s.get("file_name") or s.get("source", ""), stems)
            for s in (answer.sources if answer is not None else [])
        ],
        "unknown_names": list(answer.unknown_names) if answer is not None else [],
        "attributed": list(answer.attributed) if answer is not None else [],
        "repointed": list(answer.repointed) if answer is not None else [],
        "expected_answers": list(dataset.answers.get(qid, ())),
        "expected_sources": [d for d, g in judged.items() if g > 0],
        "answerable": answerable,
        "not_found": bool(answer and answer.not_found) or says_not_found(text),
        "answerable_probability": answer.answerable_probability if answer is not None else None,
        "context_found": answer.context_found if answer is not None else None,
        "unsupported_sentences": len(answer.unsupported) if answer is not None else 0,
        "unsupported": list(answer.unsupported) if answer is not None else [],
        "first_pass_cache": answer.cache_kind if answer is not None and answer.cached else None,
        "timings_ms": dict(answer.timings_ms) if answer is not None else {},
        "tokens": dict(answer.tokens) if answer is not None else {},
        "error": error,
    }


def run_answers(
    dataset: Dataset,
    config: RunConfig,
    settings: AnswerConfig,
    llm: LLM,
    *,
    limit: int | None = None,
    log: Log | None = None,
    mode: AnswerMode = "auto",
) -> AnswerRun:
    """Answer the dataset's questions on ``config``'s collection (built or reused), score
    them, and measure the cache on a repeated pass (see the module docstring). ``mode``:
    the answer mode asked for ("extractive" measures the no-LLM baseline)."""
    from prometheus_client import CollectorRegistry

    from ragline.answer.build import build_answerer

    say = log or (lambda _msg: None)
    started = time.perf_counter()
    asked, skipped = questions(dataset, limit)
    stems = {file_stem(d): d for d in dataset.corpus}
    built = ensure_index(dataset, config, settings, say)
    prefix = f"{settings.cache.key_prefix}eval:{uuid.uuid4().hex[:12]}:"
    local = answer_settings(settings, config, prefix)
    stack = build_answerer(local, llm=llm, metrics_registry=CollectorRegistry())
    cache = stack.cache
    info: dict[str, Any] = {"enabled": cache is not None, "repeated_pass": cache is not None}
    records: list[dict[str, Any]] = []
    latencies: list[float] = []
    first_tokens: list[float] = []
    examples = library_examples(stack.answerer.library.directory)
    try:
        where = _where(config)
        say(f"answering {len(asked)} questions with {llm.model_id} on {built.name}")
        for n, qid in enumerate(asked, 1):
            request = _request(dataset, qid, built.name, where, mode)
            answer, error, timing = _stream(stack.answerer, request)
            latencies.append(timing.total)
            if timing.first is not None:
                first_tokens.append(timing.first)
            records.append(make_record(qid, dataset, answer, stems, error, timing, examples))
            if n % 10 == 0:
                say(f"{n}/{len(asked)} answered")
        if cache is not None:
            say(f"asking the {len(asked)} questions again (cache hit rate)")
            for record in records:
                request = _request(dataset, record["id"], built.name, where, mode)
                again, _err = _ask(stack.answerer, request)
                record["cache_hit"] = bool(again is not None and again.cached)
                record["cache_kind"] = again.cache_kind if again is not None else None
            info["backend"] = cache.backend.kind
            info["counts"] = cache.metrics.counts()
    finally:
        if cache is not None:
            _clear(cache)
        stack.collections.close()
        if cache is not None:
            cache.close()
    return AnswerRun(
        config=config.name,
        collection=built.name,
        llm={
            "backend": local.llm.backend,
            "model_id": llm.model_id if mode != "extractive" else mode,
        },
        cache=info,
        records=tuple(records),
        latencies=tuple(latencies),
        first_tokens=tuple(first_tokens),
        skipped=skipped,
        seconds=round(time.perf_counter() - started, 3),
    )


def _where(config: RunConfig) -> Filter | None:
    from ragline.retrieval.filters import parse_filters

    return parse_filters(config.filters) or None


@dataclass(frozen=True)
class Timing:
    total: float
    """Seconds from the request to the checked answer."""
    first: float | None
    """Seconds to the first answer text streamed (None when nothing streamed)."""


def library_examples(directory: Path) -> list[str]:
    """Every few-shot example text (question, sources, answer) in a prompts directory."""
    from ragline.retrieval.prompting.fewshot import load_examples

    texts = []
    for path in sorted(directory.glob("*.examples.*")):
        for e in load_examples(path).examples:
            texts.append("\n".join(p for p in (e.question, e.context, e.answer) if p))
    return texts


def _request(
    dataset: Dataset, qid: str, collection: str, where: Filter | None, mode: AnswerMode
) -> AskRequest:
    from ragline.answer import AskRequest

    text = dataset.queries.get(qid) or dataset.unanswerable[qid]
    return AskRequest(text, collection, where=where, mode=mode)


def _stream(answerer: Answerer, request: AskRequest) -> tuple[Answer | None, str, Timing]:
    """One answer, streamed to time its first token; or None and the model's error."""
    from ragline.answer import Delta
    from ragline.llm import LLMError

    started = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    error = ""
    try:
        for event in answerer.stream(request):
            if isinstance(event, Delta):
                if first is None and event.text.strip():
                    first = time.perf_counter() - started
            else:
                answer = event
    except LLMError as exc:
        error = str(exc)
    return answer, error, Timing(time.perf_counter() - started, first)


def _ask(answerer: Answerer, request: AskRequest) -> tuple[Answer | None, str]:
    """One answer, or None and the error of a model that failed this request."""
    from ragline.llm import LLMError

    try:
        return answerer.ask(request), ""
    except LLMError as exc:
        return None, str(exc)


def _clear(cache: AnswerCache) -> None:
    from ragline.cache import CacheUnavailable

    with contextlib.suppress(CacheUnavailable):  # Redis went away: entries expire (TTL)
        cache.clear()
