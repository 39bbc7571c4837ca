"""Prompt construction: templates (prompts/*.yaml), few-shot examples, token-exact context
packing, fencing of retrieved text, and the built ``Prompt`` value."""

from ragline.retrieval.prompting.build import Prompt, PromptBuilder, TokenCounts
from ragline.retrieval.prompting.tokenizers import ApproxTokenizer, LLMTokenizer, load_tokenizer
from ragline.retrieval.types import Message

__all__ = [
    "ApproxTokenizer",
    "LLMTokenizer",
    "Message",
    "Prompt",
    "PromptBuilder",
    "TokenCounts",
    "load_tokenizer",
]
