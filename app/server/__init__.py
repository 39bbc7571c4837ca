"""The HTTP service: ``create_app(settings)`` builds it; ``ragline serve`` runs it."""

from ragline.server.factory import create_app

__all__ = ["create_app"]
