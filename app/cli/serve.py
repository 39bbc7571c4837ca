"""`ragline serve`: run the HTTP service with uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ragline.retrieval.logs import setup_logging
from ragline.settings import load_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Server processes.")] = None,
) -> None:
    """Serve the chat page, the OpenAI-compatible API, search and document upload."""
    import uvicorn

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v}
    settings = load_settings()
    server = settings.server.model_copy(update=overrides)
    settings = settings.model_copy(update={"server": server})
    setup_logging(
        settings.log_level if settings.log_level != "WARNING" else "INFO", settings.log_json
    )
    if server.workers > 1:
        # Each process builds its own app from the environment (RAGLINE_* and ragline.toml):
        # hand the flags down the same way, so every worker sees the address it serves on
        # (a worker bound beyond loopback refuses to start without an API key).
        for key, value in overrides.items():
            os.environ[f"RAGLINE_SERVER__{key.upper()}"] = str(value)
        uvicorn.run(
            "ragline.asgi:build",
            host=server.host,
            port=server.port,
            workers=server.workers,
            factory=True,
            log_config=None,
        )
    else:
        from ragline.server import create_app

        uvicorn.run(create_app(settings), host=server.host, port=server.port, log_config=None)
