"""The HTTP service: ``create_app(settings)`` builds it; ``ragline serve`` runs it.

``create_app`` is imported on first use, so ``ragline.server.keys`` (the API-key file the
CLI manages) loads without the web stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragline.server.factory import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ragline.server.factory import create_app

        return create_app
    raise AttributeError(f"module 'ragline.server' has no attribute {name!r}")
