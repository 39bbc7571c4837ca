"""The langchain-tests suites hold un-marked async tests (they expect pytest-asyncio's
``asyncio_mode = auto``): mark them for pytest-asyncio as they are collected."""

from __future__ import annotations

import inspect
from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    if (
        collector.path.name == "test_langchain_adapters.py"
        and name.startswith("test_")
        and inspect.iscoroutinefunction(obj)
        and not any(m.name == "asyncio" for m in getattr(obj, "pytestmark", []))
    ):
        pytest.mark.asyncio(obj)
