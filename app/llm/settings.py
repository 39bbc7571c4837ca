"""The LLM layer's settings section, and :class:`LLMConfig`, what loading an LLM reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field, SecretStr

from ragline.retrieval.settings import PromptSettings


class LLMSettings(BaseModel):
    backend: Literal["llama-cpp", "openai", "fake"] = Field(
        "llama-cpp",
        description="llama-cpp (embedded GGUF), openai (any OpenAI-compatible server: vLLM, "
        "llama.cpp server, Ollama, hosted) or fake (tests).",
    )
    model: str = Field(
        "qwen2.5-coder-1.5b",
        description="llama-cpp: a bundled model name (qwen2.5-coder-1.5b, the faster and less "
        "often right qwen2.5-coder-0.5b, smollm2-135m for smoke tests); "
        "openai: the model name the server serves.",
    )
    model_path: Path | None = Field(None, description="llama-cpp: any GGUF file (wins over model).")
    context_window: int = Field(4096, ge=256, description="Context size in tokens (n_ctx).")
    threads: int = Field(0, ge=0, description="llama-cpp CPU threads; 0 = one per core.")
    gpu_layers: int = Field(0, ge=-1, description="llama-cpp layers offloaded to GPU; -1 = all.")
    batch_size: int = Field(512, ge=1, description="llama-cpp prompt batch size (n_batch).")
    repack_weights: bool | Literal["auto"] = Field(
        "auto",
        description="llama-cpp: let llama.cpp repack the weights at load into its 'extra buffer "
        "types' (AMX tiles where its AMX kernels are built in, else its CPU_REPACK layout). "
        "auto: repack only where the AMX kernels are built in (a native build on a CPU with "
        "AMX); elsewhere the stored layout evaluates prompts faster (docs/benchmarks.md).",
    )
    weights_type: Literal["auto", "stored", "q8_0"] = Field(
        "auto",
        description="llama-cpp: the weights' quantisation type. q8_0: requantised once into "
        "data_dir/models (seconds; 8 bits hold Q4_K_M's values nearly exactly; 1.8 GB for "
        "the default model instead of 1.1 GB), the fastest type on AMX tiles. auto: q8_0 for "
        "a bundled model where llama.cpp's AMX kernels are built in, else as stored.",
    )
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


class LLMConfig(Protocol):
    """The sections :func:`ragline.llm.registry.load_llm` reads (the answer stack has them)."""

    @property
    def llm(self) -> LLMSettings: ...

    @property
    def prompts(self) -> PromptSettings: ...

    @property
    def data_dir(self) -> Path: ...
