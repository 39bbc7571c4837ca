"""`ragline ask`: answer a question from a collection, with verified citations."""

from __future__ import annotations

from typing import Annotated

import typer

from ragline.answer import ANSWER_MODES, Answer, AskRequest
from ragline.cli.output import print_json
from ragline.retrieval.errors import UsageError
from ragline.retrieval.logs import setup_logging
from ragline.settings import load_settings


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: Annotated[str, typer.Option("--collection", "-c")],
    mode: Annotated[
        str,
        typer.Option(
            help="auto (plain, or extractive for the languages answer.extractive_languages "
            "names, by default those the model answers worse than a quote), plain (the LLM "
            "answers), cot, self-consistency, or extractive (no LLM: quote the sources' "
            "best-matching sentences)."
        ),
    ] = "auto",
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
    from ragline.answer.build import build_answerer

    if mode not in ANSWER_MODES:
        raise UsageError(f"unknown mode {mode!r}; choose one of {', '.join(ANSWER_MODES)}")
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json)
    request = AskRequest(question, collection, mode=mode, k=k)
    with build_answerer(settings, cache=not no_cache) as stack:
        if stream and not as_json:
            answer: Answer | None = None
            for event in stack.answerer.stream(request):
                if isinstance(event, Answer):
                    answer = event
                else:
                    typer.echo(event.text, nl=False)
            typer.echo()
            if answer is None:
                return
        else:
            answer = stack.answerer.ask(request)
            if not as_json:
                typer.echo(answer.text)
    if as_json:
        print_json(answer.to_dict())
        return
    _sources(answer)


def _sources(answer: Answer) -> None:
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
