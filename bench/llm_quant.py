"""Prompt and generation speed of the embedded model per GGUF quantisation type.

The time to the first token is prompt evaluation: on 2 cores the default model (Q4_K_M)
evaluates ~80-100 prompt tokens/s. Some types have faster CPU kernels for prompt batches
(llamafile's tinyBLAS covers Q8_0, Q4_0 and BF16, not the K-quants; ggml's AMX kernels
Q4_0, Q4_1, Q8_0 and the K-quants). This script requantises the bundled GGUF into each type
(``ragline.llm.llama_cpu.requantised``: llama.cpp's own ``llama_model_quantize``, once, into
``--data-dir``), then times, per type, the evaluation of one ~420-token prompt (README text)
and the generation of 24 tokens after it, several times on a warm model (the first pass
after loading is dropped: it reads the weights from disk).

Requantising from Q4_K_M cannot add precision: the types are compared on speed only; a type
that won would be measured on the gold answers (``bench/answer_quality.py``) before use.

Each type is also timed in both weight layouts (``llm.repack_weights``): repacked by llama.cpp
at load into its "extra buffer types" (llama.cpp's own default: AMX tiles where its AMX
kernels are built in, else its CPU_REPACK layout), or left as stored, where prompt batches
take ggml's tiled kernels (AVX2 or AVX512-VNNI).

    .venv/bin/python bench/llm_quant.py [--model qwen2.5-coder-1.5b] [--types q8_0 q4_0 bf16]
        [--layouts plain repacked] [--data-dir /tmp/ragline-llm-quant] [--repeat 4]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, peak_rss_mb, table

PROMPT_TOKENS = 420
GENERATED = 24
TYPES = ("q8_0", "q4_0", "q4_1", "bf16")
LAYOUTS = ("plain", "repacked")


def speed(path: Path, text: str, repeat: int, threads: int, repack: bool) -> dict[str, Any]:
    """Prompt tokens/s and generated tokens/s (median and range over ``repeat`` passes)."""
    import llama_cpp

    from ragline.llm.llama_cpu import model_defaults

    with model_defaults(llama_cpp, use_extra_bufts=repack):
        llm: Any = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=2048,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            verbose=False,
        )
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=False)[:PROMPT_TOKENS]
    prompt_rates, generation_rates = [], []
    for attempt in range(repeat + 1):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prompt_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(GENERATED):
            llm.eval([llm.sample(temp=0.0)])
        generation_s = time.perf_counter() - started
        if attempt:  # the first pass pages the weights in
            prompt_rates.append(len(tokens) / prompt_s)
            generation_rates.append(GENERATED / generation_s)
    llm.close()

    def spread(rates: list[float]) -> str:
        return f"{statistics.median(rates):.0f} ({min(rates):.0f}–{max(rates):.0f})"

    return {
        "prompt tokens": len(tokens),
        "prompt tok/s": spread(prompt_rates),
        "generated tok/s": spread(generation_rates),
        "first token s (p50)": round(len(tokens) / statistics.median(prompt_rates), 2),
        "prompt_rates": prompt_rates,
        "generation_rates": generation_rates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="a bundled model name")
    parser.add_argument("--types", nargs="+", default=list(TYPES), choices=TYPES)
    parser.add_argument(
        "--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS, help="weight layouts"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/ragline-llm-quant"))
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from ragline.llm.llama_cpu import requantised
    from ragline.llm.models import resolve_model
    from ragline.llm.settings import LLMSettings
    from ragline.retrieval.embedders.offline import force_offline

    force_offline()
    source = resolve_model(LLMSettings(model=args.model), args.data_dir).path
    text = (ROOT / "README.md").read_text(encoding="utf-8")[:6000]
    files = {"q4_k_m (bundled)": source}
    converted: dict[str, float] = {}
    for kind in args.types:
        started = time.perf_counter()
        files[kind] = requantised(source, kind, args.data_dir / "models")
        converted[kind] = round(time.perf_counter() - started, 1)
    rows = []
    for label, path in files.items():
        for layout in args.layouts:
            row = {"type": label, "layout": layout, "file MB": path.stat().st_size >> 20}
            row.update(speed(path, text, args.repeat, args.threads, layout == "repacked"))
            rows.append(row)
            print(f"{label} {layout}: {row['prompt tok/s']} prompt tok/s", file=sys.stderr)
    columns = ["type", "layout", "file MB", "prompt tokens", "prompt tok/s", "generated tok/s"]
    columns.append("first token s (p50)")
    print(
        f"machine: {machine()}; {time.strftime('%Y-%m-%d')}; model {args.model}; "
        f"{args.threads} threads; requantised in {converted} s; peak RSS {peak_rss_mb():.0f} MB"
    )
    print()
    print(table(rows, columns))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
