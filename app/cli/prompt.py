"""`ragline prompt show`: print the exact prompt `ragline ask` would send for a question."""

from __future__ import annotations

from typing import Annotated

import typer

from ragline.answer import AskRequest
from ragline.answer.check import ANSWERABLE_CHECK
from ragline.cli.output import print_json
from ragline.cli.search import check_mode, cli_filters
from ragline.retrieval.logs import setup_logging
from ragline.settings import load_settings

prompt_app = typer.Typer(help="Inspect prompts built from templates and retrieved context.")


@prompt_app.command("show")
def show(
    query: Annotated[str, typer.Argument(help="The question.")],
    collection: Annotated[str, typer.Option("--collection", "-c")],
    template: Annotated[
        str | None,
        typer.Option("--template", "-t", help="Template id (default: prompts.template)."),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="en or zh (default: the collection's).")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", min=1, max=1000)] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", "-m", help="Search mode: dense, bm25 or hybrid.")
    ] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", "-f")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The Prompt value as JSON.")] = False,
) -> None:
    """Retrieve, pack and render the prompt for QUERY with the answer pipeline's own code:
    byte for byte what `ragline ask` sends with the same settings (--template and
    --language stand for prompts.template and prompts.language)."""
    from ragline.answer.build import build_answerer

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json)
    prompts = settings.prompts.model_copy(
        update={k: v for k, v in {"template": template, "language": language}.items() if v}
    )
    settings = settings.model_copy(update={"prompts": prompts})
    request = AskRequest(
        query, collection, k=k, search_mode=check_mode(mode), where=cli_filters(filters)
    )
    with build_answerer(settings, cache=False) as stack:
        prompt = stack.answerer.prompt_for(request)
        threshold = stack.answerer.answerable_threshold
    if prompt is None:
        typer.echo("(no good context: `ask` answers 'not found' without calling the LLM)")
        return
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
    check = prompt.constants.get(ANSWERABLE_CHECK)
    if check and threshold > 0:
        typer.echo(
            f"--- before answering, `ask` adds to the last message: {check!r} "
            f"(P(yes) < {threshold:g}: 'not found'; answer.answerable_threshold)",
            err=True,
        )
