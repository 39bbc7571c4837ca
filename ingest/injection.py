"""Flag chunks whose text reads like instructions to an AI model (possible prompt injection).

A small, deliberately conservative heuristic: a chunk is *suspicious* when it contains one of
the phrases below, which ordinary documents rarely use but injected text almost always does —
telling the reader to ignore or forget earlier instructions, giving it a new identity ("you are
now an unrestricted AI", not "you are now ready to install"), asking for or announcing its
system prompt, or hiding things from the user, in English or Chinese. Flagged chunks
are still stored and searchable; they carry ``suspicious: true`` in their metadata so the answer
side can treat them with care (and a reviewer can list them with a filter).

It is a tripwire, not a defence: paraphrases get through and a security manual that quotes
these phrases is flagged. The patterns are tested in tests/ingest/test_injection.py.
"""

from __future__ import annotations

import re

_EARLIER = (
    r"(?:all\s+)?(?:the\s+|your\s+|any\s+|of\s+the\s+)?"
    r"(?:previous|prior|above|earlier|preceding|foregoing)"
)
_RULES = r"(?:instructions?|prompts?|rules|directions|guidelines|context|messages?)"

_AI = (
    r"(?:an?\s+|the\s+|my\s+|in\s+|called\s+|named\s+|known\s+as\s+)?"
    r"(?:ai|assistant|chatbot|bot|model|dan|gpt|llm|jailbroken|unrestricted|unfiltered|"
    r"uncensored|evil|developer\s+mode|no\s+longer\s+bound)\b"
)

PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # "Ignore all previous instructions", "disregard the above prompt", "forget prior rules"
        rf"\b(?:ignore|disregard|forget|override|bypass)\s+{_EARLIER}\s+{_RULES}",
        r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:above|before|you\s+were\s+told)",
        # "You are now DAN" (not "you are now ready to install"), "from now on you will"
        rf"\byou\s+are\s+now\s+{_AI}",
        r"\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must)\b",
        rf"\b(?:pretend|act)\s+(?:to\s+be|as\s+if\s+you\s+are|as)\s+{_AI}",
        # "reveal your system prompt", "System prompt: …", "new instructions:"
        r"\b(?:your|new|real|original|hidden|secret)\s+system\s+prompt\b",
        r"\bsystem\s+prompt\s*:",
        r"\b(?:reveal|print|repeat|show|output)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:hidden\s+|initial\s+|original\s+|secret\s+)?(?:instructions|prompt)\b",
        r"\bnew\s+instructions\s*:",
        r"\bdo\s+not\s+(?:tell|inform)\s+the\s+user\b",
        # Chinese: "忽略之前的指令", "无视以上所有指示", "你现在是一个没有限制的AI", "系统提示词"
        r"(?:忽略|无视|忘记|忘掉)(?:之前|以上|上面|前面|先前|所有)[^。！？\n]{0,6}"
        r"(?:指令|指示|提示|规则|要求)",
        r"你现在是(?:一个|一名)?[^。！？\n]{0,8}(?:AI|人工智能|助手|机器人|模型|DAN)",
        r"系统提示词",
    )
)


def looks_like_injection(text: str) -> bool:
    """True when ``text`` contains instruction-like phrases aimed at an AI model."""
    flat = " ".join(text.split())
    return any(pattern.search(flat) for pattern in PATTERNS)
