"""ASGI factory for multi-process serving: each worker builds the app from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from ragline.server import create_app
from ragline.settings import load_settings


def build() -> FastAPI:
    return create_app(load_settings())
