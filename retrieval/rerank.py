"""Optional second-stage reranking. Off by default; on when a CrossEncoder path is configured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ragline.retrieval.embedders.offline import force_offline
from ragline.retrieval.errors import BackendUnavailable, ConfigError
from ragline.retrieval.types import Hit


@runtime_checkable
class Reranker(Protocol):
    model_id: str

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The same hits re-scored (``Hit.score`` and ``Hit.scores["rerank"]``), best first."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local directory (never downloaded).

    Scores are the model's activation output (a sigmoid for one-label models: 0..1).
    """

    def __init__(self, model_path: Path, device: str | None = None, batch_size: int = 32) -> None:
        if not (model_path / "config.json").is_file():
            raise ConfigError(f"reranker model {model_path} has no config.json")
        self.model_path = model_path
        self.model_id = f"cross-encoder:{model_path.name}"
        self.batch_size = batch_size
        self._device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            force_offline()
            try:
                from sentence_transformers import CrossEncoder
            except ImportError as exc:
                raise BackendUnavailable("reranking needs sentence-transformers") from exc
            self._model = CrossEncoder(
                str(self.model_path), device=self._device, local_files_only=True
            )
        return self._model

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        model = self._load()
        scores = model.predict(
            [(query, h.text) for h in hits], batch_size=self.batch_size, show_progress_bar=False
        )
        rescored = [
            replace(h, score=float(s), scores={**h.scores, "rerank": float(s)})
            for h, s in zip(hits, scores, strict=True)
        ]
        order = sorted(range(len(rescored)), key=lambda i: (-rescored[i].score, i))
        return [rescored[i] for i in order]
