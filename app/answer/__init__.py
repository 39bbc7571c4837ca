"""The answer pipeline: cache → retrieve → prompt → LLM → verified citations → cache."""

from app.answer.pipeline import Answerer, AskRequest
from app.answer.types import Answer, Citation

__all__ = ["Answer", "Answerer", "AskRequest", "Citation"]
