"""`ragline ask`: answer a question from a collection, with verified citations."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from app.output import print_json
from app.runtime import SimplePool, with_cache_fallback
from retrieval.logs import setup_logging
from retrieval.settings import load_settings

Mode = Literal["plain", "cot", "self-consistency"]


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: Annotated[str, typer.Option("--collection", "-c")],
    mode: Annotated[str, typer.Option(help="plain, cot or self-consistency.")] = "plain",
    k: Annotated[
        int | None, typer.Option("--k", "-k", min=1, max=50, help="Sources retrieved.")
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Print the answer as it is written.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole answer record.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the answer cache.")] = False,
) -> None:
    """Retrieve, prompt the LLM, verify the citations, print the answer and its sources."""
    from app.answer import Answer, Answerer, AskRequest
    from app.answer.pipeline import TEMPLATES
    from app.cache import open_cache
    from app.llm import load_llm
    from retrieval.errors import UsageError

    if mode not in TEMPLATES:
        raise UsageError(f"unknown mode {mode!r}; choose one of {', '.join(TEMPLATES)}")
    settings = with_cache_fallback(load_settings())
    setup_logging(settings.log_level, settings.log_json)
    pool = SimplePool(settings)
    llm = load_llm(settings)
    cache = None if no_cache or not settings.cache.enabled else open_cache(settings)
    answerer = Answerer(settings, pool, llm, cache)
    request = AskRequest(question, collection, mode=mode, k=k)  # type: ignore[arg-type]
    try:
        if stream and not as_json:
            answer: Answer | None = None
            for event in answerer.stream(request):
                if isinstance(event, Answer):
                    answer = event
                else:
                    typer.echo(event.text, nl=False)
            typer.echo()
            assert answer is not None
        else:
            answer = answerer.ask(request)
            if not as_json:
                typer.echo(answer.text)
        if as_json:
            print_json(answer.to_dict())
            return
        _sources(answer)
    finally:
        pool.close()
        close = getattr(llm, "close", None)
        if callable(close):
            close()


def _sources(answer: object) -> None:
    from app.answer import Answer

    assert isinstance(answer, Answer)
    for c in answer.citations:
        page = f", page {c.page}" if c.page else ""
        typer.echo(f"[{c.number}] {c.file_name}{page}", err=False)
    notes = []
    if answer.cached:
        notes.append(f"from the {answer.cache_kind} cache")
    if answer.removed_citations:
        notes.append(f"removed citations to missing sources: {answer.removed_citations}")
    if answer.unsupported:
        notes.append(f"{len(answer.unsupported)} sentence(s) not supported by their sources")
    if not answer.context_found:
        notes.append("no good context was found")
    if notes:
        typer.echo("(" + "; ".join(notes) + ")", err=True)
