"""The in-memory fake store of the unit tests passes the same contract as every real backend
(as Haystack runs its in-memory document store through its store test suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.retrieval.fakes import MemoryStore, memory_store
from tests.retrieval.stores.contract import DIM, StoreFactory, VectorStoreContract


class TestMemoryStore(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        def factory() -> MemoryStore:
            return memory_store(tmp_path / "store", DIM)

        return factory
