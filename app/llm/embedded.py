"""The embedded default: a GGUF model run in-process by llama.cpp (llama-cpp-python).

Consecutive prompts share their opening (the system message and the template's fixed text):
llama-cpp-python keeps the previous prompt's tokens in the KV cache and evaluates only the
part that differs (``reuse_prefix``), so the first token waits for the sources and question
alone. The chat template comes from the GGUF's own metadata (llama-cpp-python's
``Jinja2ChatFormatter``, the same one ``create_chat_completion`` uses); we format and
tokenize the prompt ourselves so prompt tokens are exact and a stopping criterion can
cancel between two tokens. One generation runs at a time; others wait in a bounded queue.
``yes_probability`` reads the first-token distribution of a yes/no question asked after a
prompt that shares its opening with the answer's, so the answer that follows evaluates only
its own few closing tokens.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Generator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from ragline.llm.errors import LLMError, LLMUnavailable
from ragline.llm.gate import GenerationGate
from ragline.llm.llama_cpu import model_defaults, repack_for, requantised
from ragline.llm.types import (
    CancelToken,
    Completion,
    FinishReason,
    GenerationParams,
    StreamingBackend,
    TokenStream,
)
from ragline.retrieval.embedders.offline import force_offline
from ragline.retrieval.types import Message


class LlamaCppLLM(StreamingBackend):
    """``LLM`` over one ``llama_cpp.Llama``; the model loads on first use (or ``load()``)."""

    def __init__(
        self,
        model_path: Path,
        model_id: str,
        *,
        context_window: int = 4096,
        threads: int = 0,
        gpu_layers: int = 0,
        batch_size: int = 512,
        max_queue: int = 8,
        queue_timeout_s: float = 120.0,
        reuse_prefix: bool = True,
        repack_weights: bool | Literal["auto"] = "auto",
        weights: Literal["stored", "q8_0"] = "stored",
        converted_dir: Path | None = None,
    ) -> None:
        self.model_path = model_path
        self.model_id = model_id
        self.context_window = context_window
        self.threads = threads or os.cpu_count() or 1
        self.gpu_layers = gpu_layers
        self.batch_size = batch_size
        self.reuse_prefix = reuse_prefix
        self.repack_weights = repack_weights
        self.weights = weights
        """The weights as stored, or requantised once (to Q8_0) into ``converted_dir``."""
        self.converted_dir = converted_dir or model_path.parent
        self.weights_repacked: bool | None = None
        """Whether the loaded weights were repacked (``repack_weights`` resolved at load)."""
        self.gate = GenerationGate(max_queue, queue_timeout_s, label=f"LLM {model_id}")
        self._load_lock = threading.Lock()
        self._llama: Any = None
        self._formatter: Any = None
        self.tokens_sampled = 0
        """Tokens sampled over this instance's life (tests use it to see generation stop)."""

    # -- loading ------------------------------------------------------------------------
    def load(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                self._llama, self._formatter = self._open()
            return self._llama

    def _open(self) -> tuple[Any, Any]:
        force_offline()
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise LLMUnavailable(
                "the embedded LLM needs llama-cpp-python: pip install llama-cpp-python"
            ) from exc
        try:
            path = self.model_path
            if self.weights != "stored":
                path = requantised(self.model_path, self.weights, self.converted_dir)
            repack = repack_for(self.repack_weights, llama_cpp)
            with model_defaults(llama_cpp, use_extra_bufts=repack):
                llama = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=self.context_window,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    n_gpu_layers=self.gpu_layers,
                    n_batch=min(self.batch_size, self.context_window),
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMUnavailable(f"cannot load GGUF {self.model_path}: {exc}") from exc
        self.weights_repacked = repack
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            llama.close()
            raise LLMUnavailable(f"GGUF {self.model_path.name} has no chat template")
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
        )
        return llama, formatter

    def close(self) -> None:
        with self._load_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    # -- the LLM protocol ---------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self.load().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        *,
        cancel: CancelToken | None = None,
    ) -> TokenStream:
        self.gate.check()  # LLMBusy now, not at the first next()
        return TokenStream(self._run(list(messages), params, cancel))

    # -- one generation -----------------------------------------------------------------
    def _prompt(self, messages: list[Message]) -> tuple[list[int], list[str], Any]:
        llama, formatter = self.load(), self._formatter
        result = formatter(messages=[m.to_dict() for m in messages])
        tokens = llama.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        stop = (
            []
            if result.stop is None
            else [result.stop]
            if isinstance(result.stop, str)
            else list(result.stop)
        )
        return tokens, stop, result.stopping_criteria

    def _budget(self, prompt_tokens: int) -> int:
        """Tokens left to generate after a prompt of ``prompt_tokens`` (LLMError if none)."""
        budget = self.context_window - prompt_tokens
        if budget <= 0:
            raise LLMError(
                f"prompt has {prompt_tokens} tokens, more than the context window "
                f"({self.context_window}, llm.context_window)"
            )
        return budget

    # -- a yes/no judgment --------------------------------------------------------------
    def yes_probability(
        self, messages: Sequence[Message], *, cancel: CancelToken | None = None
    ) -> float:
        """P(yes) / (P(yes) + P(no)) for the first token of the reply to ``messages``
        (the spellings "yes", "Yes", "YES" and with a leading space; the same for no).
        Evaluates the prompt past the part already in the KV cache; generates nothing."""
        with self.gate.enter(cancel) as admitted:
            if not admitted:
                return 1.0
            import llama_cpp
            import numpy as np

            tokens, _stop, _criteria = self._prompt(list(messages))
            self._budget(len(tokens))
            llama = self._llama
            if not self.reuse_prefix:
                llama.reset()
            kept = 0
            for have, want in zip(llama.input_ids[: llama.n_tokens], tokens[:-1], strict=False):
                if have != want:
                    break
                kept += 1
            llama.n_tokens = kept  # eval() drops the KV cache past this point
            llama.eval(tokens[kept:])
            pointer = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).astype(np.float64)
        top = float(logits.max())
        yes = sum(math.exp(logits[i] - top) for i in self._answer_tokens[0])
        no = sum(math.exp(logits[i] - top) for i in self._answer_tokens[1])
        return yes / (yes + no) if yes + no > 0 else 0.5

    @cached_property
    def _answer_tokens(self) -> tuple[set[int], set[int]]:
        """The first token ids of each spelling of "yes", and of "no"."""
        llama = self.load()

        def first(words: Sequence[str]) -> set[int]:
            ids = (llama.tokenize(w.encode(), add_bos=False, special=False) for w in words)
            return {i[0] for i in ids if i}

        return first(("yes", "Yes", "YES", " yes", " Yes")), first(("no", "No", "NO", " no", " No"))

    def _run(
        self, messages: list[Message], params: GenerationParams, cancel: CancelToken | None
    ) -> Generator[str, None, Completion]:
        started = time.perf_counter()
        pieces: list[str] = []
        finish: FinishReason = "cancelled"
        first: float | None = None
        prompt_tokens = 0
        with self.gate.enter(cancel) as admitted:
            if admitted:
                import llama_cpp

                tokens, stop, template_criteria = self._prompt(messages)
                prompt_tokens = len(tokens)
                budget = self._budget(prompt_tokens)

                def should_stop(_ids: Any, _logits: Any) -> bool:
                    self.tokens_sampled += 1
                    return cancel is not None and cancel.cancelled

                if not self.reuse_prefix:
                    self._llama.reset()  # evaluate the whole prompt again
                criteria = llama_cpp.StoppingCriteriaList([should_stop])
                if template_criteria is not None:
                    criteria.extend(template_criteria)
                chunks = self._llama.create_completion(
                    prompt=tokens,
                    max_tokens=min(params.max_new_tokens, budget),
                    temperature=params.temperature,
                    top_p=params.top_p,
                    top_k=params.top_k,
                    min_p=0.0,
                    repeat_penalty=params.repetition_penalty,
                    seed=params.seed,
                    stop=stop + list(params.stop),
                    stopping_criteria=criteria,
                    stream=True,
                )
                finish = "length"
                try:
                    for chunk in chunks:
                        choice = chunk["choices"][0]
                        if choice["text"]:
                            first = first if first is not None else time.perf_counter()
                            pieces.append(choice["text"])
                            yield choice["text"]
                        if choice["finish_reason"] is not None:
                            finish = "stop" if choice["finish_reason"] == "stop" else "length"
                        if cancel is not None and cancel.cancelled:
                            break
                finally:
                    chunks.close()  # stops llama.cpp's token loop when the consumer leaves
                if cancel is not None and cancel.cancelled:
                    finish = "cancelled"
        text = "".join(pieces)
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=self.count_tokens(text) if text else 0,
            finish_reason=finish,
            model_id=self.model_id,
            seconds=time.perf_counter() - started,
            time_to_first_token=None if first is None else first - started,
        )
