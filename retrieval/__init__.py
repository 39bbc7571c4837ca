"""The kernel: domain types, settings, errors, embedders, vector stores and search.

Importing it is cheap: backends (torch, faiss, chromadb) load only when used.
"""

from ragline.retrieval.errors import RaglineError
from ragline.retrieval.types import Chunk, Condition, Document, Filter, Hit, Message

__all__ = ["Chunk", "Condition", "Document", "Filter", "Hit", "Message", "RaglineError"]
