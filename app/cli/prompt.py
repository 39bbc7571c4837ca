"""`ragline prompt show`: print the exact prompt that would be sent for a question."""

from __future__ import annotations

from typing import Annotated

import typer

from app.output import print_json
from app.search_cli import cli_search_options
from retrieval.collection import Collection
from retrieval.logs import setup_logging
from retrieval.prompting.build import PromptBuilder
from retrieval.retrievers import search
from retrieval.settings import load_settings

prompt_app = typer.Typer(help="Inspect prompts built from templates and retrieved context.")


@prompt_app.command("show")
def show(
    query: Annotated[str, typer.Argument(help="The question.")],
    collection: Annotated[str, typer.Option("--collection", "-c")],
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Template id (default: settings).")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="en or zh (default: the collection's).")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", min=1, max=1000)] = None,
    mode: Annotated[str | None, typer.Option("--mode", "-m")] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", "-f")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The Prompt value as JSON.")] = False,
) -> None:
    """Retrieve, pack and render the prompt for QUERY, exactly as it would be sent.

    Tokens are counted with the GGUF's tokenizer when prompts.gguf_path is configured,
    else with the approximate tokenizer (prompts.chars_per_token)."""
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json)
    options = cli_search_options(settings, mode, k, filters)
    with Collection.open(collection, settings) as coll:
        result = search(coll, query, options)
        lang = language or settings.prompts.language
        if lang == "auto":
            lang = "zh" if coll.info.language == "zh" else "en"
        embedder = coll.embedder if settings.prompts.example_selection == "similarity" else None
        builder = PromptBuilder.from_settings(settings.prompts, embedder)
        prompt = builder.build(
            query,
            result.hits,
            template=template or settings.prompts.template,
            language=lang,
            context_found=result.context_found,
            policy=result.policy,
        )
    if as_json:
        print_json(prompt.to_dict())
        return
    typer.echo(prompt.render_text())
    t = prompt.tokens
    typer.echo(
        f"\n--- template {prompt.template_id}.{prompt.language} v{prompt.template_version}; "
        f"examples {list(prompt.example_ids)}; chunks {len(prompt.chunk_ids)} packed, "
        f"{len(prompt.dropped)} dropped; tokens {t.prompt} + {t.answer_reserved} reserved "
        f"<= {t.context_window} ({prompt.tokenizer_id}); context found: {prompt.context_found}",
        err=True,
    )
