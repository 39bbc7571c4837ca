"""One settings object for the whole stack.

Sources, highest priority first: explicit arguments, ``RAGLINE_*`` environment variables
(nested with ``__``, e.g. ``RAGLINE_INGEST__CHUNK_SIZE=300``), a TOML file
(``RAGLINE_CONFIG`` or ``./ragline.toml``), then the defaults below. Entrypoints build it;
nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ragline.retrieval.errors import ConfigError, UsageError

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


class IngestSettings(BaseModel):
    workers: int = Field(0, ge=0, description="Parser processes; 0 = one per core.")
    max_file_mb: float = Field(100.0, gt=0)
    pdf_ocr: bool = Field(True, description="OCR PDFs without a text layer (tesseract).")
    max_unzipped_mb: float = Field(
        500.0, gt=0, description="Office files that inflate beyond this are refused."
    )
    file_timeout_s: float = Field(
        300.0, gt=0, description="A file whose parsing takes longer fails (the parser is killed)."
    )
    flush_chunks: int = Field(
        256, ge=1, description="Chunks embedded and written per round (bounds memory)."
    )
    image_ocr: bool = Field(
        True, description="Read images (PNG, JPEG, TIFF, BMP, GIF, WebP, HEIC) with OCR."
    )
    ocr_languages: list[str] = Field(
        default_factory=lambda: ["eng", "chi_sim"],
        min_length=1,
        description="Tesseract languages for OCR (installed ones are used; e.g. jpn, kor).",
    )
    office_timeout_s: float = Field(
        120.0, gt=0, description="Longest LibreOffice conversion of a .doc/.ppt/.xls file."
    )
    email_attachments: bool = Field(
        False, description="Ingest e-mail attachments as documents of their own (mail.eml!/a.pdf)."
    )
    max_xml_mb: float = Field(20.0, gt=0, description="Larger XML files are refused.")
    archive_max_depth: int = Field(
        3, ge=1, description="Deepest nesting of archives (and attachments) that is opened."
    )
    archive_max_members: int = Field(
        10_000, ge=1, description="Most files one archive (with what it nests) may hold."
    )
    prune_max_share: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="--prune refuses to remove more than this share of a collection's "
        "documents (unless --force).",
    )


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
        a bad value raises ConfigError naming the field."""
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
    attribute: bool = Field(
        True,
        description="Give an answer sentence the model left uncited the number of the source "
        "that supports it (most of its content words; recorded in the answer's 'attributed').",
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


class LLMSettings(BaseModel):
    backend: Literal["llama-cpp", "openai", "fake"] = Field(
        "llama-cpp",
        description="llama-cpp (embedded GGUF), openai (any OpenAI-compatible server: vLLM, "
        "llama.cpp server, Ollama, hosted) or fake (tests).",
    )
    model: str = Field(
        "qwen2.5-coder-0.5b",
        description="llama-cpp: a bundled model name (qwen2.5-coder-0.5b, smollm2-135m); "
        "openai: the model name the server serves.",
    )
    model_path: Path | None = Field(None, description="llama-cpp: any GGUF file (wins over model).")
    context_window: int = Field(4096, ge=256, description="Context size in tokens (n_ctx).")
    threads: int = Field(0, ge=0, description="llama-cpp CPU threads; 0 = one per core.")
    gpu_layers: int = Field(0, ge=-1, description="llama-cpp layers offloaded to GPU; -1 = all.")
    batch_size: int = Field(512, ge=1, description="llama-cpp prompt batch size (n_batch).")
    reuse_prefix: bool = Field(
        True,
        description="llama-cpp: keep the previous prompt's tokens in the KV cache and evaluate "
        "only what differs (the system message and template are the same for every question).",
    )
    max_queue: int = Field(
        8, ge=0, description="Requests waiting for the embedded model; more get LLMBusy."
    )
    queue_timeout_s: float = Field(
        120.0, gt=0, description="Longest wait for the embedded model before LLMBusy."
    )
    base_url: str = Field("http://127.0.0.1:8000/v1", description="openai: the server's /v1 URL.")
    api_key: SecretStr | None = Field(None, description="openai: bearer token, if any.")
    connect_timeout_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(120.0, gt=0, description="openai: read timeout per response chunk.")
    max_retries: int = Field(
        3,
        ge=0,
        description="openai: retries on 429/5xx/connection errors (the openai SDK's backoff; "
        "a server's Retry-After is honoured).",
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 = no top-k cut.")
    max_new_tokens: int = Field(512, ge=1)
    repetition_penalty: float = Field(1.0, gt=0.0)
    seed: int | None = None


class CacheSettings(BaseModel):
    enabled: bool = True
    redis_url: str = Field(
        "", description="Redis for the answer cache; empty = an in-process LRU cache."
    )
    key_prefix: str = Field("ragline:cache:", description="Prefix of every Redis key.")
    ttl_s: int = Field(86400, ge=0, description="Answer lifetime in seconds; 0 = no expiry.")
    max_entries: int = Field(10000, ge=1, description="Answers kept per namespace (oldest go).")
    memory_max_entries: int = Field(10000, ge=1, description="In-process cache: total answers.")
    semantic: bool = Field(True, description="Reuse answers of paraphrased questions.")
    similarity_threshold: float = Field(0.9, ge=-1.0, le=1.0)
    min_overlap: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Semantic hits: least overlap between retrieved and cited chunk ids.",
    )
    overlap: Literal["cited_share", "jaccard"] = Field(
        "cited_share",
        description="cited_share: share of the cached answer's cited chunks retrieved again; "
        "jaccard: |retrieved ∩ cited| / |retrieved ∪ cited|.",
    )
    socket_timeout_ms: int = Field(50, ge=1, description="Redis calls slower than this bypass.")
    retry_after_s: float = Field(
        5.0, ge=0, description="After a Redis failure, bypass it this long before trying again."
    )
    lock_ttl_ms: int = Field(30000, ge=1, description="Single-flight lock lifetime in Redis.")
    lock_wait_s: float = Field(
        30.0, ge=0, description="How long a request waits for another process's answer."
    )
    cache_sampled: bool = Field(False, description="Also cache answers made with temperature > 0.")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1, description="Server processes.")
    search_batch: int = Field(
        32, ge=1, description="Most concurrent /v1/search requests run as one batch (1 = none)."
    )
    search_threads: int = Field(
        1, ge=1, description="Search batches run at once (each on its own thread)."
    )
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Operator bearer keys (read and write, every collection, not bound to a "
        "tenant: they see every document); tenant keys are made with `ragline keys create`.",
    )
    read_requires_key: bool = Field(
        False,
        description="Reads need a key even while no key exists. Once any key exists (here or "
        "made with `ragline keys`) they always do; a server bound beyond loopback refuses to "
        "start without one.",
    )
    max_upload_mb: float = Field(50.0, gt=0, description="Largest uploaded file.")
    max_upload_files: int = Field(20, ge=1, le=1000, description="Most files in one upload.")
    max_body_kb: int = Field(
        512, ge=1, description="Largest request body of the JSON endpoints (uploads: see above)."
    )
    max_question_chars: int = Field(2000, ge=1)
    max_history_messages: int = Field(
        40, ge=0, description="Earlier messages an answer sees at most (older ones are dropped)."
    )
    max_history_chars: int = Field(
        32000, ge=0, description="Characters of earlier messages an answer sees at most."
    )
    max_k: int = Field(50, ge=1, le=1000, description="Largest k a request may ask for.")
    max_samples: int = Field(
        8, ge=1, le=16, description="Most self-consistency samples one request may ask for."
    )
    max_concurrent_per_key: int = Field(
        4, ge=0, description="Answers one key (or client) may have in flight; 0 = no limit."
    )
    rate_limit_per_minute: int = Field(600, ge=0, description="Per key or client; 0 = off.")
    auth_failures_per_minute: int = Field(
        20, ge=0, description="Requests with a wrong key per client address; 0 = no limit."
    )
    cors_origins: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_long_enough(self) -> ServerSettings:
        if any(len(key.get_secret_value().strip()) < 16 for key in self.api_keys):
            raise ValueError("each server.api_keys entry must be at least 16 characters")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAGLINE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_json: bool = False
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    prompts: PromptSettings = Field(default_factory=PromptSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("RAGLINE_CONFIG", "ragline.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def collections_dir(self) -> Path:
        return self.data_dir / "collections"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from all sources, turning validation errors into one-line ConfigErrors."""
    config = os.environ.get("RAGLINE_CONFIG")
    if config and not Path(config).is_file():
        raise ConfigError(f"RAGLINE_CONFIG points at {config!r}, which is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(one_line(exc, "setting")) from exc


def one_line(exc: ValidationError, what: str = "value") -> str:
    """A pydantic validation error as one line naming the first bad field."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "settings"
    return f"invalid {what} {where}: {first['msg']}"
