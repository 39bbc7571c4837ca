"""The CrossEncoder reranker, with a tiny BERT the test builds itself (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.retrieval.errors import ConfigError
from ragline.retrieval.rerank import CrossEncoderReranker, Reranker
from ragline.retrieval.retrievers import reranker_for, search
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.types import Hit
from ragline.settings import Settings
from tests.retrieval.fakes import add, chunk, make_collection

WORDS = ["apt", "installs", "packages", "pip", "python", "cache", "debian", "the", "a"]


def tiny_cross_encoder(path: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(0)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (path / "vocab.txt").parent.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt")).save_pretrained(str(path))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce"))


@pytest.mark.slow
def test_cross_encoder_rescores_and_sorts(model_dir: Path) -> None:
    reranker = CrossEncoderReranker(model_dir)
    assert isinstance(reranker, Reranker)
    hits = [Hit(f"c{i}", "d", text, 1.0, {}, {"bm25": 1.0}) for i, text in enumerate(WORDS[:4])]
    out = reranker.rerank("apt installs packages", hits)
    assert sorted(h.chunk_id for h in out) == ["c0", "c1", "c2", "c3"]
    scores = [h.score for h in out]
    assert scores == sorted(scores, reverse=True)
    assert all(h.scores["rerank"] == h.score and "bm25" in h.scores for h in out)
    again = reranker.rerank("apt installs packages", hits)
    assert [h.chunk_id for h in again] == [h.chunk_id for h in out]  # deterministic
    assert reranker.rerank("q", []) == []


@pytest.mark.slow
def test_configured_reranker_runs_inside_search(model_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", retrieval=RetrievalSettings(reranker_model=model_dir)
    )
    coll = make_collection(settings)
    add(coll, [chunk("a", "apt installs packages"), chunk("b", "pip cache python")])
    result = search(coll, "apt packages", settings.retrieval.override(k=2))
    assert result.reranked and result.score_name == "rerank"
    assert all("rerank" in h.scores for h in result.hits)


def test_reranking_is_off_by_default_and_checks_the_path(tmp_path: Path) -> None:
    assert RetrievalSettings().reranker_model is None
    assert reranker_for(RetrievalSettings()) is None
    with pytest.raises(ConfigError, match=r"no config\.json"):
        CrossEncoderReranker(tmp_path)
