"""Synthetic labelled questions from a user's own collection (``ragline eval synth``).

For sampled chunks (seeded, in random order, long enough to say something): the LLM writes one
question the chunk answers (and a short answer); a second call asks whether the chunk really
answers it, and questions it does not are dropped; so are malformed ones (empty, too long,
"according to the passage…") and near-duplicates of a question already kept (same normalised
text, or cosine similarity of their embeddings ≥ ``dedupe_threshold`` with the collection's
own embedder). The chunk's document is the label. The result is written as a BEIR directory
(corpus = the collection's documents rebuilt from their chunks) plus ``synth.json`` with the
counts and settings, so ``ragline eval run --dataset OUT`` scores it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragline.eval.answer_metrics import normalise
from ragline.eval.datasets import CorpusDoc, write_beir
from ragline.retrieval.types import Chunk, Message

QUESTION_PROMPT = """Read the passage below and write one question that a user of this document \
collection might ask and that the passage answers. The question must make sense on its own \
(do not mention "the passage" or "the text"), and must be in the same language as the passage. \
Then give the answer in a few words.

Passage:
{passage}

Reply in exactly this form:
Question: <the question>
Answer: <the answer>"""

CHECK_PROMPT = """Passage:
{passage}

Question: {question}

Does the passage contain the answer to the question? Reply with one word: yes or no."""

SYSTEM = "You write evaluation data for a search system. Follow the requested format exactly."
_Q = re.compile(r"^[\s*]*(?:question|q|问题|問題)\**\s*[:：][\s*]*(.+)$", re.I | re.M)
_A = re.compile(r"^[\s*]*(?:answer|a|答案|回答)\**\s*[:：][\s*]*(.+)$", re.I | re.M)
_META = re.compile(
    r"\b(the|this|given|above) (passage|text|excerpt|document|context)\b|(这段|上述|以上)(文字|文本|段落)",
    re.I,
)
_YES = re.compile(r"^\W*(yes|是|对|有)", re.I)

Progress = Callable[[int, int], None]
"""Called with (questions kept, chunks tried)."""


@dataclass(frozen=True)
class SynthQuestion:
    id: str
    question: str
    answer: str
    doc_id: str
    chunk_id: str


@dataclass(frozen=True)
class SynthResult:
    questions: tuple[SynthQuestion, ...]
    corpus: dict[str, CorpusDoc]
    counts: dict[str, int]
    settings: dict[str, Any] = field(default_factory=dict)


def parse_question(reply: str) -> tuple[str, str]:
    """(question, answer) from the LLM's reply; the first line when there is no label."""
    q = _Q.search(reply)
    a = _A.search(reply)
    if q is not None:
        question = q.group(1).strip()
    else:
        lines = [x.strip() for x in reply.strip().splitlines() if x.strip()]
        question = lines[0] if lines else ""
    return question.strip(" \"'"), (a.group(1).strip() if a else "")


def malformed(question: str) -> bool:
    return not 8 <= len(question) <= 300 or bool(_META.search(question))


def synthesize(
    collection: Any,
    llm: Any,
    *,
    n: int = 100,
    seed: int = 0,
    dedupe_threshold: float = 0.9,
    min_chars: int = 200,
    max_tries: int | None = None,
    params: Any = None,
    progress: Progress | None = None,
) -> SynthResult:
    """Up to ``n`` filtered questions from ``collection`` (a ``Collection``) with ``llm``."""
    import numpy as np

    from ragline.llm import GenerationParams

    gen = params or GenerationParams(temperature=0.0, max_new_tokens=200)
    check = GenerationParams(temperature=0.0, max_new_tokens=4)
    records = [r for r in collection.catalog.documents() if r.state == "done"]
    chunk_ids = sorted(i for r in records for i in r.chunk_ids)
    random.Random(seed).shuffle(chunk_ids)
    limit = max_tries if max_tries is not None else 5 * n
    counts = {"tried": 0, "malformed": 0, "unanswered": 0, "duplicate": 0, "short_chunk": 0}
    kept: list[SynthQuestion] = []
    seen: set[str] = set()
    vectors: list[Any] = []
    for chunk in _chunks(collection, chunk_ids):
        if len(kept) >= n or counts["tried"] >= limit:
            break
        if len(chunk.text.strip()) < min_chars:
            counts["short_chunk"] += 1
            continue
        counts["tried"] += 1
        passage = chunk.text.strip()
        reply = llm.generate(_messages(QUESTION_PROMPT.format(passage=passage)), gen).text
        question, answer = parse_question(reply)
        if malformed(question):
            counts["malformed"] += 1
        elif not _YES.match(
            llm.generate(
                _messages(CHECK_PROMPT.format(passage=passage, question=question)), check
            ).text
        ):
            counts["unanswered"] += 1
        else:
            key = normalise(question)
            vector = np.asarray(collection.embedder.embed_query(question), dtype=np.float32)
            if key in seen or any(float(v @ vector) >= dedupe_threshold for v in vectors):
                counts["duplicate"] += 1
            else:
                seen.add(key)
                vectors.append(vector)
                qid = f"synth-{len(kept) + 1:04d}"
                kept.append(SynthQuestion(qid, question, answer, chunk.doc_id, chunk.id))
        if progress is not None:
            progress(len(kept), counts["tried"])
    counts["kept"] = len(kept)
    settings = {
        "n": n,
        "seed": seed,
        "dedupe_threshold": dedupe_threshold,
        "min_chars": min_chars,
        "max_tries": limit,
        "model_id": getattr(llm, "model_id", "unknown"),
        "generation": gen.to_dict() if hasattr(gen, "to_dict") else {},
        "collection": collection.info.name,
        "index_version": collection.index_version,
        "embedder": collection.info.model_id,
    }
    return SynthResult(tuple(kept), rebuild_corpus(collection, records), counts, settings)


def _messages(prompt: str) -> list[Message]:
    return [Message("system", SYSTEM), Message("user", prompt)]


def _chunks(collection: Any, ids: Sequence[str], batch: int = 64) -> Any:
    for start in range(0, len(ids), batch):
        yield from collection.store.get(list(ids[start : start + batch]))


def rebuild_corpus(collection: Any, records: Sequence[Any]) -> dict[str, CorpusDoc]:
    """Each document's text from its chunks in order (overlaps removed through the chunks'
    character offsets when they have them)."""
    corpus: dict[str, CorpusDoc] = {}
    for record in records:
        chunks: list[Chunk] = sorted(
            collection.store.get(list(record.chunk_ids)), key=lambda c: c.position
        )
        corpus[record.doc_id] = CorpusDoc(record.doc_id, Path(record.source).name, stitch(chunks))
    return corpus


def stitch(chunks: Sequence[Chunk]) -> str:
    parts: list[str] = []
    end = -1
    for c in chunks:
        start, stop = c.metadata.get("start"), c.metadata.get("end")
        exact = isinstance(start, int) and isinstance(stop, int) and stop - start == len(c.text)
        if exact and parts and isinstance(start, int) and start <= end:
            parts.append(c.text[end - start :])
        else:
            parts.append(("\n\n" if parts else "") + c.text)
        if exact and isinstance(stop, int):
            end = stop
    return "".join(parts)


def write_synth(result: SynthResult, out: Path) -> Path:
    """Write the BEIR directory; returns it."""
    queries = {q.id: q.question for q in result.questions}
    qrels = {q.id: {q.doc_id: 1} for q in result.questions}
    meta = {q.id: {"answer": q.answer, "chunk_id": q.chunk_id} for q in result.questions}
    write_beir(out, result.corpus, queries, qrels, meta)
    info = {"counts": result.counts, "settings": result.settings}
    (out / "synth.json").write_text(json.dumps(info, indent=2, ensure_ascii=False))
    return out


def to_dict(result: SynthResult) -> dict[str, Any]:
    return {"questions": [asdict(q) for q in result.questions], "counts": result.counts}
