"""The kernel's settings sections, and :class:`KernelConfig`, the view of the whole
settings object the kernel reads.

Each layer owns its sections: ``ingest`` (ragline.ingest.settings), ``llm``
(ragline.llm.settings), ``cache`` (ragline.cache.settings), ``server``
(ragline.server.settings). Each layer's view extends the one below it
(KernelConfig ← IngestConfig ← AnswerConfig ← ServerConfig), and ``ragline.settings.Settings``,
built by the entry points from arguments, ``RAGLINE_*`` variables and a TOML file, is the
top one. Nothing reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragline.retrieval.errors import UsageError

Device = Literal["auto", "cpu", "cuda"]
SearchMode = Literal["dense", "bm25", "hybrid"]
"""dense (embeddings), bm25 (keywords) or hybrid (both, fused)."""
SEARCH_MODES: tuple[SearchMode, ...] = get_args(SearchMode)
StoreBackend = Literal["chroma", "faiss", "faiss-gpu", "torch", "auto"]
STORE_BACKENDS: tuple[StoreBackend, ...] = get_args(StoreBackend)
EmbedderChoice = Literal["auto", "minilm", "use-m3", "e5-small"]
"""An embedder name, or auto (chosen by the language of a new collection's documents)."""
NoContextScore = Literal["auto", "fused", "dense", "bm25", "rerank"]
NoContextPolicy = Literal["not_found", "answer_without_context"]


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "ragline"


class EmbeddingSettings(BaseModel):
    model: EmbedderChoice = Field(
        "auto",
        description="Embedder for new collections: 'e5-small' (multilingual-e5-small: any "
        "language, questions in another language than the documents'), 'minilm' (English "
        "only, fastest ingestion), 'use-m3' (multilingual USE) or 'auto' (by the language of "
        "the first documents: e5-small for every language today).",
    )
    batch_size: int = Field(64, ge=1, le=65536)
    device: Device = "auto"
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto",
        description="auto: fp16 on CUDA, bf16 on CPUs with native bf16 (AVX512-BF16/AMX), "
        "else fp32.",
    )
    cache: bool = Field(True, description="Reuse embeddings of unchanged chunk texts.")


class ChunkingSettings(BaseModel):
    size: int = Field(
        254,
        ge=16,
        description="Target chunk size in embedder tokens, the contextual header included.",
    )
    overlap: int = Field(32, ge=0, description="Tokens shared by consecutive chunks.")

    @model_validator(mode="after")
    def _overlap_smaller(self) -> ChunkingSettings:
        if self.overlap >= self.size:
            raise ValueError("chunking.overlap must be smaller than chunking.size")
        return self


class StoreSettings(BaseModel):
    backend: StoreBackend = "chroma"
    faiss_index: Literal["flat", "hnsw"] = "flat"
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_search: int = Field(128, ge=8)
    chroma_url: str = Field(
        "",
        description="A Chroma server (http://host:port): collections of the chroma backend "
        "keep their vectors there, one Chroma collection each (named by the collection's name "
        "and uid); empty = the embedded Chroma in the data directory.",
    )
    chroma_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for one reply of the Chroma server."
    )
    write_lock_timeout_s: float = Field(
        600.0,
        ge=0,
        description="How long a writer of a collection (ingestion, upload, deletion) waits for "
        "another one to finish before it gives up with an error.",
    )

    @model_validator(mode="after")
    def _chroma_url_is_a_server(self) -> StoreSettings:
        url = self.chroma_url.strip()
        if url:
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("store.chroma_url must look like http://host:port")
            if parts.path.strip("/") or parts.query or parts.username:
                raise ValueError("store.chroma_url takes no path, query or credentials")
            if self.backend != "chroma":
                raise ValueError("store.chroma_url needs store.backend chroma")
        self.chroma_url = url.rstrip("/")
        return self


class RetrievalSettings(BaseModel):
    """How a collection is searched: the ``retrieval`` settings section, and the options of
    one search (a request's overrides are applied with :meth:`override`)."""

    mode: SearchMode = Field(
        "hybrid", description="dense (embeddings), bm25 (keywords) or hybrid (both, fused)."
    )
    k: int = Field(5, ge=1, le=1000, description="Hits returned.")
    candidates: int = Field(
        50, ge=1, le=10000, description="Hits each retriever contributes before fusion."
    )
    rrf_k: int = Field(
        10, ge=0, description="Reciprocal rank fusion constant: weight / (rrf_k + rank)."
    )
    dense_weight: float = Field(1.0, ge=0.0, description="RRF weight of the dense ranking.")
    bm25_weight: float | None = Field(
        None,
        ge=0.0,
        description="RRF weight of the BM25 ranking; unset = by the collection's embedder "
        "(0.5 with e5-small and minilm, 2.0 with use-m3, 1.0 otherwise; see "
        "docs/retrieval-quality.md).",
    )
    document_bm25_weight: float | None = Field(
        None,
        ge=0.0,
        description="Hybrid: RRF weight of BM25 over whole documents (document-level "
        "evidence: every fused chunk gains weight / (rrf_k + its document's rank)); unset = "
        "by the collection's embedder and language (0.75 with e5-small, 0 = off for other "
        "embedders and for Chinese collections; see docs/retrieval-quality.md).",
    )
    document_opening_weight: float | None = Field(
        None,
        ge=0.0,
        description="Hybrid: RRF weight of the documents' openings (their first chunks in "
        "the dense ranking), added like document_bm25_weight; unset = by the collection's "
        "embedder and language (1.5 with e5-small, 0 = off otherwise, as above).",
    )
    bm25_cue_boost: float = Field(
        0.0,
        ge=0.0,
        description="Queries with exact-match cues (quoted strings, code identifiers, flags, "
        "paths) fuse with the BM25 weight times 1 + this; 0 = off (measured: no gain on "
        "the eval sets, docs/retrieval-quality.md).",
    )
    mmr: bool = Field(False, description="Diversify the final hits (maximal marginal relevance).")
    mmr_lambda: float = Field(
        0.7, ge=0.0, le=1.0, description="MMR trade-off: 1 = relevance only, 0 = diversity only."
    )
    reranker_model: Path | None = Field(
        None, description="Directory of a sentence-transformers CrossEncoder; unset = no rerank."
    )
    rerank_candidates: int = Field(20, ge=1, description="Fused hits the reranker re-scores.")
    bm25_k1: float = Field(1.2, ge=0.0, description="BM25 term-frequency saturation (new indexes).")
    bm25_b: float = Field(0.75, ge=0.0, le=1.0, description="BM25 length normalisation.")
    bm25_stemmer: str | None = Field(
        "english", description="Snowball stemmer for Latin-script words; null = none."
    )
    bm25_stopwords: Literal["none", "light", "extended"] = Field(
        "extended", description="Stop words for new keyword indexes (English lists + Chinese)."
    )
    bm25_cjk: Literal["jieba", "bigram"] = Field(
        "jieba", description="Chinese segmentation for new keyword indexes."
    )
    no_context_threshold: float | None = Field(
        None,
        description="Below this best score the answer layer is told there is no good context; "
        "unset = by the collection's embedder for dense cosine (0.83 e5-small, 0.3 minilm, "
        "0.25 use-m3), "
        "else 0.3.",
    )
    no_context_score: NoContextScore = Field(
        "auto",
        description="Which score the threshold applies to; auto = rerank if run, else dense "
        "cosine, else the fused score.",
    )
    no_context_policy: NoContextPolicy = Field(
        "not_found",
        description="Without good context: say 'not found in the documents', or answer "
        "without context and say so.",
    )

    def override(self, **changes: Any) -> RetrievalSettings:
        """These options with ``changes`` applied and validated (``None`` values are ignored);
        a bad value raises UsageError naming the field."""
        updates = {k: v for k, v in changes.items() if v is not None}
        if not updates:
            return self
        unknown = sorted(set(updates) - set(type(self).model_fields))
        if unknown:
            raise UsageError(f"unknown retrieval option {unknown[0]!r}")
        try:
            return type(self).model_validate({**self.model_dump(), **updates})
        except ValidationError as exc:
            raise UsageError(one_line(exc, "retrieval option")) from None


class PromptSettings(BaseModel):
    dir: Path | None = Field(None, description="Prompt templates; unset = the bundled prompts/.")
    template: str = Field("grounded_qa", description="Template id for answers.")
    language: Literal["auto", "en", "zh"] = Field(
        "auto", description="Template language; auto = the collection's language."
    )
    examples: str = Field(
        "auto",
        description="Few-shot examples: 'auto' (the template's own examples file, if any), "
        "'none', or a file stem in the prompts directory / a path.",
    )
    examples_k: int = Field(2, ge=0, le=50)
    example_selection: Literal["similarity", "fixed"] = "similarity"
    answer_tokens: int = Field(512, ge=1, description="Tokens reserved for the answer.")
    max_sources: int = Field(
        3, ge=1, le=50, description="Sources (merged chunks of one document) given to the LLM."
    )
    source_tokens: int = Field(
        120,
        ge=0,
        description="Each source is cut to its sentences most related to the question, within "
        "this many tokens (0 = whole chunks).",
    )
    origin_languages: list[str] = Field(
        default_factory=lambda: ["zh"],
        description="Prompts in these languages name each source's file in its tag "
        '(origin="guide.pdf"); the others leave it out (~12 prompt tokens per source). '
        "Tune half of the gold sets without it: English answers as often right (60 of 70) at "
        "~0.3 s less to the first token, and no file name echoed into an answer; Chinese "
        "answers fell back to the quote more often (7 against 4 of 53), so Chinese keeps it.",
    )
    focus_by_meaning: int = Field(
        1,
        ge=0,
        description="The best-ranked this many sources are cut to the sentences nearest the "
        "question in meaning (the collection's embedder, one small batch per source: "
        "~0.1 s on 2 cores), the others to the sentences sharing the most content words with "
        "it; 0 = all by shared words. Tune half of the gold sets: the gold answer stays in "
        "the sources for 97 of 109 questions with 1, 96 with all, 91 with 0.",
    )
    attribute: bool = Field(
        True,
        description="Give an answer sentence the model left uncited the number of the source "
        "that supports it (most of its content words; recorded in the answer's 'attributed'), "
        "and move a citation to the source holding a sentence's own words when the cited one "
        "does not ('repointed').",
    )
    source_order: Literal["rank", "best_last"] = Field(
        "best_last",
        description="best_last: the best source is written last, next to the question "
        "(numbers still follow the rank: [1] is the best).",
    )
    gguf_path: Path | None = Field(
        None,
        description="OpenAI-compatible LLMs: a GGUF file whose tokenizer counts prompt tokens "
        "(the embedded model always counts with its own).",
    )
    chars_per_token: float = Field(
        3.5,
        gt=0,
        description="OpenAI-compatible LLMs without gguf_path: estimated characters per token "
        "of non-CJK text (each CJK character counts as one token).",
    )


class KernelConfig(BaseModel):
    """The sections the kernel reads (collections, embedders, stores, search, prompts)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    prompts: PromptSettings = Field(default_factory=PromptSettings)

    @property
    def collections_dir(self) -> Path:
        return self.data_dir / "collections"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def one_line(exc: ValidationError, what: str = "value") -> str:
    """A pydantic validation error as one line naming the first bad field."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "settings"
    return f"invalid {what} {where}: {first['msg']}"
