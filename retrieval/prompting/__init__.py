"""Prompt construction: templates (prompts/*.yaml), few-shot examples, token-exact context
packing, fencing of retrieved text, and the built ``Prompt`` value."""

from retrieval.prompting.build import Prompt, PromptBuilder, TokenCounts
from retrieval.prompting.tokenizers import ApproxTokenizer, LLMTokenizer, load_tokenizer
from retrieval.types import Message

__all__ = [
    "ApproxTokenizer",
    "LLMTokenizer",
    "Message",
    "Prompt",
    "PromptBuilder",
    "TokenCounts",
    "load_tokenizer",
]
