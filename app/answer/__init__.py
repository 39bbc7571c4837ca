"""The answer pipeline: cache → retrieve → prompt → LLM → verified citations → cache.
Build it with ``ragline.answer.build.build_answerer(settings)``."""

from ragline.answer.pipeline import Answerer
from ragline.answer.types import (
    ANSWER_MODES,
    Answer,
    AnswerMode,
    AskRequest,
    Citation,
    Delta,
    Event,
    Generation,
)

__all__ = [
    "ANSWER_MODES",
    "Answer",
    "AnswerMode",
    "Answerer",
    "AskRequest",
    "Citation",
    "Delta",
    "Event",
    "Generation",
]
