"""Few-shot examples: files next to the templates, chosen per question.

``prompts/<template>.<lang>.examples.yaml``::

    id: grounded_qa.en
    version: 2
    examples:
      - id: pep8-tabs
        question: ...
        context: ...        # optional, rendered as the example's sources
        reasoning: ...      # optional, for chain-of-thought templates
        answer: ...

or ``.examples.jsonl`` with one example object per line (id and version then come from the
file name and its content hash). Selection is by embedding similarity of the questions (ties
go to the example earlier in the file, so the choice is deterministic) or the file's order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ragline.retrieval.embedders.base import Embedder
from ragline.retrieval.errors import PromptError

Selection = Literal["similarity", "fixed"]


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    answer: str
    context: str = ""
    reasoning: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "context": self.context,
            "reasoning": self.reasoning,
        }


@dataclass(frozen=True)
class ExampleSet:
    id: str
    version: str
    digest: str
    path: Path
    examples: tuple[Example, ...]


def load_examples(path: Path) -> ExampleSet:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"{path}: cannot read examples: {exc}") from None
    digest = hashlib.sha256(raw).hexdigest()
    stem = path.name.split(".examples.")[0]
    if path.suffix == ".jsonl":
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise PromptError(f"{path}:{n}: invalid JSON: {exc.msg}") from None
        set_id, version = stem, f"sha256:{digest[:12]}"
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PromptError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
            raise PromptError(f"{path}: expected a mapping with an 'examples' list")
        items = data["examples"]
        set_id = str(data.get("id", stem))
        version = str(data.get("version", f"sha256:{digest[:12]}"))
    examples = tuple(_example(path, n, item) for n, item in enumerate(items, 1))
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise PromptError(f"{path}: example id {dup!r} appears twice")
    return ExampleSet(set_id, version, digest, path, examples)


def _example(path: Path, n: int, item: Any) -> Example:
    if not isinstance(item, Mapping):
        raise PromptError(f"{path}: example {n} is not a mapping")
    for key in ("id", "question", "answer"):
        if not str(item.get(key) or "").strip():
            raise PromptError(f"{path}: example {n} has no {key!r}")
    return Example(
        id=str(item["id"]),
        question=str(item["question"]).strip(),
        answer=str(item["answer"]).strip(),
        context=str(item.get("context") or "").strip(),
        reasoning=str(item.get("reasoning") or "").strip(),
    )


def find_examples(directory: Path, name: str) -> Path:
    """``name`` is a path, or a file stem in ``directory`` (``grounded_qa.en``)."""
    direct = Path(name)
    if direct.is_file():
        return direct
    for suffix in (".examples.yaml", ".examples.jsonl"):
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise PromptError(f"no few-shot examples {name!r} in {directory}")


class ExampleSelector:
    """Picks ``k`` examples for a question; example embeddings are computed once."""

    def __init__(
        self, examples: ExampleSet, embedder: Embedder | None = None, mode: Selection = "similarity"
    ) -> None:
        if mode == "similarity" and embedder is None:
            raise PromptError("similarity selection of examples needs an embedder")
        self.examples = examples
        self.embedder = embedder
        self.mode = mode
        self._vectors: np.ndarray | None = None

    def select(self, question: str, k: int) -> tuple[Example, ...]:
        pool = self.examples.examples
        k = max(0, min(k, len(pool)))
        if k == 0:
            return ()
        if self.mode == "fixed":
            return pool[:k]
        assert self.embedder is not None
        if self._vectors is None:
            self._vectors = np.asarray(
                self.embedder.embed_documents([e.question for e in pool]), dtype=np.float32
            )
        query = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        sims = self._vectors @ query
        return tuple(pool[i] for i in rank_by_similarity(sims)[:k])


def rank_by_similarity(similarities: Sequence[float] | np.ndarray) -> list[int]:
    """Indices by descending similarity; equal similarities (to 6 decimals) keep file order."""
    rounded = [round(float(s), 6) for s in similarities]
    return sorted(range(len(rounded)), key=lambda i: (-rounded[i], i))
